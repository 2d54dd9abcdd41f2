import Foundation
import Hummingbird
import HummingbirdTesting
import Orion
import Testing

@testable import TodoBoard

@Suite("The same app on PostgreSQL", .enabled(if: PG.url != nil, "ORION_POSTGRES_URL is not set; scripts/test sets it when PostgreSQL is installed"))
struct PostgresTests {
    @Test("CI runs these, never skips them")
    func ciHasPostgres() {
        if ProcessInfo.processInfo.environment["CI"] != nil { #expect(PG.url != nil) }
    }

    @Test("forms, pages and error answers work unchanged on PostgreSQL")
    func routes() async throws {
        let harness = try Harness(postgres: try PG.freshDatabase())
        #expect(harness.backend.dialect == .postgres)
        try await harness.test(.router) { client async throws in
            #expect(try await client.post("/people", ["name": "Ann"]).status == .seeOther)
            #expect(try await client.post("/todos", ["title": "buy milk", "owner": "1"]).status == .seeOther)
            #expect(try await client.post("/todos/1/toggle", [:]).status == .seeOther)
            #expect(try await client.post("/todos", ["title": "walk the dog"]).status == .seeOther)
            #expect(try await client.post("/todos/2/rename", ["title": "walk the cat"]).status == .seeOther)
            let board = try await client.get("/").text
            #expect(board.contains("1 of 2 done"))
            #expect(board.contains("value=\"walk the cat\""))
            #expect(board.contains("<span class=\"owner\">Ann</span>"))
            #expect(try await client.post("/todos/2/delete", [:]).status == .seeOther)
            #expect(try await client.post("/todos", ["title": ""]).status == .unprocessableContent)
            #expect(try await client.post("/todos/9/toggle", [:]).status == .notFound)
            #expect(try await client.post("/people", ["name": "Ann"]).status == .conflict)
            #expect(try harness.titles() == ["buy milk"])
            #expect(try harness.peopleCount() == 1)
        }
    }

    @Test("a constraint failure's values stay out of the query panel (PostgreSQL's detail names them)")
    func panelWithoutValues() async throws {
        let harness = try Harness(postgres: try PG.freshDatabase())
        try People.add(harness.backend.people, "Zelda-4417")
        #expect(throws: StoreError.self) { try People.add(harness.backend.people, "Zelda-4417") }
        try await harness.test(.router) { client async throws in
            let panel = try await client.get("/_orion/queries").text
            #expect(panel.contains("insert into people (name) values (?)"))
            #expect(!panel.contains("Zelda"))
            #expect(!panel.contains("4417"))
        }
    }

    @Test("viewers of a board on PostgreSQL receive each commit (LISTEN/NOTIFY)")
    func liveBoard() async throws {
        let harness = try Harness(postgres: try PG.freshDatabase())
        try await harness.test(.live) { client async throws in
            let url = "http://127.0.0.1:\(client.port!)/events"
            let viewers = (0..<3).map { _ in Viewer(url: url) }
            for viewer in viewers { #expect(await viewer.waitFor { ($0.data ?? "").contains("0 of 0 done") }) }
            #expect(try await client.post("/todos", ["title": "from postgres"]).status == .seeOther)
            for viewer in viewers { #expect(await viewer.waitFor { ($0.data ?? "").contains("value=\"from postgres\"") }) }
            for viewer in viewers { viewer.leave() }
        }
    }
}
