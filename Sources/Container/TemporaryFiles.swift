import Synchronization
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The temporary files a pack is writing, so that whoever stops it early (a signal handler thread) can
/// delete them: an interrupted pack leaves nothing behind.
public final class TemporaryFiles: Sendable {
    private let paths = Mutex<[String]>([])

    public init() {}

    /// Registers `path` before it is created, so there is no moment when it exists unregistered.
    public func add(_ path: String) { paths.withLock { $0.append(path) } }

    /// Forgets `path` (renamed into place, or already deleted).
    public func remove(_ path: String) { paths.withLock { $0.removeAll { $0 == path } } }

    /// Deletes every registered file, then calls `exit` with their count without releasing the lock, so a
    /// writer about to register and create its next part never gets to.
    public func deleteAll(thenExit exit: (Int) -> Never) -> Never {
        paths.withLock { list -> Never in
            for path in list { _ = unlink(path) }
            exit(list.count)
        }
    }
}
