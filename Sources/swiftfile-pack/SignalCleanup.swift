import Container
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Ctrl-C, SIGTERM or a closed terminal while packing deletes the temporary files and exits with the signal's
/// status (128 + number). The signals are blocked in every thread and taken by one waiting thread, so the
/// clean-up runs as ordinary code rather than inside an asynchronous signal handler.
enum SignalCleanup {
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Call before any other thread starts (threads inherit the blocked set).
    static func install(_ files: TemporaryFiles) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let context = Unmanaged.passRetained(Box(files: files, set: set)).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            var set = box.set
            var received: Int32 = 0
            while sigwait(&set, &received) != 0 {}
            box.files.deleteAll { count in
                let name = received == SIGINT ? "SIGINT" : received == SIGTERM ? "SIGTERM" : "SIGHUP"
                printError("\nswiftfile-pack: stopped by \(name); removed \(count) partial file\(count == 1 ? "" : "s"), nothing was written")
                _exit(128 + received)
            }
        }, context)
        if started != 0 {
            // No waiting thread: let the signals act as before rather than be ignored.
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
        }
    }

    private final class Box {
        let files: TemporaryFiles
        let set: sigset_t
        init(files: TemporaryFiles, set: sigset_t) { self.files = files; self.set = set }
    }
}
