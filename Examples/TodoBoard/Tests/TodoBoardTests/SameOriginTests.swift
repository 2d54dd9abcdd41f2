import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOHTTP1
import Orion
import Testing

@testable import TodoBoard

@Suite("What another web site can make a browser do here", .serialized)
struct SameOriginTests {
    /// Sends a request over a real connection with exactly these headers.
    func send(_ port: Int, _ method: HTTPMethod, _ path: String, _ headers: [(String, String)], form body: String? = nil) async throws -> (HTTPResponseStatus, String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        if let body {
            request.headers.replaceOrAdd(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await streams.execute(request, timeout: .seconds(10))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        return (response.status, text)
    }

    @Test("a form posted from another origin is refused with 403 and writes nothing; the board's own passes")
    func crossSiteForms() async throws {
        let harness = try Harness()
        try await harness.test(.live) { client async throws in
            let port = client.port!
            let foreign = try await send(port, .POST, "/todos", [("Origin", "https://evil.example")], form: "title=x")
            #expect(foreign.0 == .forbidden)
            #expect(foreign.1.contains("A form from “https://evil.example” cannot change this board"))
            #expect(try await send(port, .POST, "/todos/1/delete", [("Sec-Fetch-Site", "cross-site")], form: "").0 == .forbidden)
            #expect(try await send(port, .POST, "/todos", [("Sec-Fetch-Site", "same-site")], form: "title=x").0 == .forbidden)
            #expect(try await send(port, .POST, "/todos", [("Origin", "null")], form: "title=x").0 == .forbidden)
            #expect(try await send(port, .POST, "/todos", [("Origin", "http://127.0.0.1:\(port + 1)")], form: "title=x").0 == .forbidden)
            #expect(try harness.todoCount() == 0)
            let own = try await send(
                port, .POST, "/todos", [("Origin", "http://127.0.0.1:\(port)"), ("Sec-Fetch-Site", "same-origin")], form: "title=mine")
            #expect(own.0 == .seeOther)
            #expect(try await send(port, .POST, "/todos", [], form: "title=curl").0 == .seeOther)
            #expect(try harness.titles() == ["mine", "curl"])
        }
    }

    @Test("on a loopback address, a request for another host name is refused (DNS rebinding)")
    func foreignHost() async throws {
        let harness = try Harness()
        try await harness.test(.live) { client async throws in
            let port = client.port!
            let foreign = try await send(port, .GET, "/_orion/queries", [("Host", "rebound.example:\(port)")])
            #expect(foreign.0 == .forbidden)
            #expect(foreign.1.contains("answers to its addresses, localhost only"))
            #expect(try await send(port, .GET, "/", [("Host", "localhost:\(port)")]).0 == .ok)
            #expect(try await send(port, .GET, "/", [("Host", "127.0.0.1:\(port)")]).0 == .ok)
            #expect(try await send(port, .GET, "/", [("Host", "[::1]:\(port)")]).0 == .ok)
        }
    }

    /// A name that starts like a loopback address is a name: its owner can point it here.
    @Test(
        "names that only look like loopback addresses are refused, with their forms too",
        arguments: ["127.0.0.1.attacker.example", "127.attacker.example", "localhost.attacker.example", "127.0.0.1.", "[::1].example"])
    func lookalikeHosts(host: String) async throws {
        let harness = try Harness()
        try await harness.test(.live) { client async throws in
            let port = client.port!
            #expect(try await send(port, .GET, "/", [("Host", "\(host):\(port)")]).0 == .forbidden)
            let form = try await send(
                port, .POST, "/people", [("Host", "\(host):\(port)"), ("Origin", "http://\(host):\(port)")], form: "name=Mallory")
            #expect(form.0 == .forbidden)
            #expect(try harness.peopleCount() == 0)
        }
    }

    @Test("listening on every address (0.0.0.0), a foreign name is still refused; addresses and HOST_NAMES pass")
    func everyAddress() {
        let guardOf = SameOrigin<BasicRequestContext>(listeningOn: "0.0.0.0", names: ["board.lan"])
        #expect(guardOf.names == ["board.lan"])
        let named = SameOrigin<BasicRequestContext>(listeningOn: "myhost.lan")
        #expect(named.names == ["myhost.lan"])
        for address in ["10.0.0.5", "127.0.0.1", "[::1]", "[fe80::1]"] { #expect(SameOrigin<BasicRequestContext>.isAddress(SameOrigin<BasicRequestContext>.hostname(address + ":80"))) }
        for name in ["rebound.example", "127.0.0.1.attacker.example", "10.0.0.5.example"] { #expect(!SameOrigin<BasicRequestContext>.isAddress(name)) }
    }

    @Test("a name given in HOST_NAMES is answered; a bad one stops the app with a sentence")
    func configuredNames() async throws {
        var settings = try Settings(environment: ["HOST_NAMES": "todo.local, board.lan"])
        #expect(settings.hostNames == ["todo.local", "board.lan"])
        #expect(throws: Settings.Problem.self) { try Settings(environment: ["HOST_NAMES": "todo.local:8080"]) }
        let harness = try Harness(hostNames: settings.hostNames)
        settings = harness.settings
        try await harness.test(.live) { client async throws in
            let port = client.port!
            #expect(try await send(port, .GET, "/", [("Host", "todo.local:\(port)")]).0 == .ok)
            #expect(try await send(port, .GET, "/", [("Host", "Board.LAN:\(port)")]).0 == .ok)
            #expect(try await send(port, .GET, "/", [("Host", "todo.local.attacker.example:\(port)")]).0 == .forbidden)
        }
    }
}
