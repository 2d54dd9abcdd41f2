import Foundation
import Hummingbird
import HummingbirdTesting
import Orion
import Testing

@testable import TodoBoard

@Suite("The dev query panel")
struct PanelTests {
    @Test("the panel lists the statements the app ran, and never a parameter's value")
    func statementsWithoutValues() async throws {
        let harness = try Harness()
        try await harness.test(.router) { client async throws in
            _ = try await client.post("/people", ["name": "Zelda-4417"])
            _ = try await client.post("/todos", ["title": "hunter2-secret", "owner": "1"])
            _ = try await client.post("/todos/1/rename", ["title": "another-secret-title"])
            _ = try await client.get("/")
            let panel = try await client.get("/_orion/queries")
            #expect(panel.status == .ok)
            let text = panel.text
            #expect(text.contains("insert into todos (title, owner_id) values (?, ?)"))
            #expect(text.contains("select id, title, done, owner_id from todos order by id"))
            #expect(text.contains("<td>todos</td>"), "the feature of each call")
            #expect(!text.contains("hunter2"))
            #expect(!text.contains("another-secret"))
            #expect(!text.contains("Zelda"))
            #expect(!text.contains("4417"))
        }
    }

    @Test("with ORION_QUERY_SAMPLE=0 nothing is recorded, and the panel says so")
    func instrumentationOff() async throws {
        let harness = try Harness(querySample: 0)
        #expect(harness.backend.queryLog == nil)
        #expect(!(harness.backend.todos is InstrumentedStore))
        try await harness.test(.router) { client async throws in
            _ = try await client.post("/todos", ["title": "a"])
            let panel = try await client.get("/_orion/queries")
            #expect(panel.text.contains("Instrumentation is off (ORION_QUERY_SAMPLE=0)"))
        }
    }
}

@Suite("Settings from the environment")
struct SettingsTests {
    @Test("defaults: 127.0.0.1:8080, app.db, SQLite, every call recorded")
    func defaults() throws {
        let settings = try Settings(environment: [:])
        #expect(settings.host == "127.0.0.1")
        #expect(settings.port == 8080)
        #expect(settings.database == "app.db")
        #expect(settings.postgresURL == nil)
        #expect(settings.querySample == 1)
    }

    @Test("each variable is read")
    func overrides() throws {
        let settings = try Settings(environment: [
            "HOST": "0.0.0.0", "PORT": "9000", "ORION_DB": "/tmp/x.db", "ORION_POSTGRES_URL": "postgresql://a@b/c", "ORION_QUERY_SAMPLE": "0.25",
        ])
        #expect(settings.host == "0.0.0.0")
        #expect(settings.port == 9000)
        #expect(settings.database == "/tmp/x.db")
        #expect(settings.postgresURL == "postgresql://a@b/c")
        #expect(settings.querySample == 0.25)
    }

    @Test(
        "a bad value stops the app with a sentence naming the variable",
        arguments: [
            ("PORT", "eighty", "PORT is \"eighty\"; give a port number from 0 to 65535"),
            ("PORT", "70000", "PORT is \"70000\""),
            ("ORION_QUERY_SAMPLE", "2", "ORION_QUERY_SAMPLE is \"2\"; give a share of calls from 0 to 1"),
            ("ORION_QUERY_SAMPLE", "all", "ORION_QUERY_SAMPLE is \"all\""),
            ("ORION_DB", "", "ORION_DB is empty"),
            ("HOST", "", "HOST is empty"),
        ])
    func badValue(_ name: String, _ value: String, _ says: String) {
        #expect {
            try Settings(environment: [name: value])
        } throws: { error in
            String(describing: error).contains(says)
        }
    }
}
