import GGUF

/// Why a GGUF cannot be run as a model. Each case names the key or tensor at fault.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownArchitecture(String)
    case missingKey(String)
    case badHyperParameter(key: String, reason: String)
    case missingTensor(String)
    case badShape(tensor: String, expected: [Int], found: [Int])
    case unsupportedType(tensor: String, type: TensorType)
    case metadata(GGUFError)
    case contextTooLong(prompt: Int, context: Int)
    case badToken(id: Int, vocabularySize: Int)
    case offloadFailed(String)
    /// A tensor error (missing, mis-shaped, uncomputable) of a model of this architecture.
    indirect case inArchitecture(String, ModelError)

    public var description: String {
        switch self {
        case .unknownArchitecture(let a):
            return "unsupported model architecture \"\(a)\" (supported: \(Architecture.supportedNames.joined(separator: ", ")))"
        case .missingKey(let k): return "model metadata is missing \"\(k)\""
        case .badHyperParameter(let k, let r): return "model metadata \"\(k)\": \(r)"
        case .missingTensor(let n): return "model is missing tensor \"\(n)\""
        case .badShape(let n, let e, let f): return "tensor \"\(n)\" has shape \(f), expected \(e)"
        case .unsupportedType(let n, let t): return "tensor \"\(n)\" has type \(t), which this build cannot compute with"
        case .metadata(let e): return e.description
        case .contextTooLong(let p, let c): return "the prompt has \(p) tokens but the context holds \(c) (raise -c/--ctx-size or shorten the prompt)"
        case .badToken(let id, let n): return "token id \(id) is outside the vocabulary (0..<\(n))"
        case .inArchitecture(let a, .missingTensor(let n)):
            return "\(a) model is missing tensor \"\(n)\""
        case .inArchitecture(let a, let inner):
            return "\(a) model: \(inner.description)"
        case .offloadFailed(let why): return "\(why); its layers' cached context is lost (later requests run on the CPU)"
        }
    }
}
