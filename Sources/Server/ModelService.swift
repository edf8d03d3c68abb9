import Chat
import Synchronization
import Engine
import Tokenizer

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

    public init(tokenizer: Tokenizer, scheduler: Scheduler, template: ChatTemplate, modelName: String, modelPath: String,
                defaults: GenerationSettings) {
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

    /// The prompt text the template makes of a conversation (what /apply-template returns).
    public func renderChat(_ messages: [ChatMessage]) throws(ServerError) -> String {
        do { return try chatPrompt.render(messages) } catch {
            throw .badRequest("the chat template cannot render these messages: \(error)")
        }
    }

    /// Token ids of a conversation (ChatPrompt: control tokens only from the template's own text).
    public func chatPromptTokens(_ messages: [ChatMessage]) throws(ServerError) -> [Int] {
        do { return try chatPrompt.tokens(messages) } catch {
            throw .badRequest("the chat template cannot render these messages: \(error)")
        }
    }

    /// Token ids of a completion prompt: user text, no control tokens parsed.
    public func completionPromptTokens(_ prompt: PromptInput) -> [Int] {
        switch prompt {
        case .text(let text): return tokenizer.encode(text, addBOS: tokenizer.addBOS, parseSpecial: false)
        case .tokens(let ids): return ids
        }
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
