/// The database the app runs on: feature SQL is the same on both; migrations are not (SQLite's
/// `integer primary key` and 0/1 booleans against PostgreSQL's `bigserial` and `boolean`).
public enum Dialect: String, Sendable {
    case sqlite
    case postgres
}
