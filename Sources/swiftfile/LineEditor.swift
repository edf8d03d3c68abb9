/// What the user gave at the prompt.
enum LineInput: Equatable {
    /// One message; several lines joined with "\n" when continued with `\` or pasted.
    case message(String)
    /// Ctrl-C at the prompt (the partial line is dropped).
    case interrupted
    /// Ctrl-D on an empty line, or the end of piped input.
    case endOfInput
}

/// A prompt as drawn: its text (colour escapes included) and the columns it takes.
struct EditorPrompt {
    let text: String
    let width: Int

    init(_ plain: String, style: String? = nil) {
        text = style.map { "\u{1B}[\($0)m\(plain)\u{1B}[0m" } ?? plain
        width = plain.reduce(0) { $0 + displayWidth($1) }
    }
}

/// A small line editor over termios raw mode: cursor keys, Home/End, Backspace/Delete, Ctrl-A/E/K/U/W/L,
/// Alt-B/F (or Ctrl-arrows) by word, Up/Down through this session's history, UTF-8 aware (moves by
/// user-perceived character, wide characters counted as two columns). Long lines scroll sideways.
///
/// Multi-line input: a line ending with `\` continues on the next line; a bracketed paste of several lines
/// continues at each pasted newline, and the last pasted line stays open for editing until Enter.
///
/// When stdin is not a terminal it reads plain lines (the same `\` continuation applies) and draws nothing.
final class LineEditor {
    let terminal: TerminalModes?
    private var decoder = KeyDecoder()
    private(set) var history: [String] = []
    private let historyLimit = 1000
    /// Plain mode: bytes read but not yet returned as lines.
    private var plainPending: [UInt8] = []
    private var plainEnded = false
    /// A plain line longer than this is returned as it is rather than buffered further.
    private let plainLineLimit = 16 << 20

    init(terminal: TerminalModes?) { self.terminal = terminal }

    var isInteractive: Bool { terminal != nil }

    func readMessage(prompt: EditorPrompt, continuation: EditorPrompt) -> LineInput {
        var lines: [String] = []
        var current = prompt
        while true {
            switch readLine(prompt: current) {
            case .line(let text, let pasted):
                if !pasted && text.hasSuffix("\\") {
                    lines.append(String(text.dropLast()))
                } else {
                    lines.append(text)
                    if !pasted { return .message(lines.joined(separator: "\n")) }
                }
                current = continuation
            case .interrupted:
                return .interrupted
            case .endOfInput:
                return lines.isEmpty ? .endOfInput : .message(lines.joined(separator: "\n"))
            }
        }
    }

    private enum RawLine { case line(String, pasted: Bool), interrupted, endOfInput }

    private func readLine(prompt: EditorPrompt) -> RawLine {
        guard let terminal else { return readPlainLine() }
        terminal.set(.raw)
        Output.out("\u{1B}[?2004h")          // ask for bracketed paste
        defer {
            Output.out("\u{1B}[?2004l")
            terminal.set(.original)
        }
        var session = EditingSession(prompt: prompt, historyCount: history.count)
        session.render()
        while true {
            while let key = decoder.next() {
                if let line = handle(key, &session) { return line }
            }
            switch TerminalIO.read(terminal.fileDescriptor, timeoutMilliseconds: decoder.pending.isEmpty ? nil : 50) {
            case .bytes(let bytes):
                decoder.feed(bytes)
            case .timedOut:
                // An escape sequence that never completed (a lone Esc key): decode what there is.
                while let key = decoder.next(final: true) {
                    if let line = handle(key, &session) { return line }
                }
            case .interrupted:
                if let line = handle(.interrupt, &session) { return line }
            case .endOfFile:
                Output.out("\r\n")
                return .endOfInput
            }
        }
    }

    /// Applies one key; returns the finished line when the key ends it.
    private func handle(_ key: EditorKey, _ session: inout EditingSession) -> RawLine? {
        switch key {
        case .text(let text): session.buffer.insert(text)
        case .enter, .pastedNewline:
            session.buffer.moveEnd()
            session.render()
            Output.out("\r\n")
            let text = session.buffer.text
            remember(text)
            return .line(text, pasted: key == .pastedNewline)
        case .interrupt:
            Output.out("^C\r\n")
            return .interrupted
        case .endOfFile:
            if session.buffer.isEmpty { Output.out("\r\n"); return .endOfInput }
            session.buffer.deleteForward()
        case .backspace: session.buffer.backspace()
        case .delete: session.buffer.deleteForward()
        case .left: session.buffer.moveLeft()
        case .right: session.buffer.moveRight()
        case .wordLeft: session.buffer.moveWordLeft()
        case .wordRight: session.buffer.moveWordRight()
        case .home: session.buffer.moveHome()
        case .end: session.buffer.moveEnd()
        case .killToEnd: session.buffer.killToEnd()
        case .killToStart: session.buffer.killToStart()
        case .deleteWordBefore: session.buffer.deleteWordBefore()
        case .up: session.recall(from: history, step: -1)
        case .down: session.recall(from: history, step: 1)
        case .clearScreen: Output.out("\u{1B}[H\u{1B}[2J")
        case .ignored: return nil
        }
        session.render()
        return nil
    }

    private func remember(_ line: String) {
        guard !line.isEmpty, history.last != line else { return }
        history.append(line)
        if history.count > historyLimit { history.removeFirst(history.count - historyLimit) }
    }

    private func readPlainLine() -> RawLine {
        while true {
            if let newline = plainPending.firstIndex(of: 0x0A) {
                var line = plainPending[..<newline]
                if line.last == 0x0D { line = line.dropLast() }
                let text = String(decoding: line, as: UTF8.self)
                plainPending.removeFirst(newline + 1)
                return .line(text, pasted: false)
            }
            if plainEnded || plainPending.count > plainLineLimit {
                guard !plainPending.isEmpty else { return .endOfInput }
                let text = String(decoding: plainPending, as: UTF8.self)
                plainPending.removeAll()
                return .line(text, pasted: false)
            }
            switch TerminalIO.read(0) {
            case .bytes(let bytes): plainPending += bytes
            case .endOfFile: plainEnded = true
            case .interrupted: return .interrupted
            case .timedOut: continue
            }
        }
    }
}

/// One line being edited: the buffer, where history browsing stands, and how to draw it.
struct EditingSession {
    let prompt: EditorPrompt
    var buffer = EditBuffer()
    /// history.count means the line being typed (kept in `draft` while browsing).
    private var historyIndex: Int
    private var draft = ""

    init(prompt: EditorPrompt, historyCount: Int) {
        self.prompt = prompt
        historyIndex = historyCount
    }

    mutating func recall(from history: [String], step: Int) {
        let target = historyIndex + step
        guard target >= 0, target <= history.count else { return }
        if historyIndex == history.count { draft = buffer.text }
        historyIndex = target
        buffer = EditBuffer(target == history.count ? draft : history[target])
    }

    /// Redraws the prompt line in place. A line wider than the terminal scrolls so the cursor stays visible.
    func render() {
        Output.out(Self.renderedLine(prompt: prompt, buffer: buffer, columns: TerminalIO.columns(1)))
    }

    /// The bytes that draw `buffer` after `prompt` on a terminal `columns` wide and put the cursor in place.
    static func renderedLine(prompt: EditorPrompt, buffer: EditBuffer, columns: Int) -> String {
        let characters = buffer.characters
        let widths = characters.map(displayWidth)
        let available = max(1, columns - prompt.width - 1)
        var start = 0
        var cursorColumn = widths[..<buffer.cursor].reduce(0, +)
        while cursorColumn >= available && start < buffer.cursor {
            cursorColumn -= widths[start]
            start += 1
        }
        var visible = ""
        var used = 0
        var index = start
        while index < characters.count, used + widths[index] <= available {
            visible += displayText(characters[index])
            used += widths[index]
            index += 1
        }
        let column = prompt.width + cursorColumn
        return "\r" + prompt.text + visible + "\u{1B}[0K\r" + (column > 0 ? "\u{1B}[\(column)C" : "")
    }
}
