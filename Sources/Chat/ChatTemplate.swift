#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One chat turn as the server and terminal chat hold it.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    /// An assistant turn's tool calls (its content is then often empty, given to templates as none).
    public var toolCalls: [ChatToolCall] = []
    /// A `tool` turn: the call it answers, and the tool's name.
    public var toolCallId: String?
    public var name: String?

    public init(role: String, content: String, toolCalls: [ChatToolCall] = [], toolCallId: String? = nil, name: String? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallId = toolCallId
        self.name = name
    }
}

/// A function call an assistant turn made: its arguments as the JSON text the client sent, and parsed.
public struct ChatToolCall: Sendable, Equatable {
    public var id: String
    public var name: String
    public var arguments: String
    public var argumentsValue: TemplateValue

    public init(id: String, name: String, arguments: String, argumentsValue: TemplateValue) {
        self.id = id
        self.name = name
        self.arguments = arguments
        self.argumentsValue = argumentsValue
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
        // Templates that print `arguments | tojson` want an object; others (string concatenation) the JSON text.
        let argumentsAsObject = source.contains("arguments | tojson") || source.contains("arguments|tojson")
            || source.contains("arguments | items") || source.contains("arguments.items()")
        let list = TemplateValue.list(messages.map { m in
            var d: TemplateDictionary = ["role": .string(m.role), "content": .string(m.content)]
            if !m.toolCalls.isEmpty {
                if m.content.isEmpty { d["content"] = TemplateValue.none }
                d["tool_calls"] = .list(m.toolCalls.map { call in
                    .dictionary(["id": .string(call.id), "type": "function",
                                 "function": .dictionary(["name": .string(call.name),
                                                          "arguments": argumentsAsObject ? call.argumentsValue : .string(call.arguments)])])
                })
            }
            if let id = m.toolCallId { d["tool_call_id"] = .string(id) }
            if let name = m.name { d["name"] = .string(name) }
            return .dictionary(d)
        })
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
