/// The evaluator's value: TemplateValue plus what only exists while rendering.
enum Value: Sendable, Equatable {
    case undefined(name: String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([Value])
    case dictionary(OrderedMap<Value>)
    /// Index into the evaluator's namespace table: namespaces are mutable and shared, like Python objects.
    case namespace(Int)
    case callable(Callable)
    /// The `loop` variable, built lazily: a dict per iteration would cost more than the body.
    indirect case loop(LoopState)
}

struct LoopState: Sendable, Equatable {
    var index0: Int
    var length: Int
    var previous: Value?
    var next: Value?

    func attribute(_ name: String) -> Value? {
        switch name {
        case "index": return .int(index0 + 1)
        case "index0": return .int(index0)
        case "revindex": return .int(length - index0)
        case "revindex0": return .int(length - index0 - 1)
        case "first": return .bool(index0 == 0)
        case "last": return .bool(index0 == length - 1)
        case "length": return .int(length)
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem": return previous ?? .undefined(name: "loop.previtem")
        case "nextitem": return next ?? .undefined(name: "loop.nextitem")
        default: return nil
        }
    }
}

enum Callable: Sendable, Equatable {
    case global(String)
    case macro(Int)
}

extension Value {
    init(_ value: TemplateValue) {
        switch value {
        case .none: self = .none
        case let .bool(flag): self = .bool(flag)
        case let .int(number): self = .int(number)
        case let .double(number): self = .double(number)
        case let .string(text): self = .string(text)
        case let .list(items): self = .list(items.map(Value.init))
        case let .dictionary(dictionary):
            var map = OrderedMap<Value>()
            for (key, item) in dictionary.map.pairs { map[key] = Value(item) }
            self = .dictionary(map)
        }
    }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// Python truthiness.
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case let .bool(flag): return flag
        case let .int(number): return number != 0
        case let .double(number): return number != 0
        case let .string(text): return !text.isEmpty
        case let .list(items): return !items.isEmpty
        case let .dictionary(map): return map.count > 0
        case .namespace, .callable, .loop: return true
        }
    }

    var typeName: String {
        switch self {
        case .undefined: return "undefined"
        case .none: return "none"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double: return "float"
        case .string: return "string"
        case .list: return "list"
        case .dictionary: return "dict"
        case .namespace: return "namespace"
        case .callable: return "function"
        case .loop: return "LoopContext"
        }
    }

    /// Numeric view for arithmetic; Python treats booleans as integers.
    var integerValue: Int? {
        switch self {
        case let .int(number): return number
        case let .bool(flag): return flag ? 1 : 0
        default: return nil
        }
    }

    var doubleValue: Double? {
        switch self {
        case let .int(number): return Double(number)
        case let .bool(flag): return flag ? 1 : 0
        case let .double(number): return number
        default: return nil
        }
    }
}

// MARK: - Python str() and repr()

extension Value {
    /// What `{{ value }}` prints: Python's str().
    var displayString: String {
        switch self {
        case .undefined: return ""
        case let .string(text): return text
        default: return representation
        }
    }

    /// Python's repr(), used for values nested in lists and dicts.
    var representation: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case let .bool(flag): return flag ? "True" : "False"
        case let .int(number): return String(number)
        case let .double(number): return Value.pythonFloatString(number)
        case let .string(text): return Value.pythonStringRepresentation(text)
        case let .list(items): return "[" + items.map(\.representation).joined(separator: ", ") + "]"
        case let .dictionary(map):
            let parts = map.pairs.map { Value.pythonStringRepresentation($0.0) + ": " + $0.1.representation }
            return "{" + parts.joined(separator: ", ") + "}"
        case .namespace: return "<Namespace>"
        case .callable: return "<function>"
        case .loop: return "<LoopContext>"
        }
    }

    static func pythonFloatString(_ number: Double) -> String {
        if number.isNaN { return "nan" }
        if number.isInfinite { return number < 0 ? "-inf" : "inf" }
        // Swift's shortest round-trip form matches Python's repr, including "1e+16" and "1e-05".
        return "\(number)"
    }

    static func pythonStringRepresentation(_ text: String) -> String {
        let quote: Character = text.contains("'") && !text.contains("\"") ? "\"" : "'"
        var result = String(quote)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if Character(scalar) == quote {
                    result += "\\" + String(quote)
                } else if scalar.value < 0x20 || scalar.value == 0x7f {
                    result += "\\x" + hex(scalar.value, width: 2)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        result.append(quote)
        return result
    }
}

func hex(_ number: UInt32, width: Int) -> String {
    let digits = String(number, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// Python's str.isspace, which also counts the ASCII separators 0x1c–0x1f.
func isPythonWhitespace(_ scalar: Unicode.Scalar) -> Bool {
    if (0x1c...0x1f).contains(scalar.value) { return true }
    return scalar.properties.isWhitespace
}
