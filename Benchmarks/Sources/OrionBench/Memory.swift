// Peak memory of a 1,000,000-row query: each contender in a fresh process, its peak RSS
// against its RSS just before the query, and the size of the decoded array itself.
import Foundation
import GRDB
import Orion

/// The process's peak resident set so far, in bytes.
func peakRSS() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

/// The process's resident set now, in bytes.
func currentRSS() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
    else { return 0 }
    return kb * 1024
}

let memoryRows = 1_000_000

func benchMemory() throws {
    let path = work.appendingPathComponent("memory.db").path
    // Short names: small strings, kept inline in the array.
    try makeItems(path: path, count: memoryRows) { "item \($0)" }
    let array = memoryRows * MemoryLayout<Item>.stride
    print("\n### Peak memory of a \(memoryRows)-row query into [Item] (a fresh process each; names are small strings, kept inline)")
    print("| contender | peak RSS over the RSS before the query | × the decoded array (\(array / 1_000_000) MB) |")
    print("| --- | ---: | ---: |")
    for contender in ["Orion query", "GRDB Item.fetchAll (Decodable)", "GRDB RowItem.fetchAll (init(row:))"] {
        var samples: [Int] = []
        for _ in 0..<max(1, rounds / 2) {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            child.arguments = ["memory-child", path, contender]
            let pipe = Pipe()
            child.standardOutput = pipe
            try child.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            child.waitUntilExit()
            if let line = output.split(separator: "\n").first(where: { $0.hasPrefix("grew ") }), let grew = Int(line.dropFirst(5)) {
                samples.append(grew)
            }
        }
        let grew = samples.sorted()[samples.count / 2]
        record(
            "Peak RSS of a 1,000,000-row query (× the decoded array)", contender, unit: "× the decoded array",
            samples: samples.map { Double($0) / Double(array) }, target: contender == "Orion query" ? 1.3 : nil)
        print("| \(contender) | \(grew / 1_000_000) MB | \(String(format: "%.2f", Double(grew) / Double(array)))× |")
    }
}

func memoryChild(path: String, contender: String) throws {
    let sql = "select id, name, qty, price from items order by id"
    var count = 0
    switch contender {
    case "Orion query":
        let store = try SQLiteStore(path: path)
        let _: Int? = try store.one("select count(*) from items")
        let before = currentRSS()
        let rows: [Item] = try store.query(sql)
        count = rows.count
        print("grew \(peakRSS() - before)")
    case "GRDB Item.fetchAll (Decodable)":
        let queue = try DatabaseQueue(path: path)
        let before = currentRSS()
        let rows = try queue.read { try Item.fetchAll($0, sql: sql) }
        count = rows.count
        print("grew \(peakRSS() - before)")
    default:
        let queue = try DatabaseQueue(path: path)
        let before = currentRSS()
        let rows = try queue.read { try RowItem.fetchAll($0, sql: sql) }
        count = rows.count
        print("grew \(peakRSS() - before)")
    }
    precondition(count == memoryRows)
}
