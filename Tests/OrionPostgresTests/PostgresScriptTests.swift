import Foundation
import Orion
import OrionPostgres
import Testing

/// `scripts/postgres`, the throwaway cluster the README's test command starts: from folders a
/// user really has.
@Suite("scripts/postgres starts its cluster wherever TMPDIR points", .enabled(if: PG.available, PG.skipReason), .serialized)
struct PostgresScriptTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `scripts/postgres` with `arguments` and `TMPDIR`; its standard output and status.
    ///
    /// Through posix_spawn and waitpid, not Foundation's `Process`: the server the script starts
    /// keeps every descriptor it was given, and `Process` on Linux learns that its child ended
    /// only when those are all closed (it would wait for the server to stop).
    static func script(_ arguments: [String], tmpdir: String) throws -> (output: String, status: Int32) {
        let path = root.appendingPathComponent("scripts/postgres").path
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("orion-script-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = tmpdir
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid = pid_t()
        guard posix_spawn(&pid, path, &actions, nil, argv, envp) == 0 else {
            throw StoreError(.io, "could not start scripts/postgres")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = String(decoding: FileManager.default.contents(atPath: output) ?? Data(), as: UTF8.self)
        return (text, (status >> 8) & 0xff)
    }

    static func export(_ name: String, in output: String) -> String? {
        for line in output.split(separator: "\n") where line.hasPrefix("export \(name)='") {
            return String(line.dropFirst("export \(name)='".count).dropLast())
        }
        return nil
    }

    /// Starts a cluster with `tmpdir`, connects to it, stops it.
    static func startAndConnect(tmpdir: String) throws {
        let (output, status) = try script(["start"], tmpdir: tmpdir)
        #expect(status == 0, "scripts/postgres start failed with TMPDIR=\(tmpdir)")
        let folder = try #require(export("ORION_POSTGRES_DIR", in: output))
        let url = try #require(export("ORION_POSTGRES_URL", in: output))
        defer { _ = try? script(["stop", folder], tmpdir: tmpdir) }
        let store = try PostgresStore(url: url, poolSize: 1)
        #expect(try store.one("select 1") == 1)
        store.close()
    }

    @Test("a TMPDIR with a space in its name")
    func spaceInTMPDIR() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("orion tests \(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.startAndConnect(tmpdir: folder.path)
    }

    @Test("as root, a private TMPDIR (mode 0700) that the server's user cannot enter", .enabled(if: geteuid() == 0, "needs root"))
    func privateTMPDIR() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("orion-private-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.startAndConnect(tmpdir: folder.path)
    }
}
