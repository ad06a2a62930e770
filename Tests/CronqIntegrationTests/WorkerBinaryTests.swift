import CronqTestSupport
import Foundation
import Testing

/// The worker's memory budget depends on what it links (docs/decisions.md, "The worker without
/// Foundation"): one `import Foundation` or swift-crypto in a module it links brings 7 MiB back.
@Suite("Worker binary")
struct WorkerBinaryTests {
    /// The shared libraries `ldd` resolves for a built executable, by file name.
    static func libraries(_ executable: String) throws -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
        p.arguments = [Repo.root + "/.build/debug/" + executable]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "ldd \(executable)")
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            $0.split(separator: " ").first.map { String($0.trimmingCharacters(in: .whitespaces)) }
        }
    }

    @Test("the worker links FoundationEssentials, not Foundation or ICU; the ticker has the zone database")
    func linked() throws {
        let worker = try Self.libraries("cronq-worker")
        #expect(worker.contains("libFoundationEssentials.so"), "\(worker)")
        #expect(worker.contains("libcrypto.so.3") && worker.contains("libcurl.so.4"), "\(worker)")
        for heavy in ["libFoundation.so", "libFoundationInternationalization.so", "lib_FoundationICU.so"] {
            #expect(!worker.contains(heavy), "the worker links \(heavy) again")
        }
        // The ticker evaluates schedules in named zones: it must have ICU's database.
        let ticker = try Self.libraries("cronq-ticker")
        #expect(ticker.contains("libFoundationInternationalization.so"), "\(ticker)")
    }
}
