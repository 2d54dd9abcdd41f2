import Foundation
import Testing

@testable import Orion

@Suite("Crash safety: SIGKILL at random points")
struct CrashTests {
    struct Config: Sendable, CustomTestStringConvertible {
        let queue: Bool
        let synchronous: String
        var testDescription: String { "\(queue ? "queue" : "no queue"), synchronous \(synchronous)" }
    }

    struct Incomplete: Decodable {
        let batch: Int
    }

    @Test(
        "after each kill the file is intact, every acknowledged write is there, and no transaction is partial",
        arguments: [
            Config(queue: true, synchronous: "normal"), Config(queue: true, synchronous: "full"),
            Config(queue: false, synchronous: "normal"), Config(queue: false, synchronous: "full"),
        ])
    func kills(config: Config) throws {
        let dir = TempDir()
        let path = dir.path()
        var kills = 0
        var lastAcked = 0
        for round in 0..<13 {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: builtExecutable("OrionTestChild"))
            child.arguments = ["crash", path, config.queue ? "queue" : "plain", config.synchronous]
            let pipe = Pipe()
            child.standardOutput = pipe
            try child.run()
            usleep(UInt32.random(in: 20_000...(round.isMultiple(of: 2) ? 80_000 : 250_000)))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            #expect(child.terminationReason == .uncaughtSignal, "the child ended on its own: \(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
            kills += 1
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(!output.contains("error:"), "\(output)")
            for line in output.split(separator: "\n") where line.hasPrefix("acked ") {
                lastAcked = max(lastAcked, Int(line.dropFirst(6)) ?? 0)
            }

            let store = try SQLiteStore(path: path)
            defer { try? store.close() }
            #expect(try store.one("pragma integrity_check") == "ok")
            let hasTable: Int? = try store.one("select count(*) from sqlite_schema where name = 'crash'")
            guard hasTable == 1 else { continue }
            let maxN: Int = try store.one("select coalesce(max(n), 0) from crash") ?? -1
            let count: Int = try store.one("select count(*) from crash") ?? -1
            #expect(maxN >= lastAcked, "acknowledged \(lastAcked) but only \(maxN) survived")
            #expect(count == maxN, "the surviving writes are not a prefix: a batch was partly kept")
            let partial: [Incomplete] = try store.query(
                "select batch from crash group by batch having count(*) != max(size)")
            #expect(partial.isEmpty, "transactions kept in part: \(partial.map(\.batch))")
        }
        #expect(kills == 13)
        #expect(lastAcked > 0, "the child never acknowledged a write; the test proved nothing")
    }
}
