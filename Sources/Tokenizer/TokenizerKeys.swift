/// The GGUF metadata keys the tokenizer reads, in one table.
enum TokenizerKey {
    static let model = "tokenizer.ggml.model"
    static let preTokenizer = "tokenizer.ggml.pre"
    static let tokens = "tokenizer.ggml.tokens"
    static let tokenTypes = "tokenizer.ggml.token_type"
    static let scores = "tokenizer.ggml.scores"
    static let merges = "tokenizer.ggml.merges"
    static let bosTokenId = "tokenizer.ggml.bos_token_id"
    static let eosTokenId = "tokenizer.ggml.eos_token_id"
    static let eotTokenId = "tokenizer.ggml.eot_token_id"
    static let eomTokenId = "tokenizer.ggml.eom_token_id"
    static let unknownTokenId = "tokenizer.ggml.unknown_token_id"
    static let addBOS = "tokenizer.ggml.add_bos_token"
    static let addEOS = "tokenizer.ggml.add_eos_token"
    static let addSpacePrefix = "tokenizer.ggml.add_space_prefix"
}

/// What a token is, from `tokenizer.ggml.token_type` (llama.cpp's numbering).
public enum TokenType: Int, Sendable {
    case undefined = 0
    case normal = 1
    case unknown = 2
    case control = 3
    case userDefined = 4
    case unused = 5
    case byte = 6
}
