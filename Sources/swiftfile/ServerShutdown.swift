import Engine
import Server
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// SIGTERM or SIGINT in server mode: stop taking requests (503, and /health says "shutting down" so a load
/// balancer moves on), let the generations in flight finish, then stop listening and exit 0. Generations
/// still running after `graceSeconds` are ended as if their token limit were reached, so every stream still
/// gets its finish_reason and [DONE]. A second signal exits at once.
///
/// The signals are blocked in every thread (call `blockSignals` before any thread starts) and taken by one
/// waiting thread, so this runs as ordinary code, not inside an asynchronous signal handler.
enum ServerShutdown {
    static let graceSeconds = 30.0

    static func blockSignals() {
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    static func watch(server: HTTPServer, state: ServiceState, note: @escaping (String) -> Void) {
        let context = Unmanaged.passRetained(Watch(server: server, state: state, note: note)).toOpaque()
        var thread = pthread_t()
        if pthread_create(&thread, nil, { raw in
            Unmanaged<Watch>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, context) != 0 {
            var set = signalSet()
            pthread_sigmask(SIG_UNBLOCK, &set, nil)  // no watcher: let the signals act as before
        }
    }

    fileprivate static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        return set
    }

    fileprivate static func name(_ signal: Int32) -> String { signal == SIGINT ? "SIGINT" : "SIGTERM" }

    private final class Watch {
        let server: HTTPServer, state: ServiceState, note: (String) -> Void
        init(server: HTTPServer, state: ServiceState, note: @escaping (String) -> Void) {
            self.server = server; self.state = state; self.note = note
        }

        func run() {
            var set = ServerShutdown.signalSet()
            var received: Int32 = 0
            while sigwait(&set, &received) != 0 {}
            state.startDraining()
            let start = monotonicMilliseconds()
            var ended = false
            if let scheduler = state.ready?.scheduler {
                let m = scheduler.metrics
                note("\(ServerShutdown.name(received)): finishing \(m.requestsProcessing + m.requestsWaiting) request(s) in flight "
                     + "(at most \(Int(ServerShutdown.graceSeconds)) s), refusing new ones")
                while true {
                    let m = scheduler.metrics
                    if m.requestsProcessing + m.requestsWaiting == 0 { break }
                    if !ended && monotonicMilliseconds() - start > ServerShutdown.graceSeconds * 1000 {
                        note("grace period over: ending the remaining generations")
                        scheduler.endRunningGenerations()
                        ended = true
                    }
                    // A second signal ends the process at once.
                    var timeout = timespec(tv_sec: 0, tv_nsec: 50_000_000)
                    let again = sigtimedwait(&set, nil, &timeout)
                    if again > 0 { note("\(ServerShutdown.name(again)) again: exiting now"); _exit(128 + again) }
                }
                // The last responses' bytes are queued on the event loops: give them a moment to leave.
                var pause = timespec(tv_sec: 0, tv_nsec: 300_000_000)
                nanosleep(&pause, nil)
            }
            let tenths = Int(((monotonicMilliseconds() - start) / 100).rounded())
            note("stopped after \(tenths / 10).\(tenths % 10) s")
            server.close()
        }
    }
}
