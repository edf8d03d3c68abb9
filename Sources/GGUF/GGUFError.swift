/// Everything that can be wrong with a GGUF file. Each case names the place at fault.
public enum GGUFError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(what: String, offset: Int)
    case badMagic(found: String)
    case unsupportedVersion(UInt32)
    case countTooLarge(what: String, count: UInt64)
    /// A count the file could hold but that would cost far more memory than any real model needs.
    case countOverLimit(what: String, count: UInt64, limit: Int)
    case emptyKey(index: Int)
    case duplicateKey(String)
    case badValueType(key: String, type: UInt32)
    case nestedArray(key: String)
    case wrongType(key: String, expected: String, found: String)
    case badAlignment(String)
    case duplicateTensor(String)
    case badTensor(name: String, reason: String)
    case unknownTensorType(name: String, type: UInt32)
    case cannotOpen(path: String, reason: String)

    public var description: String {
        switch self {
        case .truncated(let what, let offset): return "GGUF truncated: \(what) at byte \(offset) runs past the end of the file"
        case .badMagic(let found): return "not a GGUF file: magic is \(found), expected \"GGUF\""
        case .unsupportedVersion(let v):
            if v == 0x0300_0000 || v == 0x0200_0000 { return "big-endian GGUF files are not supported" }
            return "unsupported GGUF version \(v) (supported: 2, 3)"
        case .countTooLarge(let what, let count): return "GGUF \(what) \(count) is larger than the file can hold"
        case .countOverLimit(let what, let count, let limit): return "GGUF \(what) \(count) is over this reader's limit of \(limit)"
        case .emptyKey(let index): return "GGUF metadata key #\(index) is empty"
        case .duplicateKey(let key): return "GGUF metadata key \"\(key)\" appears twice"
        case .badValueType(let key, let type): return "GGUF metadata \"\(key)\": value type \(type) is not valid"
        case .nestedArray(let key): return "GGUF metadata \"\(key)\": nested arrays are not supported"
        case .wrongType(let key, let expected, let found): return "GGUF metadata \"\(key)\": expected \(expected), found \(found)"
        case .badAlignment(let reason): return "GGUF general.alignment: \(reason)"
        case .duplicateTensor(let name): return "GGUF tensor \"\(name)\" appears twice"
        case .badTensor(let name, let reason): return "GGUF tensor \"\(name)\": \(reason)"
        case .unknownTensorType(let name, let type): return "GGUF tensor \"\(name)\": unknown type id \(type)"
        case .cannotOpen(let path, let reason): return "cannot open \(path): \(reason)"
        }
    }
}
