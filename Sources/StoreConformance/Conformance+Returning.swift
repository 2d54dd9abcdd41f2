import Orion
import Testing

extension Conformance {
    /// A write whose returned rows fail to decode is a failed call, and a failed call changes
    /// nothing: outside `tx` nothing is committed (nor announced), inside `tx` the write is
    /// undone and the transaction goes on. A write that returns no row, or a one-column NULL,
    /// is no failure: `one` returns `nil` and the write stands.
    public static func returningRowsThatDoNotDecode(_ adapter: Adapter) throws {
        let store = try adapter.make()
        try store.migrate("notes", notes(adapter.dialect))
        struct Wrong: Decodable { let title: Int }
        expect(.decoding) { let _: Wrong? = try store.one("insert into notes (title) values ('one') returning title") }
        expect(.decoding) { let _: [Wrong] = try store.query("insert into notes (title) values ('many') returning title") }
        #expect(try store.one("select count(*) from notes") == 0)

        try store.exec("insert into notes (title) values ('kept')")
        expect(.decoding) { let _: Wrong? = try store.one("update notes set title = 'changed' returning title") }
        #expect(try store.query("select title from notes") == ["kept"])

        try store.tx {
            try store.exec("insert into notes (title) values ('in tx')")
            expect(.decoding) { let _: Wrong? = try store.one("insert into notes (title) values ('undone') returning title") }
            try store.exec("insert into notes (title) values ('after')")
        }
        #expect(try store.query("select title from notes order by id") == ["kept", "in tx", "after"])

        let none: Int64? = try store.one("update notes set title = 'x' where id < 0 returning id")
        #expect(none == nil)
        let null: String? = try store.one("update notes set weight = null where title = 'kept' returning weight")
        #expect(null == nil)
    }
}
