import JSON

/// The terminal chat's view of tool calls a model writes as text (`<tool_call>{"name": …, "arguments": …}</tool_call>`,
/// the Hermes/Qwen convention): text before a call streams as usual; from `<tool_call>` on it is held, and each
/// complete call is drawn as a block — the function's name, then its arguments indented. The runner runs no tools.
struct ToolCallDisplay {
    private static let open = "<tool_call>", close = "</tool_call>"
    private var held = ""
    private var inCall = false

    /// What to print now of `text` (the next streamed piece).
    mutating func feed(_ text: String, style: TextStyle) -> String {
        held += text
        var out = ""
        while true {
            if inCall {
                guard let end = held.firstRange(of: Self.close) else { return out }
                out += Self.block(String(held[..<end.lowerBound]), style: style)
                held = String(held[end.upperBound...]).drop(while: { $0 == "\n" }).description
                inCall = false
            } else if let start = held.firstRange(of: Self.open) {
                out += String(held[..<start.lowerBound])
                held = String(held[start.upperBound...])
                inCall = true
            } else {
                // Keep back a tail that may be the start of "<tool_call>".
                var keep = min(Self.open.count - 1, held.count)
                while keep > 0 && !Self.open.hasPrefix(String(held.suffix(keep))) { keep -= 1 }
                out += String(held.dropLast(keep))
                held = String(held.suffix(keep))
                return out
            }
        }
    }

    /// Whatever is still held at the end of the answer (an unfinished call is shown as it is).
    mutating func finish(style: TextStyle) -> String {
        defer { held = ""; inCall = false }
        return inCall ? Self.open + held : held
    }

    static func block(_ json: String, style: TextStyle) -> String {
        guard let call = try? JSONParser.parse(Array(json.utf8)), case .string(let name)? = call["name"] else {
            return style.dim("[tool call] ") + json + "\n"
        }
        let arguments = call["arguments"] ?? call["parameters"] ?? .object([])
        return style.bold("[tool call] \(name)") + "\n" + pretty(arguments, indent: "  ") + "\n"
    }

    /// JSON with one member per line, indented (the compact form of JSONValue, spread out).
    static func pretty(_ value: JSONValue, indent: String, level: Int = 1) -> String {
        let inner = String(repeating: indent, count: level), outer = String(repeating: indent, count: level - 1)
        switch value {
        case .object(let members) where !members.isEmpty:
            let lines = members.map { inner + JSONValue.string($0.0).serialized + ": " + pretty($0.1, indent: indent, level: level + 1) }
            return "{\n" + lines.joined(separator: ",\n") + "\n" + outer + "}"
        case .array(let items) where !items.isEmpty:
            return "[\n" + items.map { inner + pretty($0, indent: indent, level: level + 1) }.joined(separator: ",\n") + "\n" + outer + "]"
        default:
            return value.serialized
        }
    }
}
