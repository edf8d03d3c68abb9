import Chat
import Engine
import Tokenizer

/// Everything the routes need that does not change while the server runs.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var apiKey: String?
    public var corsOrigins: [String] = []
    public var metricsEnabled = false
    public var limits = ServerLimits()
    public init() {}
}

/// Maps requests to answers: security checks first, then the route.
public struct Router: Sendable {
    public let configuration: ServerConfiguration
    public let policy: SecurityPolicy
    public let state: ServiceState
    public let startTime: Int

    public init(configuration: ServerConfiguration, state: ServiceState, startTime: Int) {
        self.configuration = configuration
        policy = SecurityPolicy(apiKey: configuration.apiKey, allowedOrigins: configuration.corsOrigins, bindHost: configuration.host)
        self.state = state
        self.startTime = startTime
    }

    var limits: ServerLimits { configuration.limits }

    public func handle(_ request: HTTPRequest, writer: any ResponseWriter) {
        let host = request.header("Host"), origin = request.header("Origin")
        let cors = policy.corsHeaders(origin: origin, host: host)
        let isPublic = request.path == "/health" || request.path == "/v1/health"
            || (request.method == "GET" && Assets.asset(at: request.path) != nil)

        if request.method == "OPTIONS" {
            // CORS preflight: answered without a key (browsers never send one here), only for allowed origins.
            if let refusal = policy.refusal(host: host, origin: origin, authorization: nil, apiKeyHeader: nil, requiresKey: false) {
                writer.respond(error: refusal)
            } else {
                writer.writeHead(status: 204, headers: cors + [("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
                                                             ("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Api-Key"),
                                                             ("Access-Control-Max-Age", "600"), ("Content-Length", "0")])
                writer.end()
            }
            return
        }
        if let refusal = policy.refusal(host: host, origin: origin, authorization: request.header("Authorization"),
                                        apiKeyHeader: request.header("X-Api-Key"), requiresKey: !isPublic) {
            writer.respond(error: refusal, headers: cors)
            return
        }
        do {
            try route(request, writer: writer, cors: cors)
        } catch {
            writer.respond(error: error, headers: cors)
        }
    }

    private func route(_ request: HTTPRequest, writer: any ResponseWriter, cors: [(String, String)]) throws(ServerError) {
        let path = request.path, method = request.method
        func expect(_ allowed: String) throws(ServerError) {
            guard method == allowed || (allowed == "GET" && method == "HEAD") else { throw .methodNotAllowed(method: method, path: path) }
        }
        switch path {
        case "/health", "/v1/health":
            try expect("GET")
            if state.draining {
                writer.respond(error: .unavailable("the server is shutting down", retryAfterSeconds: nil), headers: cors)
            } else if state.ready != nil {
                writer.respond(status: 200, json: .object([("status", "ok")]), headers: cors)
            } else {
                writer.respond(error: .unavailable("Loading model", retryAfterSeconds: 1), headers: cors)
            }
        case "/v1/models", "/models":
            try expect("GET")
            writer.respond(status: 200, json: models(try ready()), headers: cors)
        case "/v1/chat/completions", "/chat/completions":
            try expect("POST")
            try chatCompletion(request, writer: writer, cors: cors)
        case "/v1/completions":
            try expect("POST")
            try completion(request, shape: .textCompletion, writer: writer, cors: cors)
        case "/v1/embeddings", "/embeddings":
            try expect("POST")
            try embeddings(request, native: false, writer: writer, cors: cors)
        case "/embedding":
            try expect("POST")
            try embeddings(request, native: true, writer: writer, cors: cors)
        case "/completion", "/completions":
            try expect("POST")
            try completion(request, shape: .native, writer: writer, cors: cors)
        case "/tokenize":
            try expect("POST")
            writer.respond(status: 200, json: try tokenize(request), headers: cors)
        case "/detokenize":
            try expect("POST")
            writer.respond(status: 200, json: try detokenize(request), headers: cors)
        case "/apply-template":
            try expect("POST")
            let service = try ready()
            let body = try parseBody(request)
            let fields = try RequestFields(body)
            let parsed = ChatCompletionRequest(messages: try ChatCompletionRequest.parseMessages(fields, limits: limits),
                                               settings: service.defaults, tools: try ToolSettings.parse(fields))
            writer.respond(status: 200, json: .object([("prompt", .string(try service.renderChat(try service.prepareChat(parsed))))]), headers: cors)
        case "/props":
            try expect("GET")
            writer.respond(status: 200, json: props(try ready()), headers: cors)
        case "/metrics":
            try expect("GET")
            guard configuration.metricsEnabled else { throw .notFound("/metrics (start the server with --metrics to enable it)") }
            let service = try ready()
            writer.respond(status: 200, contentType: "text/plain; version=0.0.4", body: Metrics.prometheusText(service.scheduler.metrics), headers: cors)
        default:
            if let asset = Assets.asset(at: path) {
                try expect("GET")
                writer.respond(status: 200, contentType: asset.contentType, body: asset.body,
                               headers: cors + [("X-Content-Type-Options", "nosniff"), ("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'")])
            } else {
                throw .notFound(String(path.prefix(200)))
            }
        }
    }

    private func ready() throws(ServerError) -> ModelService {
        guard !state.draining else { throw .unavailable("the server is shutting down", retryAfterSeconds: nil) }
        guard let service = state.ready else { throw .unavailable("Loading model", retryAfterSeconds: 1) }
        return service
    }

    func parseBody(_ request: HTTPRequest) throws(ServerError) -> JSONValue {
        guard !request.body.isEmpty else { throw .badRequest("the request body is empty; send a JSON object") }
        do {
            return try JSONParser.parse(request.body, maximumDepth: limits.maximumJSONDepth)
        } catch {
            throw .badRequest("invalid JSON: \(error)")
        }
    }

    // MARK: - Generation routes

    private func chatCompletion(_ request: HTTPRequest, writer: any ResponseWriter, cors: [(String, String)]) throws(ServerError) {
        let service = try ready()
        let parsed = try ChatCompletionRequest.parse(try parseBody(request), defaults: service.defaults, limits: limits)
        let prepared = try service.prepareChat(parsed)
        let prompt = try service.chatPromptTokens(prepared)
        try submit(service: service, prompt: prompt, settings: parsed.settings, tooling: prepared.tooling, shape: .chatCompletion,
                   request: request, writer: writer, cors: cors)
    }

    private func completion(_ request: HTTPRequest, shape: ResponseShape, writer: any ResponseWriter, cors: [(String, String)]) throws(ServerError) {
        let service = try ready()
        let parsed = try CompletionRequest.parse(try parseBody(request), defaults: service.defaults, limits: limits)
        let prompt = service.completionPromptTokens(parsed.prompt)
        try submit(service: service, prompt: prompt, settings: parsed.settings, shape: shape, request: request, writer: writer, cors: cors)
    }

    private func submit(service: ModelService, prompt: [Int], settings: GenerationSettings, tooling: PreparedChat.Tooling? = nil, shape: ResponseShape,
                        request: HTTPRequest, writer: any ResponseWriter, cors: [(String, String)]) throws(ServerError) {
        guard !prompt.isEmpty else { throw .badRequest("the prompt is empty") }
        guard prompt.count <= service.contextLength else { throw .contextExceeded(promptTokens: prompt.count, contextLength: service.contextLength) }
        let vocabulary = service.tokenizer.vocabularySize
        if let bad = prompt.first(where: { !(0..<vocabulary).contains($0) }) {
            throw .badRequest("token id \(bad) is outside the vocabulary (0..<\(vocabulary))")
        }
        let identity = ResponseIdentity.make(shape: shape, model: settings.model ?? service.modelName)
        let responder = GenerationResponder(shape: shape, identity: identity, settings: settings, promptTokenCount: prompt.count,
                                            tooling: tooling, writer: writer, extraHeaders: cors)
        let generation = GenerationRequest(prompt: prompt, maxTokens: settings.maxTokens, sampling: settings.sampling,
                                           stopStrings: settings.stopStrings, grammar: tooling?.grammar ?? settings.constraint?.grammar,
                                           grammarTrigger: tooling?.trigger, logprobs: settings.logprobs,
                                           showsControlTokens: tooling?.format == .llama3,
                                           cancellation: request.cancellation) { responder.handle($0) }
        do {
            try service.scheduler.submit(generation)
        } catch {
            switch error {
            case .queueFull, .stopped: throw .unavailable(error.description, retryAfterSeconds: 1)
            case .promptTooLong(let t, let c): throw .contextExceeded(promptTokens: t, contextLength: c)
            case .emptyPrompt, .badToken: throw .badRequest(error.description)
            }
        }
    }

    // MARK: - Embeddings

    static let maximumEmbeddingInputs = 2048

    /// POST /v1/embeddings (OpenAI: `input` as a string, strings, token ids or lists of them; `encoding_format`
    /// float or base64) and llama.cpp's /embedding (`content`). Computed on the compute thread between steps.
    private func embeddings(_ request: HTTPRequest, native: Bool, writer: any ResponseWriter, cors: [(String, String)]) throws(ServerError) {
        let service = try ready()
        let fields = try RequestFields(try parseBody(request))
        guard let (name, input) = fields.value(native ? ["content", "input"] : ["input"]) else {
            throw .badRequest("'\(native ? "content" : "input")' is required")
        }
        func encode(_ text: String) -> [Int] { service.tokenizer.encode(text, addBOS: service.tokenizer.addBOS, parseSpecial: false) }
        func ids(_ items: [JSONValue], _ place: String) throws(ServerError) -> [Int] {
            var out: [Int] = []
            for item in items {
                guard case .integer(let id) = item, (0..<service.tokenizer.vocabularySize).contains(id) else {
                    throw .badRequest("\(place) must hold token ids in 0..<\(service.tokenizer.vocabularySize)")
                }
                out.append(id)
            }
            return out
        }
        var inputs: [[Int]] = []
        switch input {
        case .string(let text): inputs = [encode(text)]
        case .array(let items) where !items.isEmpty && items.allSatisfy({ if case .integer = $0 { true } else { false } }):
            inputs = [try ids(items, "'\(name)'")]
        case .array(let items) where !items.isEmpty:
            guard items.count <= Self.maximumEmbeddingInputs else {
                throw .badRequest("'\(name)' has \(items.count) inputs; at most \(Self.maximumEmbeddingInputs) are allowed")
            }
            for (index, item) in items.enumerated() {
                switch item {
                case .string(let text): inputs.append(encode(text))
                case .array(let list): inputs.append(try ids(list, "\(name)[\(index)]"))
                default: throw .badRequest("\(name)[\(index)] must be a string or a list of token ids, got \(item.kindName)")
                }
            }
        default:
            throw .badRequest("'\(name)' must be a string, a list of strings, token ids or lists of token ids")
        }
        for (index, tokens) in inputs.enumerated() {
            guard !tokens.isEmpty else { throw .badRequest("\(name)[\(index)] is empty") }
            guard tokens.count <= service.contextLength else { throw .contextExceeded(promptTokens: tokens.count, contextLength: service.contextLength) }
        }
        let format = try fields.string("encoding_format") ?? "float"
        guard format == "float" || format == "base64" else { throw .badRequest("'encoding_format' must be float or base64, got \"\(String(format.prefix(20)))\"") }
        let model = try fields.string("model") ?? service.modelName
        let tokenCount = inputs.reduce(0) { $0 + $1.count }
        service.scheduler.embed(inputs, pooling: service.pooling) { result in
            switch result {
            case .failure(let error):
                writer.respond(error: .internalFailure("embedding failed: \(error)"), headers: cors)
            case .success(let vectors) where native:
                writer.respond(status: 200, json: .array(vectors.enumerated().map { index, v in
                    // llama.cpp nests the vector (a pooled input is one row of its per-token shape).
                    .object([("index", .integer(index)), ("embedding", .array([.array(v.map { .number(Double($0)) })]))])
                }), headers: cors)
            case .success(let vectors):
                let data: [JSONValue] = vectors.enumerated().map { index, v in
                    .object([("object", "embedding"), ("index", .integer(index)),
                             ("embedding", format == "base64" ? .string(Base64.encode(floats: v)) : .array(v.map { .number(Double($0)) }))])
                }
                writer.respond(status: 200, json: .object([
                    ("object", "list"), ("data", .array(data)), ("model", .string(model)),
                    ("usage", .object([("prompt_tokens", .integer(tokenCount)), ("total_tokens", .integer(tokenCount))])),
                ]), headers: cors)
            }
        }
    }

    // MARK: - Other routes

    private func models(_ service: ModelService) -> JSONValue {
        .object([
            ("object", "list"),
            ("data", [.object([
                ("id", .string(service.modelName)), ("object", "model"), ("created", .integer(startTime)), ("owned_by", "swiftfile"),
                ("meta", .object([("n_ctx_train", .integer(service.scheduler.context.model.hyper.contextLength)),
                                  ("n_vocab", .integer(service.tokenizer.vocabularySize)),
                                  ("n_ctx", .integer(service.contextLength))])),
            ])]),
        ])
    }

    private func props(_ service: ModelService) -> JSONValue {
        var settings = GenerationResponder.settingsJSON(service.defaults)
        if case .object(let members) = settings { settings = .object([("n_ctx", .integer(service.contextLength))] + members) }
        return .object([
            ("default_generation_settings", .object([("n_ctx", .integer(service.contextLength)), ("params", settings)])),
            ("total_slots", .integer(service.scheduler.slotCount)),
            ("model_path", .string(service.modelPath)),
            ("model_name", .string(service.modelName)),
            ("chat_template", .string(service.template.source)),
            ("bos_token", .string(service.chatPrompt.bosText)), ("eos_token", .string(service.chatPrompt.eosText)),
            ("build_info", "swiftfile"),
        ])
    }

    private func tokenize(_ request: HTTPRequest) throws(ServerError) -> JSONValue {
        let service = try ready()
        let fields = try RequestFields(try parseBody(request))
        guard let content = try fields.string("content") else { throw .badRequest("'content' is required") }
        let addSpecial = try fields.bool("add_special") ?? false
        let parseSpecial = try fields.bool("parse_special") ?? false
        let withPieces = try fields.bool("with_pieces") ?? false
        let ids = service.tokenizer.encode(content, addBOS: addSpecial && service.tokenizer.addBOS, parseSpecial: parseSpecial)
        if withPieces {
            return .object([("tokens", .array(ids.map { id in
                let bytes = service.tokenizer.piece(id, includeSpecial: true)
                let piece: JSONValue = (String(validating: bytes, as: UTF8.self)).map { .string($0) } ?? .array(bytes.map { .integer(Int($0)) })
                return .object([("id", .integer(id)), ("piece", piece)])
            }))])
        }
        return .object([("tokens", .array(ids.map { .integer($0) }))])
    }

    private func detokenize(_ request: HTTPRequest) throws(ServerError) -> JSONValue {
        let service = try ready()
        let fields = try RequestFields(try parseBody(request))
        guard let (_, value) = fields.value(["tokens"]) else { throw .badRequest("'tokens' is required") }
        guard case .array(let items) = value else { throw .badRequest("'tokens' must be a list of token ids, got \(value.kindName)") }
        var ids: [Int] = []
        for item in items {
            guard case .integer(let id) = item else { throw .badRequest("'tokens' must hold integers, found \(item.kindName)") }
            guard (0..<service.tokenizer.vocabularySize).contains(id) else {
                throw .badRequest("token id \(id) is outside the vocabulary (0..<\(service.tokenizer.vocabularySize))")
            }
            ids.append(id)
        }
        return .object([("content", .string(service.tokenizer.decode(ids)))])
    }
}
