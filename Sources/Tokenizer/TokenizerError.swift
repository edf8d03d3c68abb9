/// Everything that can be wrong with a tokenizer's metadata. Each case names the GGUF key (and the
/// token id or merge index) at fault, so the runner can print one clear line.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingKey(String)
    case wrongType(key: String, reason: String)
    case unknownModel(name: String, supported: [String])
    case unknownPreTokenizer(name: String, supported: [String])
    case emptyVocabulary(key: String)
    case vocabularyTooLarge(key: String, count: Int)
    case lengthMismatch(key: String, count: Int, expected: Int)
    case badTokenType(key: String, id: Int, type: Int)
    case tokenIdOutOfRange(key: String, id: Int, vocabularySize: Int)
    case badByteToken(key: String, id: Int, text: String)
    case badMerge(key: String, index: Int, text: String, reason: String)

    public var description: String {
        switch self {
        case .missingKey(let key):
            return "tokenizer: metadata key \"\(key)\" is missing"
        case .wrongType(let key, let reason):
            return "tokenizer: metadata \"\(key)\": \(reason)"
        case .unknownModel(let name, let supported):
            return "tokenizer: unknown tokenizer.ggml.model \"\(name)\" (supported: \(supported.joined(separator: ", ")))"
        case .unknownPreTokenizer(let name, let supported):
            return "tokenizer: unknown tokenizer.ggml.pre \"\(name)\" (supported: \(supported.joined(separator: ", ")))"
        case .emptyVocabulary(let key):
            return "tokenizer: \"\(key)\" holds no tokens"
        case .vocabularyTooLarge(let key, let count):
            return "tokenizer: \"\(key)\" holds \(count) tokens, more than token ids can address"
        case .lengthMismatch(let key, let count, let expected):
            return "tokenizer: \"\(key)\" has \(count) entries but the vocabulary has \(expected) tokens"
        case .badTokenType(let key, let id, let type):
            return "tokenizer: \"\(key)\": token \(id) has unknown type \(type) (expected 0...6)"
        case .tokenIdOutOfRange(let key, let id, let size):
            return "tokenizer: \"\(key)\" = \(id) is not a token id (vocabulary size \(size))"
        case .badByteToken(let key, let id, let text):
            return "tokenizer: \"\(key)\": byte token \(id) is \"\(text)\", expected the form <0xNN>"
        case .badMerge(let key, let index, let text, let reason):
            return "tokenizer: \"\(key)\": merge #\(index) \"\(text)\" \(reason)"
        }
    }
}
