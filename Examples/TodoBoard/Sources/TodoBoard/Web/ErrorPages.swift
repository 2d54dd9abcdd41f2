import Hummingbird
import Logging
import Orion

/// Turns every error a route throws into a page a person can read, with its status: a
/// ``PageError`` says what to fix; an unknown path is a 404; anything else is a 500 whose
/// detail goes to the log, not to the browser.
struct ErrorPages<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as PageError {
            var response = Self.page(error.status, error.message)
            if let allow = error.allow { response.headers[.allow] = allow }
            return response
        } catch let error as any HTTPResponseError where (400..<500).contains(error.status.code) {
            let message =
                error.status == .notFound
                ? "There is no page at \(request.uri.path)."
                : "The request was refused: \(error.status.reasonPhrase)."
            return Self.page(error.status, message)
        } catch let error as StoreError where [.busy, .closed, .writeQueueStopped, .connection, .io].contains(error.code) {
            context.logger.error("store unavailable", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return Self.page(.serviceUnavailable, "The database is unavailable right now, and your change was not saved. Try again in a moment.")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return Self.page(.internalServerError, "Something went wrong on the server; it has been logged.")
        }
    }

    static func page(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response.html(Layout.error(status: status.code, reason: status.reasonPhrase, message: message), status: status)
    }
}

extension Response {
    /// An HTML page, never cached (every board is live).
    static func html(_ html: HTML, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html.rendered)))
    }

    /// After a form: see the board.
    static func seeOther(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }
}
