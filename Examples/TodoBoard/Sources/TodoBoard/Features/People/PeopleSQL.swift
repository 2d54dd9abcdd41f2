public import Orion

/// Someone a todo can belong to.
public struct Person: Decodable, Sendable, Hashable {
    public let id: Int64
    public let name: String
}

/// The people feature: owns the `people` table. Other features read it only through these
/// functions, on the store the composition root scoped to "people".
public enum People {
    public static let feature = "people"

    /// Append-only: never edit or remove an entry once it has run anywhere.
    public static func migrations(_ dialect: Dialect) -> [String] {
        switch dialect {
        case .sqlite:
            ["create table people (id integer primary key, name text not null unique)"]
        case .postgres:
            ["create table people (id bigserial primary key, name text not null unique)"]
        }
    }

    /// The longest name the forms accept.
    public static let maxName = 60

    public static func all(_ store: some Store) throws -> [Person] {
        try store.query("select id, name from people order by name, id")
    }

    public static func exists(_ store: some Store, _ id: Int64) throws -> Bool {
        let found: Int? = try store.one("select 1 from people where id = ?", id)
        return found != nil
    }

    public static func named(_ store: some Store, _ name: String) throws -> Person? {
        try store.one("select id, name from people where name = ?", name)
    }

    @discardableResult
    public static func add(_ store: some Store, _ name: String) throws -> ExecResult {
        try store.exec("insert into people (name) values (?)", name)
    }
}
