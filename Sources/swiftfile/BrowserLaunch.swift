#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens the web UI in the user's browser when the runner starts in its default mode, like an app would.
/// Never with `--server` or `--nobrowser`, and only where a desktop session can show a window (on Linux:
/// DISPLAY or WAYLAND_DISPLAY is set); the URL is printed either way, so this is a convenience only and any
/// failure is a note, not an error.
enum BrowserLaunch {
    /// The opener program for this platform.
    #if os(macOS)
    static let opener = "open"
    #else
    static let opener = "xdg-open"
    #endif

    /// Whether to open a browser: the default mode, and a desktop to show it on.
    static func shouldOpen(serverMode: Bool, noBrowser: Bool, environment: [String: String]) -> Bool {
        guard !serverMode, !noBrowser else { return false }
        #if os(macOS)
        // Over ssh the window would appear on someone else's screen, or nowhere.
        return environment["SSH_CONNECTION", default: ""].isEmpty
        #else
        return !environment["DISPLAY", default: ""].isEmpty || !environment["WAYLAND_DISPLAY", default: ""].isEmpty
        #endif
    }

    /// Opens `url` when `shouldOpen` says so. Returns whether an opener was started.
    @discardableResult
    static func openIfWanted(url: String, serverMode: Bool, noBrowser: Bool, note: (String) -> Void) -> Bool {
        let environment = currentEnvironment()
        guard shouldOpen(serverMode: serverMode, noBrowser: noBrowser, environment: environment) else { return false }
        guard let program = findExecutable(opener, path: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin") else {
            note("no \(opener) found to open a browser; open \(url) yourself")
            return false
        }
        guard spawnDetached(program, arguments: [url]) else {
            note("could not start \(program); open \(url) yourself")
            return false
        }
        return true
    }

    static func findExecutable(_ name: String, path: String) -> String? {
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Starts `program` through `/bin/sh -c '… &'` so the opener is not our child: the shell exits at once
    /// (we reap it here) and a browser that stays in the foreground never leaves a zombie behind. The URL
    /// goes as an argument, never into the shell text. Output is discarded: openers chatter on stderr.
    static func spawnDetached(_ program: String, arguments: [String]) -> Bool {
        let script = "\"$0\" \"$@\" </dev/null >/dev/null 2>&1 &"
        let argv = ["/bin/sh", "-c", script, program] + arguments
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cArguments.append(nil)
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        // The server blocks SIGTERM and SIGINT in its threads (ServerShutdown); the browser must not inherit that.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let status = posix_spawn(&pid, "/bin/sh", nil, &attributes, cArguments, environ)
        guard status == 0 else { return false }
        var exitStatus: Int32 = 0
        while waitpid(pid, &exitStatus, 0) < 0 && errno == EINTR {}
        return true
    }

    static func currentEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }
}
