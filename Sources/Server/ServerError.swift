/// Every way a request can fail, with the HTTP status and the OpenAI error `type` it maps to. A bad request is
/// always a 4xx: the openai client silently retries 5xx, which would hide the client's mistake.
public enum ServerError: Error, Equatable, Sendable, CustomStringConvertible {
    case badRequest(String)
    case contextExceeded(promptTokens: Int, contextLength: Int)
    case unauthorized
    case forbidden(String)
    case notFound(String)
    case methodNotAllowed(method: String, path: String)
    case payloadTooLarge(limit: Int)
    case unavailable(String, retryAfterSeconds: Int?)
    case internalFailure(String)

    public var status: Int {
        switch self {
        case .badRequest, .contextExceeded: return 400
        case .unauthorized: return 401
        case .forbidden: return 403
        case .notFound: return 404
        case .methodNotAllowed: return 405
        case .payloadTooLarge: return 413
        case .unavailable: return 503
        case .internalFailure: return 500
        }
    }

    public var type: String {
        switch self {
        case .badRequest, .methodNotAllowed, .payloadTooLarge: return "invalid_request_error"
        case .contextExceeded: return "exceed_context_size_error"
        case .unauthorized: return "authentication_error"
        case .forbidden: return "permission_error"
        case .notFound: return "not_found_error"
        case .unavailable: return "unavailable_error"
        case .internalFailure: return "server_error"
        }
    }

    public var description: String {
        switch self {
        case .badRequest(let m): return m
        case .contextExceeded(let p, let c):
            return "the request exceeds the available context size: the prompt has \(p) tokens, the context of a slot holds \(c)"
        case .unauthorized: return "invalid or missing API key (send Authorization: Bearer KEY or X-Api-Key: KEY)"
        case .forbidden(let m): return m
        case .notFound(let p): return "no such route or file: \(p)"
        case .methodNotAllowed(let m, let p): return "\(m) is not allowed on \(p)"
        case .payloadTooLarge(let l): return "the request body is larger than the limit of \(l) bytes"
        case .unavailable(let m, _): return m
        case .internalFailure(let m): return m
        }
    }

    /// The OpenAI error envelope (llama.cpp adds `code`, the HTTP status, inside it).
    public var envelope: JSONValue {
        .object([("error", .object([
            ("code", .integer(status)),
            ("message", .string(description)),
            ("type", .string(type)),
        ]))])
    }
}
