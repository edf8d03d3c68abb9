/// The line being edited: user-perceived characters (grapheme clusters, so an accent or an emoji with a
/// modifier moves and deletes as one) and a cursor between them.
struct EditBuffer: Equatable {
    private(set) var characters: [Character] = []
    /// 0...characters.count.
    private(set) var cursor = 0

    init(_ text: String = "") {
        characters = Array(text)
        cursor = characters.count
    }

    var text: String { String(characters) }
    var isEmpty: Bool { characters.isEmpty }

    /// Inserts at the cursor. The character before the cursor is re-joined with the new text, so a combining
    /// mark typed after its base letter becomes part of it.
    mutating func insert(_ text: String) {
        guard !text.isEmpty else { return }
        let joinStart = cursor > 0 ? cursor - 1 : cursor
        let joined = Array(String(characters[joinStart..<cursor]) + text)
        characters.replaceSubrange(joinStart..<cursor, with: joined)
        cursor = joinStart + joined.count
    }

    mutating func backspace() {
        guard cursor > 0 else { return }
        characters.remove(at: cursor - 1)
        cursor -= 1
    }

    mutating func deleteForward() {
        guard cursor < characters.count else { return }
        characters.remove(at: cursor)
    }

    mutating func moveLeft() { cursor = max(0, cursor - 1) }
    mutating func moveRight() { cursor = min(characters.count, cursor + 1) }
    mutating func moveHome() { cursor = 0 }
    mutating func moveEnd() { cursor = characters.count }

    /// Back to the start of the previous word (words are runs of non-whitespace).
    mutating func moveWordLeft() { cursor = previousWordStart() }

    /// Forward past the end of the next word.
    mutating func moveWordRight() {
        var index = cursor
        while index < characters.count, characters[index].isWhitespace { index += 1 }
        while index < characters.count, !characters[index].isWhitespace { index += 1 }
        cursor = index
    }

    /// Ctrl-K.
    mutating func killToEnd() { characters.removeSubrange(cursor...) }

    /// Ctrl-U.
    mutating func killToStart() {
        characters.removeSubrange(..<cursor)
        cursor = 0
    }

    /// Ctrl-W: the whitespace before the cursor, then the word before that.
    mutating func deleteWordBefore() {
        let start = previousWordStart()
        characters.removeSubrange(start..<cursor)
        cursor = start
    }

    private func previousWordStart() -> Int {
        var index = cursor
        while index > 0, characters[index - 1].isWhitespace { index -= 1 }
        while index > 0, !characters[index - 1].isWhitespace { index -= 1 }
        return index
    }
}

/// Terminal columns a character takes: 2 for East Asian wide and most emoji, 0 for a lone combining mark,
/// else 1. An approximation of wcwidth that is good enough for a prompt line.
func displayWidth(_ character: Character) -> Int {
    guard let scalar = character.unicodeScalars.first else { return 0 }
    let value = scalar.value
    if value < 0x20 || (0x7F..<0xA0).contains(value) { return 1 }   // drawn as a space by displayText
    if scalar.properties.generalCategory == .nonspacingMark || scalar.properties.generalCategory == .enclosingMark { return 0 }
    let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
        0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
        0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD,
    ]
    if wideRanges.contains(where: { $0.contains(value) }) { return 2 }
    // A character with an emoji presentation selector (U+FE0F) is drawn as wide emoji by most terminals.
    if character.unicodeScalars.contains(where: { $0.value == 0xFE0F }) { return 2 }
    return 1
}

/// How a character is drawn on the prompt line: control characters (a pasted tab) as a space, so the
/// drawn width matches `displayWidth`.
func displayText(_ character: Character) -> String {
    guard let scalar = character.unicodeScalars.first, scalar.value >= 0x20, !(0x7F..<0xA0).contains(scalar.value) else { return " " }
    return String(character)
}
