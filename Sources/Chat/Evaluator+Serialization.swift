/// Python repr() of containers and transformers' `tojson` (json.dumps, ensure_ascii=False, keys in order).
extension Evaluator {
    func writeRepresentation(_ value: Value, into output: inout CappedText) throws {
        try step()
        switch value {
        case let .list(items):
            try output.append("[")
            for (offset, item) in items.enumerated() {
                if offset > 0 { try output.append(", ") }
                try writeRepresentation(item, into: &output)
            }
            try output.append("]")
        case let .dictionary(map):
            try output.append("{")
            for (offset, (key, item)) in map.pairs.enumerated() {
                if offset > 0 { try output.append(", ") }
                try output.append(Value.pythonStringRepresentation(key))
                try output.append(": ")
                try writeRepresentation(item, into: &output)
            }
            try output.append("}")
        case let .namespace(identifier):
            try output.append("<Namespace ")
            try writeRepresentation(.dictionary(namespaces[identifier]), into: &output)
            try output.append(">")
        default:
            try output.append(value.representation)
        }
    }

    func writeJSON(_ value: Value, indent: Int?, level: Int, into output: inout CappedText, _ position: SourcePosition) throws {
        try step()
        func newline(_ depth: Int) throws {
            guard let indent else { return }
            try output.append("\n")
            try output.append(String(repeating: " ", count: indent * depth))
        }
        let itemSeparator = indent == nil ? ", " : ","
        switch value {
        case .none: try output.append("null")
        case let .bool(flag): try output.append(flag ? "true" : "false")
        case let .int(number): try output.append(String(number))
        case let .double(number):
            if number.isNaN { try output.append("NaN") } else if number.isInfinite {
                try output.append(number < 0 ? "-Infinity" : "Infinity")
            } else {
                try output.append(Value.pythonFloatString(number))
            }
        case let .string(text): try writeJSONString(text, into: &output)
        case let .list(items):
            guard !items.isEmpty else { return try output.append("[]") }
            try output.append("[")
            for (offset, item) in items.enumerated() {
                if offset > 0 { try output.append(itemSeparator) }
                try newline(level + 1)
                try writeJSON(item, indent: indent, level: level + 1, into: &output, position)
            }
            try newline(level)
            try output.append("]")
        case let .dictionary(map):
            guard map.count > 0 else { return try output.append("{}") }
            try output.append("{")
            for (offset, (key, item)) in map.pairs.enumerated() {
                if offset > 0 { try output.append(itemSeparator) }
                try newline(level + 1)
                try writeJSONString(key, into: &output)
                try output.append(": ")
                try writeJSON(item, indent: indent, level: level + 1, into: &output, position)
            }
            try newline(level)
            try output.append("}")
        case .namespace:
            throw runtimeError("Object of type Namespace is not JSON serializable", position)
        case .undefined:
            throw runtimeError("Object of type Undefined is not JSON serializable", position)
        case .callable, .loop:
            throw runtimeError("Object of type \(value.typeName) is not JSON serializable", position)
        }
    }

    private func writeJSONString(_ text: String, into output: inout CappedText) throws {
        try output.append("\"")
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": try output.append("\\\"")
            case "\\": try output.append("\\\\")
            case "\n": try output.append("\\n")
            case "\r": try output.append("\\r")
            case "\t": try output.append("\\t")
            case "\u{08}": try output.append("\\b")
            case "\u{0C}": try output.append("\\f")
            default:
                if scalar.value < 0x20 { try output.append("\\u" + hex(scalar.value, width: 4)) } else { try output.append(scalar) }
            }
        }
        try output.append("\"")
    }
}
