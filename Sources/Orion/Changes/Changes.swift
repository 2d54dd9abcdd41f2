/// The commits of a store, as an `AsyncSequence` of ``Change``: see ``SQLiteStore/changes()``.
///
/// The subscription is live as soon as the sequence is made; iterate it once. It ends when the
/// iterating task is cancelled or the store closes.
public struct Changes: AsyncSequence, Sendable {
    public typealias Element = Change
    public typealias Failure = Never

    private let inbox: ChangeInbox

    package init(_ inbox: ChangeInbox) {
        self.inbox = inbox
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(inbox: inbox)
    }

    /// Waits for the next commit (or the commits missed meanwhile, merged).
    public struct Iterator: AsyncIteratorProtocol {
        let inbox: ChangeInbox

        public mutating func next() async -> Change? {
            await inbox.next()
        }

        /// Whether no change waits to be taken (for tests).
        package var inboxHasNothingForTests: Bool { inbox.peekPending() == nil }

    }
}
