public import Hummingbird
public import Logging
import ServiceLifecycle

/// Builds the whole app: the backend (the composition root), the live pages, the routes.
///
/// On graceful shutdown (SIGINT or SIGTERM under `runService()`) the server stops accepting,
/// open event streams end, and then the store commits what is queued and closes.
public func makeApplication(settings: Settings, backend: Backend, logger: Logger = Logger(label: "todos")) -> some ApplicationProtocol {
    makeApplication(settings: settings, backend: backend, live: LivePages(backend: backend, settings: settings, logger: logger), logger: logger)
}

func makeApplication(settings: Settings, backend: Backend, live: LivePages, logger: Logger) -> some ApplicationProtocol {
    // HEAD is answered wherever GET is.
    let router = Router(options: .autoGenerateHeadEndpoints)
    router.add(middleware: ErrorPages())
    router.add(middleware: SameOrigin(listeningOn: settings.host, names: settings.hostNames))
    Routes(backend: backend, live: live, heartbeat: settings.heartbeat, querySample: settings.querySample).add(to: router)
    return Application(
        router: router,
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "todos"),
        // Shut down in reverse: the server first, then the live pages, then the store.
        services: [StoreService(backend: backend, logger: logger), live],
        onServerRunning: { channel in
            let address = channel.localAddress.map { "\($0.ipAddress ?? settings.host):\($0.port ?? settings.port)" } ?? "\(settings.host):\(settings.port)"
            logger.notice("todo board on http://\(address) (\(backend.dialect.rawValue))")
        },
        logger: logger)
}

/// Opens the database the settings name.
public func openBackend(_ settings: Settings) throws -> Backend {
    if let url = settings.postgresURL {
        return try Backend.postgres(url: url, querySample: settings.querySample)
    }
    return try Backend.sqlite(path: settings.database, querySample: settings.querySample)
}

/// Owns the store's lifetime inside the service group: on graceful shutdown (after the server
/// has stopped), commits the write queue and closes the store.
struct StoreService: Service {
    let backend: Backend
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        do {
            try await backend.close()
            logger.notice("store closed: every acknowledged write is committed")
        } catch {
            logger.error("closing the store failed", metadata: ["error": "\(error)"])
            throw error
        }
    }
}
