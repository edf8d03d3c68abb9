import Chat
import Sampling

/// The generation settings shared by the chat, completion and native routes.
public struct GenerationSettings: Sendable, Equatable {
    /// Negative: until end of generation or a full context.
    public var maxTokens: Int
    public var sampling: SamplingParameters
    public var stopStrings: [String] = []
    public var stream = false
    public var includeUsage = false
    /// A grammar the output must follow (`grammar`, `json_schema` or `response_format`).
    public var constraint: OutputConstraint?
    /// Report each token's log-probability and this many alternatives (chat `logprobs` + `top_logprobs`,
    /// legacy `logprobs: N`, llama.cpp `n_probs`).
    public var logprobs: Int?
    /// The model name the client asked for (echoed back, as llama.cpp does).
    public var model: String?

    public init(maxTokens: Int = -1, sampling: SamplingParameters = SamplingParameters()) {
        self.maxTokens = maxTokens
        self.sampling = sampling
    }

    /// Reads every supported field over `defaults`; unknown fields are ignored, as OpenAI clients send many.
    static func parse(_ fields: RequestFields, defaults: GenerationSettings, limits: ServerLimits) throws(ServerError) -> GenerationSettings {
        var s = defaults
        if let n = try fields.integer("max_completion_tokens", "max_tokens", "n_predict", in: -1...limits.maximumTokensToGenerate) { s.maxTokens = n }
        if let t = try fields.number("temperature", in: 0...100) { s.sampling.temperature = Float(t) }
        if let p = try fields.number("top_p", in: 0...1) { s.sampling.topP = Float(p) }
        if let k = try fields.integer("top_k", in: 0...1_000_000) { s.sampling.topK = k }
        if let p = try fields.number("min_p", in: 0...1) { s.sampling.minP = Float(p) }
        if let p = try fields.number("repeat_penalty", in: 0.01...100) { s.sampling.repeatPenalty = Float(p) }
        if let n = try fields.integer("repeat_last_n", in: -1...1_000_000) { s.sampling.repeatLastN = n }
        if let p = try fields.number("presence_penalty", in: -2...2) { s.sampling.presencePenalty = Float(p) }
        if let p = try fields.number("frequency_penalty", in: -2...2) { s.sampling.frequencyPenalty = Float(p) }
        if let seed = try fields.integer("seed", in: Int.min...Int.max) { s.sampling.seed = seed < 0 ? nil : UInt64(seed) }
        if let n = try fields.integer("n", in: 1...Int.max), n != 1 { throw .badRequest("'n' must be 1: this server returns one choice per request") }
        if let stream = try fields.bool("stream") { s.stream = stream }
        if let options = fields.value(["stream_options"])?.value {
            let optionFields = try RequestFields(options)
            if let include = try optionFields.bool("include_usage") { s.includeUsage = include }
        }
        s.model = try fields.string("model")
        if let constraint = try OutputConstraint.parse(fields) { s.constraint = constraint }
        let top = try fields.integer("top_logprobs", in: 0...20)
        switch fields.value(["logprobs"])?.value {
        case .bool(true)?: s.logprobs = top ?? 0
        case .bool(false)?, nil:
            if top != nil { throw .badRequest("'top_logprobs' needs 'logprobs': true") }
        case .integer?, .number?: s.logprobs = try fields.integer("logprobs", in: 0...20)
        case let other?: throw .badRequest("'logprobs' must be true, false or a number of alternatives (0-20), got \(other.kindName)")
        }
        if let n = try fields.integer("n_probs", in: 0...20), n > 0 { s.logprobs = n }
        if let (name, stop) = fields.value(["stop"]) {
            var list: [String]
            switch stop {
            case .string(let one): list = [one]
            case .array(let items):
                list = []
                for item in items {
                    guard case .string(let text) = item else { throw .badRequest("'\(name)' must be a string or a list of strings, found \(item.kindName) in the list") }
                    list.append(text)
                }
            default: throw .badRequest("'\(name)' must be a string or a list of strings, got \(stop.kindName)")
            }
            guard list.count <= limits.maximumStopStrings else {
                throw .badRequest("'\(name)' has \(list.count) strings; at most \(limits.maximumStopStrings) are allowed")
            }
            if let long = list.first(where: { $0.utf8.count > limits.maximumStopStringBytes }) {
                throw .badRequest("a stop string is \(long.utf8.count) bytes long; at most \(limits.maximumStopStringBytes) are allowed")
            }
            s.stopStrings = list.filter { !$0.isEmpty }
        }
        return s
    }
}

/// What the roles of chat messages may be (templates know these; anything else is a client mistake).
let knownChatRoles: Set<String> = ["system", "user", "assistant", "tool", "ipython", "developer"]

/// POST /v1/chat/completions.
public struct ChatCompletionRequest: Sendable {
    public var messages: [ChatMessage]
    public var settings: GenerationSettings
    /// `tools`, `tool_choice`, `parallel_tool_calls` (nil: no tools, or tool_choice none).
    public var tools: ToolSettings?

    public static func parse(_ body: JSONValue, defaults: GenerationSettings, limits: ServerLimits) throws(ServerError) -> ChatCompletionRequest {
        let fields = try RequestFields(body)
        let messages = try parseMessages(fields, limits: limits)
        let settings = try GenerationSettings.parse(fields, defaults: defaults, limits: limits)
        let tools = try ToolSettings.parse(fields)
        if tools != nil, let constraint = settings.constraint {
            throw .badRequest("tools and \(constraint.source) cannot be combined: a tool call has its own grammar")
        }
        return ChatCompletionRequest(messages: messages, settings: settings, tools: tools)
    }

    static func parseMessages(_ fields: RequestFields, limits: ServerLimits) throws(ServerError) -> [ChatMessage] {
        guard let (_, value) = fields.value(["messages"]) else { throw .badRequest("'messages' is required") }
        guard case .array(let items) = value else { throw .badRequest("'messages' must be a list, got \(value.kindName)") }
        guard !items.isEmpty else { throw .badRequest("'messages' must not be empty") }
        guard items.count <= limits.maximumMessages else {
            throw .badRequest("'messages' has \(items.count) entries; at most \(limits.maximumMessages) are allowed")
        }
        var messages: [ChatMessage] = []
        var callIDs: Set<String> = []
        for (index, item) in items.enumerated() {
            guard case .object = item else { throw .badRequest("messages[\(index)] must be an object, got \(item.kindName)") }
            guard case .string(let role)? = item["role"] else { throw .badRequest("messages[\(index)].role must be a string") }
            guard knownChatRoles.contains(role) else {
                throw .badRequest("messages[\(index)].role \"\(String(role.prefix(40)))\" is not one of \(knownChatRoles.sorted().joined(separator: ", "))")
            }
            var message = ChatMessage(role: role, content: try parseContent(item["content"], index: index))
            if role == "assistant", let calls = item["tool_calls"], !calls.isNull {
                message.toolCalls = try parseToolCalls(calls, index: index)
                for call in message.toolCalls { callIDs.insert(call.id) }
            }
            if role == "tool" {
                guard case .string(let id)? = item["tool_call_id"] else { throw .badRequest("messages[\(index)] (role tool) needs a string 'tool_call_id'") }
                guard callIDs.contains(id) else {
                    throw .badRequest("messages[\(index)].tool_call_id '\(String(id.prefix(64)))' points to no tool call of an earlier assistant message")
                }
                message.toolCallId = id
            }
            if case .string(let name)? = item["name"] { message.name = name }
            messages.append(message)
        }
        return messages
    }

    /// An assistant message's `tool_calls`: [{id, type: "function", function: {name, arguments: "<JSON>"}}].
    static func parseToolCalls(_ value: JSONValue, index: Int) throws(ServerError) -> [ChatToolCall] {
        guard case .array(let items) = value else { throw .badRequest("messages[\(index)].tool_calls must be a list") }
        var calls: [ChatToolCall] = []
        for (n, item) in items.enumerated() {
            let place = "messages[\(index)].tool_calls[\(n)]"
            guard case .string(let id)? = item["id"], !id.isEmpty else { throw .badRequest("\(place).id must be a non-empty string") }
            guard case .string(let name)? = item["function"]?["name"] else { throw .badRequest("\(place).function.name must be a string") }
            let arguments: JSONValue
            switch item["function"]?["arguments"] {
            case .string(let text)?:
                do { arguments = try JSONParser.parse(Array(text.utf8)) } catch {
                    throw .badRequest("\(place).function.arguments is not valid JSON: \(error)")
                }
            case .object(let members)?: arguments = .object(members)  // some clients send the object itself
            default: throw .badRequest("\(place).function.arguments must be a JSON string")
            }
            calls.append(ChatToolCall(id: id, name: name, arguments: arguments.serialized, argumentsValue: arguments.templateValue))
        }
        return calls
    }

    /// A string, null (an assistant turn with tool calls), or a list of `{"type": "text", "text": …}` parts.
    static func parseContent(_ content: JSONValue?, index: Int) throws(ServerError) -> String {
        switch content {
        case nil, .null?: return ""
        case .string(let s)?: return s
        case .array(let parts)?:
            var text = ""
            for part in parts {
                guard case .string(let type)? = part["type"] else { throw .badRequest("messages[\(index)].content parts must be objects with a 'type'") }
                guard type == "text" else { throw .badRequest("messages[\(index)].content part of type \"\(String(type.prefix(40)))\" is not supported (text only)") }
                guard case .string(let t)? = part["text"] else { throw .badRequest("messages[\(index)].content text part needs a string 'text'") }
                text += t
            }
            return text
        case let other?: throw .badRequest("messages[\(index)].content must be a string or a list of text parts, got \(other.kindName)")
        }
    }
}

/// A prompt as text or as token ids (llama.cpp's /completion accepts both).
public enum PromptInput: Sendable, Equatable {
    case text(String)
    case tokens([Int])

    static func parse(_ fields: RequestFields, name: String = "prompt") throws(ServerError) -> PromptInput {
        guard let (_, value) = fields.value([name]) else { throw .badRequest("'\(name)' is required") }
        switch value {
        case .string(let s): return .text(s)
        case .array(let items):
            // ["text"] is the OpenAI batch form with one prompt; [1, 2, 3] is token ids.
            if items.count == 1, case .string(let s) = items[0] { return .text(s) }
            var ids: [Int] = []
            for item in items {
                guard case .integer(let id) = item else {
                    throw .badRequest("'\(name)' must be a string, a list with one string, or a list of token ids")
                }
                ids.append(id)
            }
            return .tokens(ids)
        default: throw .badRequest("'\(name)' must be a string or a list of token ids, got \(value.kindName)")
        }
    }
}

/// POST /v1/completions and POST /completion.
public struct CompletionRequest: Sendable {
    public var prompt: PromptInput
    public var settings: GenerationSettings

    public static func parse(_ body: JSONValue, defaults: GenerationSettings, limits: ServerLimits) throws(ServerError) -> CompletionRequest {
        let fields = try RequestFields(body)
        return CompletionRequest(prompt: try PromptInput.parse(fields), settings: try GenerationSettings.parse(fields, defaults: defaults, limits: limits))
    }
}
