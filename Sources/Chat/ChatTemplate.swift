#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One chat turn as the server and terminal chat hold it.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// A parsed chat template (HF `tokenizer.chat_template` Jinja, or a built-in), rendered the way
/// transformers does: trim_blocks and lstrip_blocks on, `tojson` without key sorting or HTML escaping.
public struct ChatTemplate: Sendable {
    public let source: String
    public let limits: ChatTemplateLimits
    let body: [Statement]

    /// Parses once; syntax errors are thrown here with their line and column.
    public init(source: String) throws {
        try self.init(source: source, limits: ChatTemplateLimits())
    }

    public init(source: String, limits: ChatTemplateLimits) throws {
        self.source = source
        self.limits = limits
        body = try Parser.parse(source, limits: limits)
    }

    /// Renders a conversation. Variables: `messages` (list of {role, content}), `add_generation_prompt`,
    /// `bos_token`, `eos_token`, `tools` (none unless given in `extra`), then everything in `extra`.
    /// `now` feeds `strftime_now`.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool, bosToken: String, eosToken: String,
                       extra: [String: TemplateValue] = [:], now: Date = Date()) throws -> String {
        let list = TemplateValue.list(messages.map { .dictionary(["role": .string($0.role), "content": .string($0.content)]) })
        var context: [String: TemplateValue] = [
            "messages": list,
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
            "tools": .none,
        ]
        for (name, value) in extra { context[name] = value }
        return try render(context: context, now: now)
    }

    /// Renders with exactly these top-level variables (messages with tool calls, tools, documents …).
    public func render(context: [String: TemplateValue], now: Date = Date()) throws -> String {
        var values: [String: Value] = [:]
        for (name, value) in context { values[name] = Value(value) }
        let evaluator = Evaluator(context: values, limits: limits, now: now)
        return try evaluator.render(body)
    }
}
