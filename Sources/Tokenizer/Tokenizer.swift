import GGUF

/// Text ↔ token ids for a GGUF model: byte-level BPE (`gpt2`) or SentencePiece (`llama`), matching
/// llama.cpp's ids. Immutable after init; share one instance across threads.
///
/// Pieces: `piece(_:)` renders normal tokens as their bytes, byte tokens as their byte and
/// user-defined tokens as their text; control, unknown and unused tokens render as nothing (as
/// llama.cpp's token_to_piece with special = false). Ask `piece(_:includeSpecial: true)` for their text.
public final class Tokenizer: Sendable {
    public enum Model: String, Sendable {
        case bytePairEncoding = "gpt2"
        case sentencePiece = "llama"
    }

    public let model: Model
    /// `tokenizer.ggml.pre` as read (nil for SentencePiece; "default" when a BPE file lacks it).
    public let preTokenizerName: String?
    public let vocabularySize: Int
    public let bosToken: Int?
    public let eosToken: Int?
    /// End of turn: `tokenizer.ggml.eot_token_id`, else found by text (`<|eot_id|>`, `<|im_end|>`…).
    public let eotToken: Int?
    /// End of message (`<|eom_id|>`, Llama 3.1 tool calls).
    public let eomToken: Int?
    public let unknownToken: Int?
    /// `tokenizer.ggml.add_bos_token`; absent → true for SentencePiece and the Llama 3 family, else false.
    public let addBOS: Bool
    /// `tokenizer.ggml.add_eos_token` (default false). `encode` never appends EOS; callers that want it may.
    public let addEOS: Bool
    /// SentencePiece only: a ▁ is put before the text (`tokenizer.ggml.add_space_prefix`, default true).
    public let addSpacePrefix: Bool
    /// Every id that ends generation: EOS, EOT, EOM and tokens known to end turns.
    public let endOfGenerationTokens: Set<Int>

    let tokens: [String]
    let types: [TokenType]
    let table: TokenTable
    /// Rendered bytes of every token, flat: token i is pieceBytes[pieceStarts[i]..<pieceStarts[i+1]].
    let pieceBytes: [UInt8]
    let pieceStarts: [Int]
    let encoder: Encoder
    /// Control, user-defined and unknown tokens: matched in text when the caller parses special tokens.
    let specialMatcher: SpecialTokenMatcher
    /// User-defined tokens only: matched even when special tokens are not parsed, as llama.cpp
    /// (and Hugging Face's added tokens) do.
    let userDefinedMatcher: SpecialTokenMatcher

    enum Encoder: Sendable {
        case bytePair(BytePairModel)
        case sentencePiece(SentencePieceModel)
    }

    init(model: Model, preTokenizerName: String?, tokens: [String], types: [TokenType], table: TokenTable,
         encoder: Encoder, special: SpecialIds, addBOS: Bool, addEOS: Bool, addSpacePrefix: Bool) {
        self.model = model
        self.preTokenizerName = preTokenizerName
        self.vocabularySize = tokens.count
        self.tokens = tokens
        self.table = table
        self.encoder = encoder
        self.bosToken = special.bos
        self.eosToken = special.eos
        self.eotToken = special.eot
        self.eomToken = special.eom
        self.unknownToken = special.unknown
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix

        // Tokens that end generation are control tokens even where the file says otherwise (llama.cpp).
        var types = types
        var endOfGeneration = Set([special.eos, special.eot, special.eom].compactMap { $0 })
        for text in Self.endOfGenerationTexts {
            if let id = table.id(of: text) { endOfGeneration.insert(id) }
        }
        for id in endOfGeneration where types[id] != .control { types[id] = .control }
        self.types = types
        self.endOfGenerationTokens = endOfGeneration

        var pieceBytes: [UInt8] = []
        var pieceStarts: [Int] = [0]
        pieceStarts.reserveCapacity(tokens.count + 1)
        for (id, text) in tokens.enumerated() {
            pieceBytes.append(contentsOf: Self.render(text, type: types[id], model: model))
            pieceStarts.append(pieceBytes.count)
        }
        self.pieceBytes = pieceBytes
        self.pieceStarts = pieceStarts

        var special: [(id: Int, text: [UInt8])] = []
        var userDefined: [(id: Int, text: [UInt8])] = []
        for (id, type) in types.enumerated() {
            switch type {
            case .control, .unknown: special.append((id, Array(tokens[id].utf8)))
            case .userDefined:
                special.append((id, Array(tokens[id].utf8)))
                userDefined.append((id, Array(tokens[id].utf8)))
            default: break
            }
        }
        self.specialMatcher = SpecialTokenMatcher(special)
        self.userDefinedMatcher = SpecialTokenMatcher(userDefined)
    }

    struct SpecialIds {
        var bos: Int?, eos: Int?, eot: Int?, eom: Int?, unknown: Int?
    }

    /// Texts of tokens that end a turn in some model family (llama.cpp's list).
    static let endOfGenerationTexts = [
        "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>",
        "<|endoftext|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
    ]
    /// Texts that name the end-of-turn token when the file gives none, most specific first.
    static let endOfTurnTexts = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>",
        "<\u{FF5C}end\u{2581}of\u{2581}sentence\u{FF5C}>",
    ]

    /// The bytes a token stands for in generated text.
    static func render(_ text: String, type: TokenType, model: Model) -> [UInt8] {
        switch type {
        case .normal:
            switch model {
            case .bytePairEncoding: return ByteLevelAlphabet.decode(text)
            case .sentencePiece:
                var bytes: [UInt8] = []
                for scalar in text.unicodeScalars {
                    if scalar == "\u{2581}" { bytes.append(0x20) } else { bytes.append(contentsOf: String(Character(scalar)).utf8) }
                }
                return bytes
            }
        case .byte: return parseByteToken(text).map { [$0] } ?? []
        case .userDefined: return Array(text.utf8)
        case .control, .unknown, .unused, .undefined: return []
        }
    }

    /// The byte of a `<0xNN>` token (either hex case), nil if malformed.
    static func parseByteToken(_ text: String) -> UInt8? {
        let bytes = Array(text.utf8)
        guard bytes.count == 6, bytes[0] == 0x3C, bytes[1] == 0x30, bytes[2] == 0x78, bytes[5] == 0x3E,
              let high = hexValue(bytes[3]), let low = hexValue(bytes[4]) else { return nil }
        return high << 4 | low
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }

    // MARK: - Queries

    public func isEndOfGeneration(_ id: Int) -> Bool { endOfGenerationTokens.contains(id) }

    public func isControl(_ id: Int) -> Bool { tokenType(id) == .control }

    public func tokenType(_ id: Int) -> TokenType? { types.indices.contains(id) ? types[id] : nil }

    /// The token's text as stored in the vocabulary (GPT-2 alphabet for BPE, ▁ for spaces in SentencePiece).
    public func tokenText(_ id: Int) -> String? { tokens.indices.contains(id) ? tokens[id] : nil }

    /// The id of a token by its exact vocabulary text.
    public func tokenId(forText text: String) -> Int? { table.id(of: text) }

    // MARK: - Decoding

    /// Raw bytes of one token (see the type's note on special tokens); empty for an id out of range.
    public func piece(_ id: Int) -> [UInt8] { piece(id, includeSpecial: false) }

    public func piece(_ id: Int, includeSpecial: Bool) -> [UInt8] {
        guard id >= 0, id < vocabularySize else { return [] }
        if includeSpecial, types[id] == .control || types[id] == .unknown { return Array(tokens[id].utf8) }
        return Array(pieceBytes[pieceStarts[id]..<pieceStarts[id + 1]])
    }

    /// The text of a sequence of ids; invalid UTF-8 becomes U+FFFD. For SentencePiece with a space
    /// prefix, the space that encoding put before the first text token is removed again, so
    /// `decode(encode(s))` gives back `s`.
    public func decode(_ ids: [Int], includeSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        var stripSpace = model == .sentencePiece && addSpacePrefix
        for id in ids {
            let piece = piece(id, includeSpecial: includeSpecial)
            guard !piece.isEmpty else { continue }
            if stripSpace && piece[0] == 0x20 { bytes.append(contentsOf: piece.dropFirst()) } else { bytes.append(contentsOf: piece) }
            stripSpace = false
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Encoding

    /// Token ids of `text`. `addBOS` puts the BOS token first (when the vocabulary has one; pass
    /// `tokenizer.addBOS` for the model's preference). `parseSpecial` lets the text name control
    /// tokens such as `<|eot_id|>` (chat templates); leave it false for user content, where such
    /// text stays plain text.
    public func encode(_ text: String, addBOS: Bool, parseSpecial: Bool) -> [Int] {
        var output: [Int] = []
        if addBOS, let bosToken { output.append(bosToken) }
        var text = text
        let matcher = parseSpecial ? specialMatcher : userDefinedMatcher
        text.withUTF8 { bytes in
            output.reserveCapacity(output.count + bytes.count / 3 + 1)
            switch encoder {
            case .bytePair(let bytePair):
                var workspace = BytePairModel.Workspace()
                matcher.partition(bytes) { fragment in
                    switch fragment {
                    case .token(let id): output.append(id)
                    case .text(let range): bytePair.encode(bytes, range, table: table, workspace: &workspace, output: &output)
                    }
                }
            case .sentencePiece(let sentencePiece):
                var workspace = SentencePieceModel.Workspace()
                var previousWasSpecial = true  // the text's start counts as following a special token
                matcher.partition(bytes) { fragment in
                    switch fragment {
                    case .token(let id):
                        output.append(id)
                        previousWasSpecial = true
                    case .text(let range):
                        sentencePiece.encode(UnsafeBufferPointer(rebasing: bytes[range]), prefixSpace: previousWasSpecial,
                                             table: table, workspace: &workspace, output: &output)
                        previousWasSpecial = false
                    }
                }
            }
        }
        return output
    }
}
