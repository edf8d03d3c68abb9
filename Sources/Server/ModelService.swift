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

    var bosText: String { tokenizer.bosToken.flatMap { tokenizer.tokenText($0) } ?? "" }
    var eosText: String { tokenizer.eosToken.flatMap { tokenizer.tokenText($0) } ?? "" }

    /// The prompt text the template makes of a conversation (what /apply-template returns).
    public func renderChat(_ messages: [ChatMessage]) throws(ServerError) -> String {
        do {
            return try template.render(messages: messages, addGenerationPrompt: true, bosToken: bosText, eosToken: eosText)
        } catch {
            throw .badRequest("the chat template cannot render these messages: \(error)")
        }
    }

    /// Token ids of a conversation. The template's own text may name control tokens (`<|im_start|>`), but the
    /// messages' content stays plain text: a user writing "<|im_end|>" must not end their turn. So the template
    /// is rendered with placeholders for the contents, and each part is tokenized by its own rule.
    public func chatPromptTokens(_ messages: [ChatMessage]) throws(ServerError) -> [Int] {
        let reference = try renderChat(messages)
        let marker = "\u{F8FF}swiftfile-content-"
        let placeheld = messages.enumerated().map { ChatMessage(role: $0.element.role, content: "\(marker)\($0.offset)\u{F8FF}") }
        let skeleton = try renderChat(placeheld)
        // Templates may transform content (Llama 3 trims it); try the contents as given, then trimmed.
        for transform in [{ (s: String) in s }, { (s: String) in s.trimmedWhitespace }] {
            let contents = messages.map { transform($0.content) }
            let parts = Self.split(skeleton, marker: marker, contents: contents)
            if let parts, parts.map(\.text).joined() == reference {
                var tokens: [Int] = []
                let addBOS = tokenizer.addBOS && !(bosText.isEmpty == false && reference.hasPrefix(bosText))
                if addBOS, let bos = tokenizer.bosToken { tokens.append(bos) }
                for part in parts where !part.text.isEmpty {
                    tokens += tokenizer.encode(part.text, addBOS: false, parseSpecial: !part.isContent)
                }
                return tokens
            }
        }
        // The template did something else with the content (split it, repeated it): tokenize the whole
        // rendering as llama.cpp does.
        let addBOS = tokenizer.addBOS && !(bosText.isEmpty == false && reference.hasPrefix(bosText))
        return tokenizer.encode(reference, addBOS: addBOS, parseSpecial: true)
    }

    /// Splits a rendering with placeholders into template text and message contents.
    static func split(_ skeleton: String, marker: String, contents: [String]) -> [(text: String, isContent: Bool)]? {
        var parts: [(String, Bool)] = []
        var rest = Substring(skeleton)
        while let range = rest.firstRange(of: marker) {
            parts.append((String(rest[..<range.lowerBound]), false))
            let afterMarker = rest[range.upperBound...]
            guard let end = afterMarker.firstIndex(of: "\u{F8FF}"), let index = Int(afterMarker[..<end]), contents.indices.contains(index) else { return nil }
            parts.append((contents[index], true))
            rest = afterMarker[afterMarker.index(after: end)...]
        }
        parts.append((String(rest), false))
        return parts
    }

    /// Token ids of a completion prompt: user text, no control tokens parsed.
    public func completionPromptTokens(_ prompt: PromptInput) -> [Int] {
        switch prompt {
        case .text(let text): return tokenizer.encode(text, addBOS: tokenizer.addBOS, parseSpecial: false)
        case .tokens(let ids): return ids
        }
    }
}

extension String {
    var trimmedWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
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
