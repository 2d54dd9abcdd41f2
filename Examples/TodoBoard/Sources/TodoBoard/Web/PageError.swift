import Hummingbird

/// A request the app refuses, with the sentence that tells a person what to fix. The error
/// middleware renders it as a page with its status.
struct PageError: Error, Sendable {
    let status: HTTPResponse.Status
    let message: String
    /// For 405: the methods the path takes.
    var allow: String?

    init(_ status: HTTPResponse.Status, _ message: String, allow: String? = nil) {
        self.status = status
        self.message = message
        self.allow = allow
    }
}
