/// Splits text into the pieces that byte-pair merging works on, one `tokenizer.ggml.pre` recipe each.
/// A recipe is a list of passes applied in order, each to every piece the previous one produced
/// (as llama.cpp applies its list of regexes); text a pass does not match stays as its own piece.
/// The passes are hand-written state machines over Unicode scalars for the regexes in the comments.
final class PreTokenizer: Sendable {
    enum Pass: Sendable {
        /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
        case llama3(maxDigits: Int)
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
        case gpt2
        /// `\p{N}`: every number scalar alone.
        case isolatedNumbers
        /// `\p{N}+`
        case numberRuns
        /// `[\p{P}\$\+<=>\^~\|]+` (plus the backtick when `withBacktick`).
        case punctuationRuns(withBacktick: Bool)
        /// `[0-9][0-9][0-9]`
        case asciiDigitTriples
    }

    /// The recipe's name as written in GGUF, and whether a piece that is already a whole token skips
    /// merging (llama.cpp's `ignore_merges`, set for the Llama 3 family).
    let name: String
    let passes: [Pass]
    let ignoresMerges: Bool
    /// What llama.cpp assumes for `add_bos_token` when the key is absent.
    let addsBOSByDefault: Bool

    init(name: String, passes: [Pass], ignoresMerges: Bool, addsBOSByDefault: Bool) {
        self.name = name
        self.passes = passes
        self.ignoresMerges = ignoresMerges
        self.addsBOSByDefault = addsBOSByDefault
    }

    /// Recipes by `tokenizer.ggml.pre`, grouped as llama.cpp groups them (same regexes, same flags).
    static func named(_ name: String) -> PreTokenizer? {
        switch name {
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral":
            return PreTokenizer(name: name, passes: [.llama3(maxDigits: 3)], ignoresMerges: true, addsBOSByDefault: true)
        case "dbrx", "smaug-bpe":
            return PreTokenizer(name: name, passes: [.llama3(maxDigits: 3)], ignoresMerges: false, addsBOSByDefault: false)
        case "qwen2", "stablelm2", "deepseek-r1-qwen", "megrez":
            return PreTokenizer(name: name, passes: [.llama3(maxDigits: 1)], ignoresMerges: false, addsBOSByDefault: false)
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b":
            return PreTokenizer(name: name, passes: [.isolatedNumbers, .gpt2], ignoresMerges: false, addsBOSByDefault: false)
        case "gpt2", "gpt-2", "phi-2", "mpt", "olmo", "jais":
            return PreTokenizer(name: name, passes: [.gpt2], ignoresMerges: false, addsBOSByDefault: false)
        case "falcon":
            return PreTokenizer(name: name, passes: [.punctuationRuns(withBacktick: true), .gpt2, .asciiDigitTriples],
                                ignoresMerges: false, addsBOSByDefault: false)
        case "default":
            return PreTokenizer(name: name, passes: [.punctuationRuns(withBacktick: false), .gpt2, .numberRuns, .asciiDigitTriples],
                                ignoresMerges: false, addsBOSByDefault: false)
        default:
            return nil
        }
    }

    static let supportedNames = [
        "llama-bpe", "llama3", "llama-v3", "falcon3", "pixtral", "dbrx", "smaug-bpe",
        "qwen2", "stablelm2", "deepseek-r1-qwen", "megrez",
        "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b",
        "gpt2", "gpt-2", "phi-2", "mpt", "olmo", "jais", "falcon", "default",
    ]

    /// Calls `emit` with each piece of `bytes[range]` (byte ranges, in order, covering the range).
    func split(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, emit: (Range<Int>) -> Void) {
        splitRecursively(bytes, range, passIndex: 0, emit: emit)
    }

    private func splitRecursively(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, passIndex: Int,
                                  emit: (Range<Int>) -> Void) {
        guard passIndex < passes.count else { emit(range); return }
        let scanner = UTF8Scanner(bytes: bytes, end: range.upperBound)
        let next: (Range<Int>) -> Void = { piece in
            self.splitRecursively(bytes, piece, passIndex: passIndex + 1, emit: emit)
        }
        switch passes[passIndex] {
        case .llama3(let maxDigits): Self.splitLlama3(scanner, from: range.lowerBound, maxDigits: maxDigits, emit: next)
        case .gpt2: Self.splitGPT2(scanner, from: range.lowerBound, emit: next)
        case .isolatedNumbers:
            Self.splitRuns(scanner, from: range.lowerBound, maxRun: 1, emit: next) { $0.characterClass.contains(.number) }
        case .numberRuns:
            Self.splitRuns(scanner, from: range.lowerBound, maxRun: Int.max, emit: next) { $0.characterClass.contains(.number) }
        case .punctuationRuns(let withBacktick):
            Self.splitRuns(scanner, from: range.lowerBound, maxRun: Int.max, emit: next) { scalar in
                if scalar.characterClass.contains(.punctuation) { return true }
                switch scalar.value {
                case 0x24, 0x2B, 0x3C, 0x3D, 0x3E, 0x5E, 0x7E, 0x7C: return true  // $ + < = > ^ ~ |
                case 0x60: return withBacktick
                default: return false
                }
            }
        case .asciiDigitTriples:
            Self.splitRuns(scanner, from: range.lowerBound, maxRun: 3, minimumRun: 3, emit: next) { (0x30...0x39).contains($0.value) }
        }
    }

    // MARK: - Runs of one class

    /// Pieces that are runs of scalars matching `matches` (cut every `maxRun` scalars; runs shorter
    /// than `minimumRun` do not count as matches), with the text between them as pieces of their own.
    private static func splitRuns(_ scanner: UTF8Scanner, from start: Int, maxRun: Int, minimumRun: Int = 1,
                                  emit: (Range<Int>) -> Void, matches: (ScannedScalar) -> Bool) {
        var gapStart = start
        var position = start
        while position < scanner.end {
            // Measure the run of matching scalars here, up to maxRun of them.
            var runEnd = position
            var runLength = 0
            while runLength < maxRun {
                let scalar = scanner.scalar(at: runEnd)
                guard !scalar.isEnd, matches(scalar) else { break }
                runEnd += scalar.length
                runLength += 1
            }
            if runLength >= minimumRun {
                if gapStart < position { emit(gapStart..<position) }
                emit(position..<runEnd)
                position = runEnd
                gapStart = runEnd
            } else {
                position += max(scanner.scalar(at: position).length, 1)
            }
        }
        if gapStart < scanner.end { emit(gapStart..<scanner.end) }
    }

    // MARK: - Whitespace tail shared by both regex families

    /// `\s*[\r\n]+` (when `lineBreaksFirst`), then `\s+(?!\S)`, then `\s+`; nil when no whitespace here.
    private static func whitespaceEnd(_ scanner: UTF8Scanner, at start: Int, lineBreaksFirst: Bool) -> Int? {
        var position = start
        var count = 0
        var lastScalarStart = start
        var afterLastLineBreak: Int? = nil
        while true {
            let scalar = scanner.scalar(at: position)
            guard scalar.characterClass.contains(.whitespace) else { break }
            lastScalarStart = position
            position += scalar.length
            count += 1
            if scalar.isLineBreak { afterLastLineBreak = position }
        }
        guard count > 0 else { return nil }
        if lineBreaksFirst, let afterLastLineBreak { return afterLastLineBreak }
        // A run followed by a non-space gives its last scalar to the next piece (" world").
        if count > 1 && position < scanner.end { return lastScalarStart }
        return position
    }

    // MARK: - Llama 3

    private static func splitLlama3(_ scanner: UTF8Scanner, from start: Int, maxDigits: Int, emit: (Range<Int>) -> Void) {
        var position = start
        while position < scanner.end {
            let pieceStart = position
            let first = scanner.scalar(at: position)

            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if first.value == 0x27, let end = contractionEnd(scanner, apostropheAt: position, caseInsensitive: true) {
                emit(pieceStart..<end); position = end; continue
            }

            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !first.isLineBreak && !first.characterClass.contains(.number) {
                var letterStart: Int? = nil
                if first.characterClass.contains(.letter) {
                    letterStart = position
                } else if scanner.scalar(at: position + first.length).characterClass.contains(.letter) {
                    letterStart = position + first.length
                }
                if let letterStart {
                    var end = letterStart
                    while true {
                        let scalar = scanner.scalar(at: end)
                        guard scalar.characterClass.contains(.letter) else { break }
                        end += scalar.length
                    }
                    emit(pieceStart..<end); position = end; continue
                }
            }

            // \p{N}{1,maxDigits}
            if first.characterClass.contains(.number) {
                var end = position
                var count = 0
                while count < maxDigits {
                    let scalar = scanner.scalar(at: end)
                    guard scalar.characterClass.contains(.number) else { break }
                    end += scalar.length
                    count += 1
                }
                emit(pieceStart..<end); position = end; continue
            }

            // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
            if let end = symbolRunEnd(scanner, at: position, first: first, trailingLineBreaks: true) {
                emit(pieceStart..<end); position = end; continue
            }

            // \s*[\r\n]+ | \s+(?!\S) | \s+
            if let end = whitespaceEnd(scanner, at: position, lineBreaksFirst: true) {
                emit(pieceStart..<end); position = end; continue
            }

            // Nothing matched (cannot happen for valid text): one scalar alone.
            position += max(first.length, 1)
            emit(pieceStart..<position)
        }
    }

    // MARK: - GPT-2

    private static func splitGPT2(_ scanner: UTF8Scanner, from start: Int, emit: (Range<Int>) -> Void) {
        var position = start
        while position < scanner.end {
            let pieceStart = position
            let first = scanner.scalar(at: position)

            // 's|'t|'re|'ve|'m|'ll|'d (lower case only)
            if first.value == 0x27, let end = contractionEnd(scanner, apostropheAt: position, caseInsensitive: false) {
                emit(pieceStart..<end); position = end; continue
            }

            // ' ?\p{L}+' and ' ?\p{N}+': an optional leading space, then a run of one class.
            let bodyStart = first.value == 0x20 ? position + 1 : position
            let body = first.value == 0x20 ? scanner.scalar(at: bodyStart) : first
            let runClass: CharacterClass? = body.characterClass.contains(.letter) ? .letter
                : body.characterClass.contains(.number) ? .number : nil
            if let runClass {
                var end = bodyStart
                while true {
                    let scalar = scanner.scalar(at: end)
                    guard scalar.characterClass.contains(runClass) else { break }
                    end += scalar.length
                }
                emit(pieceStart..<end); position = end; continue
            }

            // ' ?[^\s\p{L}\p{N}]+'
            if let end = symbolRunEnd(scanner, at: position, first: first, trailingLineBreaks: false) {
                emit(pieceStart..<end); position = end; continue
            }

            // \s+(?!\S) | \s+
            if let end = whitespaceEnd(scanner, at: position, lineBreaksFirst: false) {
                emit(pieceStart..<end); position = end; continue
            }

            position += max(first.length, 1)
            emit(pieceStart..<position)
        }
    }

    // MARK: - Shared pieces

    /// End of `'s 't 're 've 'm 'll 'd` starting at an apostrophe, or nil.
    private static func contractionEnd(_ scanner: UTF8Scanner, apostropheAt position: Int, caseInsensitive: Bool) -> Int? {
        func letter(_ scalar: ScannedScalar) -> UInt32 {
            // Only ASCII letters take part; fold case when asked.
            if caseInsensitive && (0x41...0x5A).contains(scalar.value) { return scalar.value + 0x20 }
            return scalar.value
        }
        let second = scanner.scalar(at: position + 1)
        guard !second.isEnd else { return nil }
        switch letter(second) {
        case 0x73, 0x74, 0x6D, 0x64:  // s t m d
            return position + 1 + second.length
        case 0x72, 0x76, 0x6C:  // r v l: need a second letter
            let third = scanner.scalar(at: position + 1 + second.length)
            guard !third.isEnd else { return nil }
            let pair = (letter(second), letter(third))
            if pair == (0x72, 0x65) || pair == (0x76, 0x65) || pair == (0x6C, 0x6C) {  // re ve ll
                return position + 1 + second.length + third.length
            }
            return nil
        default:
            return nil
        }
    }

    /// ` ?[^\s\p{L}\p{N}]+` (then `[\r\n]*` when asked): its end, or nil when it does not match here.
    private static func symbolRunEnd(_ scanner: UTF8Scanner, at position: Int, first: ScannedScalar,
                                     trailingLineBreaks: Bool) -> Int? {
        var end = first.value == 0x20 ? position + 1 : position
        var scalar = scanner.scalar(at: end)
        guard !scalar.isEnd, scalar.characterClass.isOther else { return nil }
        while !scalar.isEnd && scalar.characterClass.isOther {
            end += scalar.length
            scalar = scanner.scalar(at: end)
        }
        if trailingLineBreaks {
            while scalar.isLineBreak {
                end += scalar.length
                scalar = scanner.scalar(at: end)
            }
        }
        return end
    }
}
