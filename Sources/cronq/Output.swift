import Foundation

enum FileHandleOutput {
    static func stderr(_ message: String) {
        FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
    }
}

extension FileHandleOutput {
    /// Without adding a newline (progress lines, prompts).
    static func stderrRaw(_ message: String) {
        FileHandle.standardError.write(Data(message.utf8))
    }
}
