import Chat
import Engine
import Grammar
import Synchronization
import Tokenizer
#if canImport(Glibc)
import Glibc
#endif

/// The loaded model as the routes see it: tokenizer, chat template, scheduler and what /props reports.
public final class ModelService: Sendable {
    public let tokenizer: Tokenizer
    public let scheduler: Scheduler
    public let template: ChatTemplate
    /// The model id /v1/models lists (the weights' file name).
    public let modelName: String
    public let modelPath: String
    public let contextLength: Int
    public let defaults: GenerationSettings
    /// How /v1/embeddings pools a sequence's hidden states.
    public let pooling: Pooling

    public init(tokenizer: Tokenizer, scheduler: Scheduler, template: ChatTemplate, modelName: String, modelPath: String,
                defaults: GenerationSettings, pooling: Pooling = .mean) {
        self.pooling = pooling
        self.tokenizer = tokenizer
        self.scheduler = scheduler
        self.template = template
        self.modelName = modelName
        self.modelPath = modelPath
        contextLength = scheduler.context.contextLength
        self.defaults = defaults
    }

    /// How conversations become tokens (shared with the terminal chat).
    public var chatPrompt: ChatPrompt { ChatPrompt(template: template, tokenizer: tokenizer) }

    /// A chat request made ready for the template: with tools, either the template's own `tools` variable or
    /// (a template without tool support) the tools described in the system prompt; plus the calls' grammar.
    public func prepareChat(_ request: ChatCompletionRequest) throws(ServerError) -> PreparedChat {
        let format = ToolCallFormat.detect(templateSource: template.source)
        var messages = request.messages
        var extra: [String: TemplateValue] = ["date_string": .string(Self.dateString())]
        var tooling: PreparedChat.Tooling?
        if format == .hermes(native: false) {
            if request.tools != nil || messages.contains(where: { !$0.toolCalls.isEmpty || $0.role == "tool" }) {
                messages = ToolSettings.builtInMessages(messages, tools: request.tools)
            }
        } else if let tools = request.tools {
            // Llama 3.1's built-ins (brave_search, wolfram_alpha, code_interpreter) go to `builtin_tools`.
            let builtins = format == .llama3 ? tools.tools.filter { ToolSettings.llamaBuiltins.contains($0.name) } : []
            let custom = ToolSettings(tools: tools.tools.filter { !builtins.contains($0) }, choice: tools.choice, parallel: tools.parallel)
            if !custom.tools.isEmpty { extra["tools"] = custom.templateTools }
            if !builtins.isEmpty { extra["builtin_tools"] = .list(builtins.map { .string($0.name) }) }
        }
        if let tools = request.tools {
            let constraint = try tools.constraint(format)
            tooling = PreparedChat.Tooling(format: format, tools: tools.tools, grammar: constraint?.grammar, trigger: constraint?.trigger)
        }
        return PreparedChat(messages: messages, extra: extra, tooling: tooling)
    }

    public func renderChat(_ prepared: PreparedChat) throws(ServerError) -> String {
        do { return try chatPrompt.render(prepared.messages, extra: prepared.extra) } catch {
            throw .badRequest("the chat template cannot render these messages: \(error)")
        }
    }

    public func chatPromptTokens(_ prepared: PreparedChat) throws(ServerError) -> [Int] {
        do { return try chatPrompt.tokens(prepared.messages, extra: prepared.extra) } catch {
            throw .badRequest("the chat template cannot render these messages: \(error)")
        }
    }

    /// Today as Llama 3.1's template prints it ("05 Dec 2026").
    static func dateString() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let day = Int(parts.tm_mday), month = months[Int(max(0, min(11, parts.tm_mon)))]
        return (day < 10 ? "0" : "") + "\(day) \(month) \(Int(parts.tm_year) + 1900)"
    }

    /// Token ids of a completion prompt. As llama.cpp's /completion and /v1/completions do, control tokens written
    /// in the text count (a client that applies the chat template itself sends "<|im_start|>user…"); chat
    /// messages' content, by contrast, stays plain text (ChatPrompt).
    public func completionPromptTokens(_ prompt: PromptInput) -> [Int] {
        switch prompt {
        case .text(let text): return tokenizer.encode(text, addBOS: tokenizer.addBOS, parseSpecial: true)
        case .tokens(let ids): return ids
        }
    }
}

/// A chat request ready for the template and the scheduler.
public struct PreparedChat: Sendable {
    public var messages: [ChatMessage]
    public var extra: [String: TemplateValue]
    public var tooling: Tooling?

    /// How tool calls are written and parsed for this request, and the grammar they follow.
    public struct Tooling: Sendable {
        public let format: ToolCallFormat
        public let tools: [ToolDefinition]
        public let grammar: Grammar?
        public let trigger: GrammarTrigger?
    }
}

/// The server's state: loading until the model is ready.
public final class ServiceState: Sendable {
    private let service = Mutex<ModelService?>(nil)
    private let drainingFlag = Atomic<Bool>(false)

    public init() {}
    public var ready: ModelService? { service.withLock { $0 } }
    public func setReady(_ s: ModelService) { service.withLock { $0 = s } }

    /// Set on SIGTERM: requests in flight go on to their end, new ones get 503 and /health says so.
    public var draining: Bool { drainingFlag.load(ordering: .acquiring) }
    public func startDraining() { drainingFlag.store(true, ordering: .releasing) }
}
