import Foundation

enum FileHandleOutput {
    static func stderr(_ message: String) {
        FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
    }
}
