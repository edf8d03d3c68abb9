#if canImport(Glibc)
import Glibc
#endif

/// The terminal behind stdin: its original settings, and the two modes the chat switches between.
final class TerminalModes {
    enum Mode {
        /// Editing a line: every key comes to us at once, unechoed; Ctrl-C arrives as a byte, not a signal.
        case raw
        /// Streaming an answer: keys are not echoed into the answer (they wait for the next prompt), and
        /// Ctrl-C raises SIGINT so the generation loop can see it between tokens.
        case answering
        case original
    }

    let fileDescriptor: Int32
    private let original: termios
    private(set) var current = Mode.original

    /// nil when the descriptor is not a terminal.
    init?(fileDescriptor: Int32 = 0) {
        guard isatty(fileDescriptor) == 1 else { return nil }
        var settings = termios()
        guard tcgetattr(fileDescriptor, &settings) == 0 else { return nil }
        self.fileDescriptor = fileDescriptor
        original = settings
    }

    deinit { set(.original) }

    func set(_ mode: Mode) {
        guard mode != current else { return }
        var settings = original
        switch mode {
        case .raw:
            settings.c_iflag &= ~tcflag_t(BRKINT | ICRNL | INPCK | ISTRIP | IXON)
            settings.c_cflag |= tcflag_t(CS8)
            settings.c_lflag &= ~tcflag_t(ECHO | ICANON | IEXTEN | ISIG)
            Self.setReadOneByte(&settings)
        case .answering:
            settings.c_lflag &= ~tcflag_t(ECHO | ICANON)
            settings.c_lflag |= tcflag_t(ISIG)
            Self.setReadOneByte(&settings)
        case .original:
            break
        }
        // TCSANOW, not TCSAFLUSH: keys typed while an answer streams stay queued for the next prompt.
        if tcsetattr(fileDescriptor, TCSANOW, &settings) == 0 { current = mode }
    }

    private static func setReadOneByte(_ settings: inout termios) {
        withUnsafeMutableBytes(of: &settings.c_cc) { cc in
            if Int(VMIN) < cc.count { cc[Int(VMIN)] = 1 }
            if Int(VTIME) < cc.count { cc[Int(VTIME)] = 0 }
        }
    }
}

/// Small system helpers for the line editor.
enum TerminalIO {
    /// Columns of the terminal on `fileDescriptor`, else $COLUMNS, else 80.
    static func columns(_ fileDescriptor: Int32 = 1) -> Int {
        var size = winsize()
        if ioctl(fileDescriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let text = getenv("COLUMNS").map({ String(cString: $0) }), let value = Int(text), value > 0 { return value }
        return 80
    }

    enum ReadResult { case bytes([UInt8]), endOfFile, interrupted, timedOut }

    /// One read(2) of up to 4096 bytes, optionally waiting at most `timeoutMilliseconds` for the first byte.
    /// A signal (SIGINT has a handler without SA_RESTART) ends the wait as `.interrupted`.
    static func read(_ fileDescriptor: Int32, timeoutMilliseconds: Int32? = nil) -> ReadResult {
        if let timeoutMilliseconds {
            var descriptor = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, timeoutMilliseconds)
            if ready < 0 { return errno == EINTR ? .interrupted : .endOfFile }
            if ready == 0 { return .timedOut }
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fileDescriptor, $0.baseAddress, $0.count) }
        if count < 0 { return errno == EINTR ? .interrupted : .endOfFile }
        if count == 0 { return .endOfFile }
        return .bytes(Array(buffer[..<count]))
    }
}
