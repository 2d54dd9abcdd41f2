public import Orion

public struct Todo: Decodable, Sendable, Hashable {
    public let id: Int64
    public let title: String
    public let done: Bool
    /// The person it belongs to (the people feature's id), if anyone.
    public let owner: Int64?

    enum CodingKeys: String, CodingKey {
        case id, title, done
        case owner = "owner_id"
    }
}

/// The todos feature: owns the `todos` table, its SQL and its migrations.
public enum Todos {
    public static let feature = "todos"

    /// Append-only: never edit or remove an entry once it has run anywhere. `owner_id` is a
    /// person's id by value, not a foreign key: `people` belongs to another feature.
    public static func migrations(_ dialect: Dialect) -> [String] {
        switch dialect {
        case .sqlite:
            [
                "create table todos (id integer primary key, title text not null, done integer not null default 0)",
                "alter table todos add column owner_id integer",
            ]
        case .postgres:
            [
                "create table todos (id bigserial primary key, title text not null, done boolean not null default false)",
                "alter table todos add column owner_id bigint",
            ]
        }
    }

    /// The longest title the forms accept.
    public static let maxTitle = 200

    public static func all(_ store: some Store) throws -> [Todo] {
        try store.query("select id, title, done, owner_id from todos order by id")
    }

    public static func exists(_ store: some Store, _ id: Int64) throws -> Bool {
        let found: Int? = try store.one("select 1 from todos where id = ?", id)
        return found != nil
    }

    @discardableResult
    public static func insert(_ store: some Store, _ title: String, owner: Int64?) throws -> ExecResult {
        try store.exec("insert into todos (title, owner_id) values (?, ?)", title, owner)
    }

    @discardableResult
    public static func toggle(_ store: some Store, _ id: Int64) throws -> ExecResult {
        try store.exec("update todos set done = not done where id = ?", id)
    }

    @discardableResult
    public static func rename(_ store: some Store, _ id: Int64, to title: String) throws -> ExecResult {
        try store.exec("update todos set title = ? where id = ?", title, id)
    }

    @discardableResult
    public static func delete(_ store: some Store, _ id: Int64) throws -> ExecResult {
        try store.exec("delete from todos where id = ?", id)
    }
}
