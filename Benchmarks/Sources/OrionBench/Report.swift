// The harness's results: every figure a workload measured, written as JSON and drawn as an SVG
// chart (each contender's ratio to raw C per workload, on a log scale, targets marked).
//   swift run -c release OrionBench report [--quick]   (or ../scripts/bench [--quick])
import Foundation
import RawSQLite

/// One contender's figure in one workload.
struct Figure: Codable {
    let workload: String
    let contender: String
    /// What a sample measures: "µs per read", "transfers/s", "× the decoded array"…
    let unit: String
    let median: Double
    let min: Double
    let max: Double
    let samples: Int
    /// Whether a smaller figure is better (times) or a larger one (throughput).
    let lowerIsBetter: Bool
    /// The contender the workload's ratios are taken against (raw C where there is one).
    let baseline: String?
    /// How many times slower than the baseline (1 = as fast; below 1 = faster).
    var ratio: Double?
    /// The issue's target for this ratio, when there is one.
    let target: Double?
    /// What the figure means or why a peer is missing.
    let note: String?
}

/// The figures of this run, in the order they were measured.
nonisolated(unsafe) var figures: [Figure] = []

/// Records a workload's samples for one contender (median, min, max).
func record(
    _ workload: String, _ contender: String, unit: String, samples: [Double], lowerIsBetter: Bool = true,
    baseline: String? = nil, target: Double? = nil, note: String? = nil
) {
    let sorted = samples.sorted()
    guard !sorted.isEmpty else { return }
    figures.append(
        Figure(
            workload: workload, contender: contender, unit: unit, median: median(sorted), min: sorted.first!, max: sorted.last!,
            samples: sorted.count, lowerIsBetter: lowerIsBetter, baseline: baseline, ratio: nil, target: target, note: note))
}

/// A workload a peer cannot run, said in the table.
func recordMissing(_ workload: String, _ contender: String, because note: String) {
    figures.append(
        Figure(
            workload: workload, contender: contender, unit: "", median: .nan, min: .nan, max: .nan, samples: 0, lowerIsBetter: true,
            baseline: nil, ratio: nil, target: nil, note: note))
}

/// The ratio of each figure to its workload's baseline: how many times slower.
func computeRatios() {
    for i in figures.indices {
        guard let baseline = figures[i].baseline, figures[i].samples > 0,
            let base = figures.first(where: { $0.workload == figures[i].workload && $0.contender == baseline })
        else { continue }
        figures[i].ratio = figures[i].lowerIsBetter ? figures[i].median / base.median : base.median / figures[i].median
    }
    // A figure that is itself a ratio (peak memory over the decoded array) is its own.
    for i in figures.indices where figures[i].unit.hasPrefix("×") && figures[i].samples > 0 {
        figures[i].ratio = figures[i].median
    }
    // Targets stated against another contender's ratio: the Decodable 1,000-row read against
    // the Decodable floor.
    for (workload, contender, other, factor) in relativeTargets {
        guard let i = figures.firstIndex(where: { $0.workload == workload && $0.contender == contender }),
            let floor = figures.first(where: { $0.workload == workload && $0.contender == other })?.ratio
        else { continue }
        figures[i] = Figure(
            workload: figures[i].workload, contender: contender, unit: figures[i].unit, median: figures[i].median, min: figures[i].min,
            max: figures[i].max, samples: figures[i].samples, lowerIsBetter: figures[i].lowerIsBetter, baseline: figures[i].baseline,
            ratio: figures[i].ratio, target: floor * factor, note: "target: \(factor)× \(other)")
    }
}

/// Targets stated as a factor of another contender's ratio in the same workload.
nonisolated(unsafe) var relativeTargets: [(workload: String, contender: String, other: String, factor: Double)] = []

struct Machine: Codable {
    let cpus: Int
    let model: String
    let memoryGiB: Int
    let kernel: String
}

struct ReportFile: Codable {
    let date: String
    let quick: Bool
    let rounds: Int
    let machine: Machine
    let versions: [String: String]
    let command: String
    let figures: [Figure]
}

func machine() -> Machine {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model =
        cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
        .map { String($0.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces) } ?? "unknown"
    let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
    let kb = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal") }.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
    var name = utsname()
    uname(&name)
    let kernel = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    return Machine(cpus: ProcessInfo.processInfo.activeProcessorCount, model: model, memoryGiB: (kb + 512 * 1024) / (1024 * 1024), kernel: kernel)
}

/// Writes `<name>.json` and `<name>.svg` into Benchmarks/results.
func writeReport(name: String, quick: Bool, versions: [String: String]) throws {
    computeRatios()
    let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("results")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let formatter = ISO8601DateFormatter()
    let file = ReportFile(
        date: formatter.string(from: Date()), quick: quick, rounds: rounds, machine: machine(), versions: versions,
        command: (["OrionBench"] + CommandLine.arguments.dropFirst()).joined(separator: " "), figures: figures)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    try encoder.encode(file).write(to: folder.appendingPathComponent("\(name).json"))
    try chart(file).write(to: folder.appendingPathComponent("\(name).svg"), atomically: true, encoding: .utf8)
    print("\nwrote \(folder.path)/\(name).json and \(name).svg")
}

/// The chart: one row per contender with a ratio, grouped by workload, bars on a log scale from
/// 1× (as fast as the baseline), a target drawn as a red mark.
func chart(_ file: ReportFile) -> String {
    let rows = file.figures.filter { $0.ratio != nil }
    let left = 470.0
    let plot = 520.0
    let rowHeight = 18.0
    let maxRatio = 64.0
    let minRatio = 1.0 / 16
    func x(_ ratio: Double) -> Double {
        left + plot * (log2(Swift.max(minRatio, Swift.min(maxRatio, ratio))) - log2(minRatio)) / (log2(maxRatio) - log2(minRatio))
    }
    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
    var body = ""
    var y = 60.0
    var workload = ""
    for figure in rows {
        if figure.workload != workload {
            workload = figure.workload
            y += 8
            body += "<text x=\"8\" y=\"\(y + 12)\" font-weight=\"bold\">\(escape(workload))</text>\n"
            y += rowHeight
        }
        let ratio = figure.ratio!
        let isOrion = ["Orion", "PostgresStore", "SQLiteStore", "InstrumentedStore", "scoped"].contains { figure.contender.hasPrefix($0) }
        let color = figure.contender == figure.baseline ? "#888" : isOrion ? "#2a6fdb" : "#e0a030"
        let x0 = x(1)
        let x1 = x(ratio)
        body += "<text x=\"16\" y=\"\(y + 13)\">\(escape(figure.contender))</text>\n"
        body += "<rect x=\"\(Swift.min(x0, x1))\" y=\"\(y + 3)\" width=\"\(Swift.max(1, abs(x1 - x0)))\" height=\"\(rowHeight - 6)\" fill=\"\(color)\"/>\n"
        body += "<text x=\"\(x(maxRatio) + 8)\" y=\"\(y + 13)\">\(String(format: "%.2f", ratio))×</text>\n"
        if let target = figure.target {
            body += "<line x1=\"\(x(target))\" x2=\"\(x(target))\" y1=\"\(y + 1)\" y2=\"\(y + rowHeight - 1)\" stroke=\"#d00\" stroke-width=\"3\"/>\n"
        }
        y += rowHeight
    }
    var axis = ""
    for tick in [0.0625, 0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64] {
        axis += "<line x1=\"\(x(tick))\" x2=\"\(x(tick))\" y1=\"40\" y2=\"\(y)\" stroke=\"#ddd\"/>\n"
        axis += "<text x=\"\(x(tick))\" y=\"36\" text-anchor=\"middle\">\(tick < 1 ? "1/\(Int(1 / tick))" : String(Int(tick)))×</text>\n"
    }
    let title =
        "Orion beside its peers: cost per operation against each workload's baseline (raw C, libpq in C, pgbench), log scale; red: the target. \(file.machine.cpus) cores, \(file.date.prefix(10))\(file.quick ? ", quick run" : "")"
    return """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(left + plot + 80))" height="\(Int(y + 20))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="8" y="18" font-size="13">\(escape(title))</text>
        \(axis)<line x1="\(x(1))" x2="\(x(1))" y1="40" y2="\(y)" stroke="#444"/>
        \(body)</svg>

        """
}

/// The versions the figures depend on.
func benchVersions() -> [String: String] {
    var versions = [
        "sqlite (libsqlite3, raw C and Orion)": String(cString: raw_sqlite_version()),
        "GRDB.swift": "7.10.0",
    ]
    if let swift = ProcessInfo.processInfo.environment["ORION_BENCH_SWIFT"] { versions["swift"] = swift }
    if let postgres = ProcessInfo.processInfo.environment["ORION_BENCH_POSTGRES"] { versions["postgresql"] = postgres }
    for (name, version) in peerVersions { versions[name] = version }
    return versions
}

/// Versions the peers report at run time (SQLiteNIO's own SQLite among them).
nonisolated(unsafe) var peerVersions: [String: String] = [:]
