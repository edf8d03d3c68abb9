import GGUF

extension Tokenizer {
    public static let supportedModels = ["gpt2", "llama"]

    /// Reads the `tokenizer.ggml.*` keys and checks them: array lengths agree, special ids are in
    /// range, byte tokens are `<0xNN>`, merges name tokens. Each failure names the key at fault.
    public convenience init(gguf: GGUFFile) throws {
        let metadata = MetadataReader(file: gguf)
        guard let modelName = try metadata.string(TokenizerKey.model) else { throw TokenizerError.missingKey(TokenizerKey.model) }
        guard let model = Model(rawValue: modelName) else {
            throw TokenizerError.unknownModel(name: modelName, supported: Self.supportedModels)
        }

        guard let tokens = try metadata.stringArray(TokenizerKey.tokens) else { throw TokenizerError.missingKey(TokenizerKey.tokens) }
        guard !tokens.isEmpty else { throw TokenizerError.emptyVocabulary(key: TokenizerKey.tokens) }
        // Ids travel as Int32 inside the merge loops.
        guard tokens.count < Int(Int32.max) else { throw TokenizerError.vocabularyTooLarge(key: TokenizerKey.tokens, count: tokens.count) }

        var types = [TokenType](repeating: .normal, count: tokens.count)
        if let rawTypes = try metadata.integerArray(TokenizerKey.tokenTypes) {
            guard rawTypes.count == tokens.count else {
                throw TokenizerError.lengthMismatch(key: TokenizerKey.tokenTypes, count: rawTypes.count, expected: tokens.count)
            }
            for (id, raw) in rawTypes.enumerated() {
                guard let type = TokenType(rawValue: raw) else { throw TokenizerError.badTokenType(key: TokenizerKey.tokenTypes, id: id, type: raw) }
                types[id] = type
            }
        }
        var scores = [Float](repeating: 0, count: tokens.count)
        if let fileScores = try metadata.floatArray(TokenizerKey.scores) {
            guard fileScores.count == tokens.count else {
                throw TokenizerError.lengthMismatch(key: TokenizerKey.scores, count: fileScores.count, expected: tokens.count)
            }
            scores = fileScores
        }

        var byteTokens = [Int32](repeating: -1, count: 256)
        for (id, type) in types.enumerated() where type == .byte {
            guard let byte = Self.parseByteToken(tokens[id]) else {
                throw TokenizerError.badByteToken(key: TokenizerKey.tokens, id: id, text: String(tokens[id].prefix(40)))
            }
            byteTokens[Int(byte)] = Int32(id)
        }

        let table = TokenTable(tokens: tokens)
        func tokenId(_ key: String) throws -> Int? {
            guard let id = try metadata.integer(key) else { return nil }
            guard id >= 0, id < tokens.count else {
                throw TokenizerError.tokenIdOutOfRange(key: key, id: id, vocabularySize: tokens.count)
            }
            return id
        }
        var special = SpecialIds(bos: try tokenId(TokenizerKey.bosTokenId), eos: try tokenId(TokenizerKey.eosTokenId),
                                 eot: try tokenId(TokenizerKey.eotTokenId), eom: try tokenId(TokenizerKey.eomTokenId),
                                 unknown: try tokenId(TokenizerKey.unknownTokenId))
        special.eot = special.eot ?? Self.endOfTurnTexts.lazy.compactMap { table.id(of: $0) }.first
        special.eom = special.eom ?? table.id(of: "<|eom_id|>")

        let encoder: Encoder
        let preTokenizerName: String?
        let addBOSDefault: Bool
        var addSpacePrefix = false
        switch model {
        case .bytePairEncoding:
            let name = try metadata.string(TokenizerKey.preTokenizer) ?? "default"
            guard let preTokenizer = PreTokenizer.named(name) else {
                throw TokenizerError.unknownPreTokenizer(name: name, supported: PreTokenizer.supportedNames)
            }
            guard let merges = try metadata.stringArray(TokenizerKey.merges) else { throw TokenizerError.missingKey(TokenizerKey.merges) }
            encoder = .bytePair(try BytePairModel(merges: merges, table: table, preTokenizer: preTokenizer))
            preTokenizerName = name
            addBOSDefault = preTokenizer.addsBOSByDefault
        case .sentencePiece:
            // llama.cpp's defaults for SentencePiece files that omit the ids.
            func fallback(_ id: Int) -> Int? { id < tokens.count ? id : nil }
            special.bos = special.bos ?? fallback(1)
            special.eos = special.eos ?? fallback(2)
            special.unknown = special.unknown ?? fallback(0)
            addSpacePrefix = try metadata.bool(TokenizerKey.addSpacePrefix) ?? true
            encoder = .sentencePiece(SentencePieceModel(tokens: tokens, scores: scores, byteTokens: byteTokens,
                                                        unknownToken: special.unknown, addSpacePrefix: addSpacePrefix))
            preTokenizerName = nil
            addBOSDefault = true
        }
        let addBOS = try metadata.bool(TokenizerKey.addBOS) ?? addBOSDefault
        let addEOS = try metadata.bool(TokenizerKey.addEOS) ?? false

        self.init(model: model, preTokenizerName: preTokenizerName, tokens: tokens, types: types, table: table,
                  encoder: encoder, special: special, addBOS: addBOS, addEOS: addEOS, addSpacePrefix: addSpacePrefix)
    }
}

/// GGUF's typed accessors, with a wrong type reported as a TokenizerError naming the key.
private struct MetadataReader {
    let file: GGUFFile

    private func read<T>(_ key: String, _ get: (String) throws -> T?) throws -> T? {
        do { return try get(key) } catch let error as GGUFError {
            throw TokenizerError.wrongType(key: key, reason: error.description)
        }
    }

    func string(_ key: String) throws -> String? { try read(key, file.string) }
    func stringArray(_ key: String) throws -> [String]? { try read(key, file.stringArray) }
    func integerArray(_ key: String) throws -> [Int]? { try read(key, file.integerArray) }
    func floatArray(_ key: String) throws -> [Float]? { try read(key, file.floatArray) }
    func integer(_ key: String) throws -> Int? { try read(key, file.integer) }
    func bool(_ key: String) throws -> Bool? { try read(key, file.bool) }
}
