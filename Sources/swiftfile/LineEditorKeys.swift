/// One editing action decoded from the bytes a terminal sends in raw mode.
enum EditorKey: Equatable {
    case text(String)          // printable characters (a run of them when pasted or typed fast)
    case enter
    case pastedNewline         // a newline inside a bracketed paste: continues the message
    case backspace, delete
    case left, right, wordLeft, wordRight, home, end
    case up, down
    case killToEnd, killToStart, deleteWordBefore
    case interrupt             // Ctrl-C (raw mode turns off the terminal's own SIGINT)
    case endOfFile             // Ctrl-D
    case clearScreen           // Ctrl-L
    case ignored               // a key or sequence we do not handle
}

/// Turns raw terminal bytes into `EditorKey`s. Pure (no I/O) so it can be fed byte by byte or in chunks.
///
/// Bracketed paste (`ESC [200~` … `ESC [201~`, xterm and most modern terminals) is tracked here: inside a
/// paste, Enter becomes `.pastedNewline`, so pasting several lines does not send each one as a message.
struct KeyDecoder {
    private(set) var pending: [UInt8] = []
    private(set) var isPasting = false
    /// A CR was the last byte: a LF right after it is the same line end (CR LF from pastes and pipes).
    private var afterCarriageReturn = false

    /// Longest escape sequence we wait for; longer garbage is dropped rather than buffered forever.
    private static let maximumSequenceLength = 32

    mutating func feed<S: Sequence>(_ bytes: S) where S.Element == UInt8 { pending.append(contentsOf: bytes) }

    /// The next key, or nil when the pending bytes are an incomplete sequence. `final` says no more bytes
    /// are coming soon (the reader timed out), so an incomplete sequence is decoded as far as it goes.
    mutating func next(final: Bool = false) -> EditorKey? {
        guard let first = pending.first else { return nil }
        let wasAfterCarriageReturn = afterCarriageReturn
        afterCarriageReturn = false
        switch first {
        case 0x0D:
            pending.removeFirst()
            afterCarriageReturn = true
            return isPasting ? .pastedNewline : .enter
        case 0x0A:
            pending.removeFirst()
            if wasAfterCarriageReturn { return next(final: final) ?? .ignored }
            return isPasting ? .pastedNewline : .enter
        case 0x1B:
            return escapeSequence(final: final)
        case 0x09:
            pending.removeFirst()
            return .text("\t")
        case 0x00..<0x20, 0x7F:
            pending.removeFirst()
            return controlKey(first)
        default:
            return textRun(final: final)
        }
    }

    private func controlKey(_ byte: UInt8) -> EditorKey {
        switch byte {
        case 0x01: return .home          // Ctrl-A
        case 0x02: return .left          // Ctrl-B
        case 0x03: return .interrupt     // Ctrl-C
        case 0x04: return .endOfFile     // Ctrl-D
        case 0x05: return .end           // Ctrl-E
        case 0x06: return .right         // Ctrl-F
        case 0x08, 0x7F: return .backspace
        case 0x0B: return .killToEnd     // Ctrl-K
        case 0x0C: return .clearScreen   // Ctrl-L
        case 0x0E: return .down          // Ctrl-N
        case 0x10: return .up            // Ctrl-P
        case 0x15: return .killToStart   // Ctrl-U
        case 0x17: return .deleteWordBefore // Ctrl-W
        default: return .ignored
        }
    }

    /// Printable bytes up to the next control byte, as text. A UTF-8 character split at the end of what has
    /// arrived waits for its remaining bytes unless `final`; invalid UTF-8 becomes U+FFFD.
    private mutating func textRun(final: Bool) -> EditorKey? {
        var end = 0
        while end < pending.count, pending[end] >= 0x20, pending[end] != 0x7F { end += 1 }
        if !final { end -= Self.incompleteTailLength(pending[..<end]) }
        guard end > 0 else { return nil }
        let text = String(decoding: pending[..<end], as: UTF8.self)
        pending.removeFirst(end)
        return .text(text)
    }

    /// How many bytes at the end of `bytes` begin a UTF-8 sequence that is not complete yet.
    static func incompleteTailLength(_ bytes: ArraySlice<UInt8>) -> Int {
        // Look back at most 3 bytes for the lead byte of the last sequence.
        var back = 1
        while back <= min(3, bytes.count) {
            let byte = bytes[bytes.endIndex - back]
            if byte & 0xC0 != 0x80 {
                let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
                return length > back ? back : 0
            }
            back += 1
        }
        return 0
    }

    private mutating func escapeSequence(final: Bool) -> EditorKey? {
        guard pending.count >= 2 else {
            if final { pending.removeFirst(); return .ignored }
            return nil
        }
        switch pending[1] {
        case UInt8(ascii: "["):
            // CSI: parameter bytes 0x30–0x3F, intermediate bytes 0x20–0x2F, one final byte 0x40–0x7E.
            var index = 2
            while index < pending.count, (0x20...0x3F).contains(pending[index]) { index += 1 }
            guard index < pending.count else {
                if final || pending.count > Self.maximumSequenceLength { pending.removeAll(); return .ignored }
                return nil
            }
            let parameters = String(decoding: pending[2..<index], as: UTF8.self)
            let finalByte = pending[index]
            pending.removeFirst(index + 1)
            return csiKey(parameters: parameters, final: finalByte)
        case UInt8(ascii: "O"):
            guard pending.count >= 3 else {
                if final { pending.removeFirst(2); return .ignored }
                return nil
            }
            let key = pending[2]
            pending.removeFirst(3)
            switch key {
            case UInt8(ascii: "A"): return .up
            case UInt8(ascii: "B"): return .down
            case UInt8(ascii: "C"): return .right
            case UInt8(ascii: "D"): return .left
            case UInt8(ascii: "H"): return .home
            case UInt8(ascii: "F"): return .end
            default: return .ignored
            }
        case UInt8(ascii: "b"): pending.removeFirst(2); return .wordLeft        // Alt-B
        case UInt8(ascii: "f"): pending.removeFirst(2); return .wordRight       // Alt-F
        case 0x7F, 0x08: pending.removeFirst(2); return .deleteWordBefore       // Alt-Backspace
        default:
            pending.removeFirst()
            return .ignored
        }
    }

    private mutating func csiKey(parameters: String, final: UInt8) -> EditorKey {
        let modified = parameters.hasSuffix(";5") || parameters.hasSuffix(";3")   // Ctrl or Alt held
        switch final {
        case UInt8(ascii: "A"): return .up
        case UInt8(ascii: "B"): return .down
        case UInt8(ascii: "C"): return modified ? .wordRight : .right
        case UInt8(ascii: "D"): return modified ? .wordLeft : .left
        case UInt8(ascii: "H"): return .home
        case UInt8(ascii: "F"): return .end
        case UInt8(ascii: "~"):
            switch parameters {
            case "1", "7": return .home
            case "4", "8": return .end
            case "3": return .delete
            case "200": isPasting = true; return .ignored
            case "201": isPasting = false; return .ignored
            default: return .ignored
            }
        default: return .ignored
        }
    }
}
