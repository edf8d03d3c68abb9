import CSandbox
import Container
import Engine
import Server
import Synchronization
import Tensors
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The runner confines itself once the weights are mapped and the model is loaded (and, serving, the port
/// is bound), as llamafile does with pledge/SECCOMP: from then on it needs no files, no programs and no
/// connections of its own. Two kernel mechanisms, each used where the kernel has it:
/// - seccomp, on every thread at once: no execve, no new sockets (so no outgoing connections; accepting on
///   the bound socket goes on), no opening a file for writing, no changes to the file tree;
/// - Landlock, on the threads that run requests and the model (main, event loops, compute thread and its
///   workers): reading is limited to the weights file, and from Landlock ABI 4 TCP bind and connect are refused.
/// `--unsecure` skips it; where a mechanism is missing the runner says so in one line and goes on.
enum Sandbox {
    /// Server mode: the main thread, every event loop, the scheduler's compute thread and its pool.
    static func enter(weights: WeightsOrigin, server: HTTPServer, scheduler: Scheduler, pool: ThreadPool,
                      note: (String) -> Void) {
        let summary = apply(readable: [file(of: weights)]) { ruleset in
            let loops = (try? server.onEveryEventLoop { csandbox_landlock_restrict_self(ruleset) }) ?? [-1]
            // The compute thread and each worker of its pool (pool.run calls the body once on every one).
            let workers = WorkerResults()
            scheduler.performOnComputeThread {
                pool.run { _ in workers.record(csandbox_landlock_restrict_self(ruleset)) }
            }
            return loops.filter { $0 != 0 }.count + workers.failures
        }
        note(summary.line)
    }

    /// Completion and terminal chat: the main thread and the pool it drives. Says something only when a
    /// mechanism is missing (these modes' output is the text).
    static func enter(weights: WeightsOrigin, pool: ThreadPool, note: (String) -> Void) {
        let summary = apply(readable: [file(of: weights)]) { ruleset in
            let workers = WorkerResults()
            pool.run { index in if index > 0 { workers.record(csandbox_landlock_restrict_self(ruleset)) } }
            return workers.failures
        }
        if !summary.complete { note(summary.line) }
    }

    /// The file whose bytes are the weights (a bundle is read as a whole file).
    static func file(of origin: WeightsOrigin) -> String {
        switch origin {
        case .ownArchive(let executable, _): return executable
        case .file(let path): return path
        case .archiveMember(let archive, _): return archive
        }
    }

    /// Installs seccomp on every thread, restricts the calling thread with Landlock and hands the ruleset to
    /// `restrictOthers`, which restricts the other threads and returns how many failed.
    private static func apply(readable: [String], restrictOthers: (Int32) -> Int) -> (line: String, complete: Bool) {
        // What the C library would read lazily later: the time zone (chat templates' strftime_now).
        tzset()
        var time = time_t(0), parts = tm()
        localtime_r(&time, &parts)

        let seccomp = csandbox_seccomp_install()
        let abi = csandbox_landlock_abi()
        var landlock = "Landlock unavailable", landlocked = false
        if abi > 0 {
            let ruleset = withCStrings(readable) { csandbox_landlock_ruleset(abi, $0, Int32(readable.count)) }
            if ruleset >= 0 {
                defer { close(ruleset) }
                var failures = csandbox_landlock_restrict_self(ruleset) != 0 ? 1 : 0
                failures += restrictOthers(ruleset)
                landlocked = failures == 0
                landlock = landlocked ? "Landlock ABI \(abi): reads limited to the weights" + (abi >= 4 ? ", no TCP bind or connect" : "")
                                      : "Landlock failed on \(failures) thread(s)"
            } else {
                landlock = "Landlock refused the ruleset (\(String(cString: strerror(-ruleset))))"
            }
        }
        if seccomp == 0 {
            return ("sandbox: seccomp (no exec, no new sockets, no writing files) and \(landlock)", landlocked)
        }
        return ("sandbox: seccomp unavailable (\(String(cString: strerror(-seccomp)))); \(landlock)", false)
    }

    /// With SWIFTFILE_SANDBOX_PROBE=FILE in the environment (a test aid), tries the forbidden actions on the main
    /// thread and on an event loop and prints the outcomes: the sandbox's tests read them, with and without it.
    static func probeIfAsked(server: HTTPServer, note: (String) -> Void) {
        guard let probe = getenv("SWIFTFILE_SANDBOX_PROBE") else { return }
        let target = String(cString: probe)
        note("sandbox probe (main thread): " + attempts(outside: target))
        if let onLoop = try? server.onEveryEventLoop({ attempts(outside: target) }).first {
            note("sandbox probe (event loop): " + onLoop)
        }
    }

    /// Counts the threads whose Landlock restriction failed (pool workers report concurrently).
    final class WorkerResults: Sendable {
        private let count = Atomic<Int>(0)
        func record(_ status: Int32) { if status != 0 { count.add(1, ordering: .relaxed) } }
        var failures: Int { count.load(ordering: .relaxed) }
    }

    /// What a test asks the sandboxed server to try (SWIFTFILE_SANDBOX_PROBE=FILE, a file outside the allowed
    /// set): read FILE, create FILE.probe, run /bin/true, connect to 127.0.0.1:9. Each outcome in a few words.
    static func attempts(outside file: String) -> String {
        func outcome(_ status: Int32) -> String { status == 0 ? "allowed" : String(cString: strerror(status)) }
        var results: [String] = []
        let readFD = open(file, O_RDONLY | O_CLOEXEC)
        results.append("read \(file): \(readFD >= 0 ? "allowed" : outcome(errno))")
        if readFD >= 0 { close(readFD) }
        let writeFD = open(file + ".probe", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        results.append("create \(file).probe: \(writeFD >= 0 ? "allowed" : outcome(errno))")
        if writeFD >= 0 { close(writeFD); unlink(file + ".probe") }
        var pid = pid_t(0)
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { for p in argv { free(p) } }
        let spawned = posix_spawn(&pid, "/bin/true", nil, nil, argv, environ)
        if spawned == 0 {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            // The child inherits the filter: its execve fails and it exits 127.
            results.append("exec /bin/true: \((status >> 8) & 0xff == 127 ? outcome(EPERM) : "allowed")")
        } else {
            results.append("exec /bin/true: \(outcome(spawned))")
        }
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if sock < 0 {
            results.append("connect 127.0.0.1:9: \(outcome(errno))")
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(9).bigEndian
            address.sin_addr.s_addr = in_addr_t(0x7f00_0001).bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(sock, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            results.append("connect 127.0.0.1:9: \(connected == 0 || errno == ECONNREFUSED ? "allowed" : outcome(errno))")
            close(sock)
        }
        return results.joined(separator: "; ")
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { for copy in copies { free(copy) } }
        let pointers = copies.map { $0.map { UnsafePointer<CChar>($0) } } + [nil]  // never empty
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
