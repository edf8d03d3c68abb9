import Chat
import Engine
import Grammar

/// A function the client offers the model (`tools[]` of a chat request).
public struct ToolDefinition: Sendable, Equatable {
    public let name: String
    public let description: String?
    /// A JSON Schema of an object (the arguments).
    public let parameters: JSONValue
}

public enum ToolChoice: Sendable, Equatable {
    case none, auto, required
    case named(String)
}

/// How a model writes tool calls, from its chat template.
public enum ToolCallFormat: Sendable, Equatable {
    /// Llama 3.1/3.2/3.3: the whole answer is `{"name": …, "parameters": {…}}` (ending in <|eot_id|> or <|eom_id|>);
    /// the template itself lists the tools.
    case llama3
    /// ChatML/Hermes (Qwen 2.5 and the like): `<tool_call>{"name": …, "arguments": {…}}</tool_call>` after any text.
    /// `native`: the template lists the tools itself; otherwise we describe them in the system prompt and write
    /// earlier calls and results into the turns as such a template would.
    case hermes(native: Bool)

    public static func detect(templateSource source: String) -> ToolCallFormat {
        if source.contains("<|python_tag|>") || source.contains("Environment: ipython") { return .llama3 }
        if source.contains("<tool_call>") { return .hermes(native: true) }
        return .hermes(native: false)
    }

    /// The key that holds the arguments in the call's JSON.
    var argumentsKey: String { self == .llama3 ? "parameters" : "arguments" }
}

/// The tool part of a chat request, checked.
public struct ToolSettings: Sendable, Equatable {
    public var tools: [ToolDefinition]
    public var choice: ToolChoice
    public var parallel: Bool

    static let maximumTools = 128
    /// Llama 3.1's built-in tools: called as `<|python_tag|>brave_search.call(query="…")` (code_interpreter: the
    /// code itself), which the grammar cannot force (it starts with a control token): under `auto` only.
    static let llamaBuiltins: Set<String> = ["brave_search", "wolfram_alpha", "code_interpreter"]

    /// Reads `tools`, `tool_choice` and `parallel_tool_calls`; nil when there are no tools (or the choice is none).
    static func parse(_ fields: RequestFields) throws(ServerError) -> ToolSettings? {
        var tools: [ToolDefinition] = []
        if let (_, value) = fields.value(["tools"]) {
            guard case .array(let items) = value else { throw .badRequest("'tools' must be a list, got \(value.kindName)") }
            guard items.count <= maximumTools else {
                throw .badRequest("'tools' has \(items.count) entries; at most \(maximumTools) are allowed")
            }
            var names: Set<String> = []
            for (index, item) in items.enumerated() {
                let tool = try parseTool(item, index: index)
                guard names.insert(tool.name).inserted else { throw .badRequest("tools[\(index)]: the name '\(tool.name)' is used twice") }
                tools.append(tool)
            }
        }
        var choice = ToolChoice.auto
        if let (_, value) = fields.value(["tool_choice"]) {
            switch value {
            case .string("none"): choice = .none
            case .string("auto"): choice = .auto
            case .string("required"): choice = .required
            case .object:
                guard case .string("function")? = value["type"], case .string(let name)? = value["function"]?["name"] else {
                    throw .badRequest("'tool_choice' must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": …}}")
                }
                guard tools.contains(where: { $0.name == name }) else { throw .badRequest("tool_choice names '\(name)', which is not among the tools") }
                choice = .named(name)
            default:
                throw .badRequest("'tool_choice' must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": …}}")
            }
        }
        let parallel = try fields.bool("parallel_tool_calls") ?? true
        if tools.isEmpty {
            if choice == .required { throw .badRequest("'tool_choice' required needs 'tools'") }
            return nil
        }
        if choice == .none { return nil }
        return ToolSettings(tools: tools, choice: choice, parallel: parallel)
    }

    private static func parseTool(_ item: JSONValue, index: Int) throws(ServerError) -> ToolDefinition {
        guard case .object = item else { throw .badRequest("tools[\(index)] must be an object, got \(item.kindName)") }
        guard case .string("function")? = item["type"] else { throw .badRequest("tools[\(index)].type must be \"function\"") }
        guard let function = item["function"], case .object = function else { throw .badRequest("tools[\(index)].function must be an object") }
        guard case .string(let name)? = function["name"], (1...64).contains(name.utf8.count),
              name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" })
        else { throw .badRequest("tools[\(index)].function.name must be 1-64 letters, digits, '_' or '-'") }
        var description: String?
        if let d = function["description"], !d.isNull {
            guard case .string(let text) = d else { throw .badRequest("tools[\(index)].function.description must be a string") }
            description = text
        }
        var parameters: JSONValue = .object([("type", "object"), ("properties", .object([]))])
        if let p = function["parameters"], !p.isNull {
            guard case .object = p else { throw .badRequest("tools[\(index)].function.parameters must be a JSON Schema object") }
            if let type = p["type"], type != .string("object") {
                throw .badRequest("tools[\(index)].function.parameters must describe an object (\"type\": \"object\"); arguments are always an object")
            }
            parameters = p
        }
        do { _ = try JSONSchemaGrammar.grammar(for: parameters) } catch {
            throw .badRequest("tools[\(index)].function.parameters: \(error.message)")
        }
        return ToolDefinition(name: name, description: description, parameters: parameters)
    }

    /// What the template sees as `tools` (OpenAI's shape).
    var templateTools: TemplateValue {
        .list(tools.map { tool in
            var function: TemplateDictionary = ["name": .string(tool.name)]
            if let d = tool.description { function["description"] = .string(d) }
            function["parameters"] = tool.parameters.templateValue
            return .dictionary(["type": "function", "function": .dictionary(function)])
        })
    }

    // MARK: - Grammar

    /// The grammar calls must follow, and from where: a named or required choice constrains from the first token;
    /// `auto` only once the model starts a call (the trigger).
    /// nil: nothing to constrain (only Llama 3.1 built-ins, whose calls are parsed afterwards).
    func constraint(_ format: ToolCallFormat) throws(ServerError) -> (grammar: Grammar, trigger: GrammarTrigger?)? {
        var offered = tools.filter { if case .named(let n) = choice { return $0.name == n } else { return true } }
        if format == .llama3 {
            offered = offered.filter { !Self.llamaBuiltins.contains($0.name) }
            if offered.isEmpty {
                guard choice == .auto else {
                    throw .badRequest("Llama 3.1's built-in tools (brave_search, wolfram_alpha, code_interpreter) can be offered with tool_choice auto only")
                }
                return nil
            }
        }
        // Each tool's $defs move to the one schema's root under the tool's number, its refs rewritten to match.
        var definitions: [(String, JSONValue)] = []
        let calls = offered.enumerated().map { index, tool -> JSONValue in
            let parameters = Self.hoistDefinitions(tool.parameters, prefix: "tool\(index)-", into: &definitions)
            return .object([("type", "object"),
                            ("properties", .object([("name", .object([("const", .string(tool.name))])), (format.argumentsKey, parameters)])),
                            ("required", .array(["name", .string(format.argumentsKey)])), ("additionalProperties", false)])
        }
        var members: [(String, JSONValue)] = [("anyOf", .array(calls))]
        if calls.count == 1, case .object(let only) = calls[0] { members = only }
        if !definitions.isEmpty { members.append(("$defs", .object(definitions))) }
        let schema = JSONValue.object(members)
        let json: String
        do { json = try JSONSchemaGrammar.grammar(for: schema) } catch {
            throw .badRequest("the tools cannot be turned into a grammar: \(error.message)")
        }
        // The schema grammar's start rule becomes one part of ours.
        let call = "tool-call--json"
        let renamed = json.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("root ::=") ? call + line.dropFirst(4) : line
        }.joined(separator: "\n")
        var many = parallel
        if case .named = choice { many = false }
        let text: String
        let trigger: GrammarTrigger?
        switch format {
        case .llama3:
            text = "root ::= \(call)\n" + renamed
            trigger = choice == .auto ? GrammarTrigger(text: "{", atStart: true) : nil
        case .hermes:
            let block = #""<tool_call>" "\n"? \#(call) "\n"? "</tool_call>""#
            text = "root ::= tool-call--block" + (many ? " ( \"\\n\"? tool-call--block )*" : "") + "\ntool-call--block ::= \(block)\n" + renamed
            trigger = choice == .auto ? GrammarTrigger(text: "<tool_call>", atStart: false) : nil
        }
        do { return (try Grammar.parse(text), trigger) } catch {
            throw .badRequest("the tools cannot be turned into a grammar: \(error)")
        }
    }

    /// `schema` without its `$defs`/`definitions` (moved into `definitions` as prefix + name) and with its local
    /// `$ref`s pointing there.
    static func hoistDefinitions(_ schema: JSONValue, prefix: String, into definitions: inout [(String, JSONValue)]) -> JSONValue {
        guard case .object(let members) = schema else { return schema }
        var kept: [(String, JSONValue)] = []
        for (key, value) in members {
            if key == "$defs" || key == "definitions", case .object(let entries) = value {
                for (name, definition) in entries { definitions.append((prefix + name, rewriteReferences(definition, prefix: prefix))) }
            } else {
                kept.append((key, value))
            }
        }
        return rewriteReferences(.object(kept), prefix: prefix)
    }

    static func rewriteReferences(_ value: JSONValue, prefix: String) -> JSONValue {
        switch value {
        case .object(let members):
            return .object(members.map { key, child in
                if key == "$ref", case .string(let reference) = child {
                    for base in ["#/$defs/", "#/definitions/"] where reference.hasPrefix(base) {
                        return (key, .string("#/$defs/" + prefix + reference.dropFirst(base.count)))
                    }
                }
                return (key, rewriteReferences(child, prefix: prefix))
            })
        case .array(let items): return .array(items.map { rewriteReferences($0, prefix: prefix) })
        default: return value
        }
    }

    // MARK: - Prompt

    /// Messages for a template without tool support: the tools (if any are offered) described in the system
    /// prompt, earlier calls and results written into the turns (the Hermes convention).
    static func builtInMessages(_ messages: [ChatMessage], tools: ToolSettings?) -> [ChatMessage] {
        guard let tools = tools?.tools else { return writeToolTurns(messages[...]) }
        var lines = ["# Tools", "", "You may call one or more functions to assist with the user query.", "",
                     "You are provided with function signatures within <tools></tools> XML tags:", "<tools>"]
        for tool in tools {
            var function: [(String, JSONValue)] = [("name", .string(tool.name))]
            if let d = tool.description { function.append(("description", .string(d))) }
            function.append(("parameters", tool.parameters))
            lines.append(JSONValue.object([("type", "function"), ("function", .object(function))]).serialized)
        }
        lines += ["</tools>", "", "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:",
                  "<tool_call>", #"{"name": <function-name>, "arguments": <args-json-object>}"#, "</tool_call>"]
        let instructions = lines.joined(separator: "\n")
        var out: [ChatMessage] = []
        if let first = messages.first, first.role == "system" {
            out.append(ChatMessage(role: "system", content: first.content + "\n\n" + instructions))
        } else {
            out.append(ChatMessage(role: "system", content: instructions))
        }
        return out + writeToolTurns(messages.first?.role == "system" ? messages.dropFirst() : messages[...])
    }

    /// Calls and results as text turns: `<tool_call>` blocks in the assistant's, results as `<tool_response>` from the user.
    static func writeToolTurns(_ messages: ArraySlice<ChatMessage>) -> [ChatMessage] {
        var out: [ChatMessage] = []
        for message in messages {
            switch message.role {
            case "assistant" where !message.toolCalls.isEmpty:
                let calls = message.toolCalls.map { #"<tool_call>\#n{"name": \#(JSONValue.string($0.name).serialized), "arguments": \#($0.arguments)}\#n</tool_call>"# }
                out.append(ChatMessage(role: "assistant", content: ([message.content] + calls).filter { !$0.isEmpty }.joined(separator: "\n")))
            case "tool":
                out.append(ChatMessage(role: "user", content: "<tool_response>\n\(message.content)\n</tool_response>"))
            default:
                out.append(ChatMessage(role: message.role, content: message.content))
            }
        }
        return out
    }
}

// MARK: - Parsing the answer

/// A call the model made, ready for the response.
public struct ParsedToolCall: Sendable, Equatable {
    public let id: String
    public let name: String
    /// Compact JSON text.
    public let arguments: String
}

enum ToolCallParser {
    static let pythonTag = "<|python_tag|>"

    /// Splits an answer into its text and its calls; nil when the text holds no complete call (it is then content).
    static func parse(_ text: String, format: ToolCallFormat, tools: [ToolDefinition]) -> (content: String, calls: [ParsedToolCall])? {
        var calls: [ParsedToolCall] = []
        func call(_ json: Substring) -> ParsedToolCall? {
            guard let value = try? JSONParser.parse(Array(json.utf8)), case .string(let name)? = value["name"],
                  tools.contains(where: { $0.name == name }), let arguments = value[format.argumentsKey], case .object = arguments
            else { return nil }
            return ParsedToolCall(id: newCallID(), name: name, arguments: arguments.serialized)
        }
        switch format {
        case .llama3:
            if let tag = text.firstRange(of: pythonTag) {
                // `<|python_tag|>` then a JSON call, a built-in's `name.call(key="value", …)`, or code_interpreter's code.
                let content = String(text[..<tag.lowerBound]).trimmingTrailingWhitespace
                let body = String(text[tag.upperBound...]).trimmingLeadingWhitespace.trimmingTrailingWhitespace
                if body.hasPrefix("{"), let one = call(Substring(body)) { return (content, [one]) }
                if let one = builtinCall(body, tools: tools) { return (content, [one]) }
                return nil
            }
            let trimmed = text.trimmingLeadingWhitespace
            guard trimmed.hasPrefix("{"), let one = call(Substring(trimmed)) else { return nil }
            return ("", [one])
        case .hermes:
            guard let first = text.firstRange(of: "<tool_call>") else { return nil }
            var rest = text[first.lowerBound...]
            while let open = rest.firstRange(of: "<tool_call>") {
                guard let close = rest[open.upperBound...].firstRange(of: "</tool_call>"), let one = call(rest[open.upperBound..<close.lowerBound]) else {
                    return nil
                }
                calls.append(one)
                rest = rest[close.upperBound...]
            }
            let content = String(text[..<first.lowerBound])
            return (content.trimmingTrailingWhitespace, calls)
        }
    }

    /// `brave_search.call(query="weather in Paris")` → brave_search {"query": "weather in Paris"}; text that is no
    /// such call is code for code_interpreter (when offered).
    static func builtinCall(_ body: String, tools: [ToolDefinition]) -> ParsedToolCall? {
        let offered = Set(tools.map(\.name)).intersection(ToolSettings.llamaBuiltins)
        if let dot = body.firstRange(of: ".call("), body.hasSuffix(")"), offered.contains(String(body[..<dot.lowerBound])) {
            let name = String(body[..<dot.lowerBound])
            var arguments: [(String, JSONValue)] = []
            var rest = Substring(body[dot.upperBound...].dropLast())
            while !rest.isEmpty {
                // key="value" with \" and \\ escapes, pairs separated by commas.
                rest = rest.drop(while: { $0 == " " || $0 == "," })
                guard let equals = rest.firstIndex(of: "=") else { break }
                let key = rest[..<equals].trimmingCharacters(in: " ")
                rest = rest[rest.index(after: equals)...].drop(while: { $0 == " " })
                guard rest.first == "\"" else { return codeCall(body, offered) }
                rest = rest.dropFirst()
                var value = "", escaped = false, closed = false
                while let c = rest.first {
                    rest = rest.dropFirst()
                    if escaped { value.append(c); escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { closed = true; break } else { value.append(c) }
                }
                guard closed, !key.isEmpty else { return codeCall(body, offered) }
                arguments.append((key, .string(value)))
            }
            return ParsedToolCall(id: newCallID(), name: name, arguments: JSONValue.object(arguments).serialized)
        }
        return codeCall(body, offered)
    }

    /// Anything else after the tag is code for code_interpreter, when offered.
    private static func codeCall(_ body: String, _ offered: Set<String>) -> ParsedToolCall? {
        guard offered.contains("code_interpreter"), !body.isEmpty else { return nil }
        return ParsedToolCall(id: newCallID(), name: "code_interpreter", arguments: JSONValue.object([("code", .string(body))]).serialized)
    }

    static func newCallID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return "call_" + String((0..<24).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        String(drop(while: { set.contains($0) }).reversed().drop(while: { set.contains($0) }).reversed())
    }
}

extension String {
    var trimmingLeadingWhitespace: String { String(drop(while: \.isWhitespace)) }
    var trimmingTrailingWhitespace: String {
        var s = Substring(self)
        while let last = s.last, last.isWhitespace { s.removeLast() }
        return String(s)
    }
}

extension JSONValue {
    /// The same value for a chat template.
    var templateValue: TemplateValue {
        switch self {
        case .null: return .none
        case .bool(let b): return .bool(b)
        case .integer(let i): return .int(i)
        case .number(let d): return .double(d)
        case .string(let s): return .string(s)
        case .array(let items): return .list(items.map(\.templateValue))
        case .object(let members): return .dictionary(TemplateDictionary(members.map { ($0.0, $0.1.templateValue) }))
        }
    }
}
