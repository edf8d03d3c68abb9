/// Jinja tests (`x is defined`, `select('equalto', …)`).
extension Evaluator {
    func applyTest(_ name: String, to value: Value, _ arguments: Arguments, _ position: SourcePosition) throws -> Bool {
        func argument() throws -> Value {
            guard let first = arguments.positional.first ?? arguments.keyword.values.first else {
                throw runtimeError("test '\(name)' needs an argument", position)
            }
            return first
        }
        if case let .string(text) = value { try step(text.utf8.count / Evaluator.bytesPerStep) }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value == .none
        case "boolean": if case .bool = value { return true } else { return false }
        case "true": return value == .bool(true)
        case "false": return value == .bool(false)
        case "string": return value.isString
        case "number":
            switch value {
            case .int, .double, .bool: return true
            default: return false
            }
        case "integer": if case .int = value { return true } else { return false }
        case "float": if case .double = value { return true } else { return false }
        case "mapping":
            switch value {
            case .dictionary: return true
            default: return false
            }
        case "iterable":
            // Python: strings and Undefined are iterable too.
            switch value {
            case .list, .dictionary, .string, .undefined, .namespace: return true
            default: return false
            }
        case "sequence":
            switch value {
            case .list, .dictionary, .string, .undefined: return true
            default: return false
            }
        case "callable": if case .callable = value { return true } else { return false }
        case "even", "odd":
            guard let number = value.integerValue else {
                if let double = value.doubleValue { return (double.truncatingRemainder(dividingBy: 2) == 0) == (name == "even") }
                throw runtimeError("test '\(name)' needs a number", position)
            }
            return (number % 2 == 0) == (name == "even")
        case "divisibleby":
            guard let number = value.integerValue, let divisor = try argument().integerValue, divisor != 0 else {
                throw runtimeError("divisibleby needs non-zero integers", position)
            }
            let (remainder, overflow) = number.remainderReportingOverflow(dividingBy: divisor)
            return overflow || remainder == 0
        case "equalto", "eq", "==", "sameas": return try pythonEquals(value, try argument())
        case "ne", "!=": return !(try pythonEquals(value, try argument()))
        case "lt", "lessthan", "<": return try order(value, try argument(), position) < 0
        case "le", "<=": return try order(value, try argument(), position) <= 0
        case "gt", "greaterthan", ">": return try order(value, try argument(), position) > 0
        case "ge", ">=": return try order(value, try argument(), position) >= 0
        case "in": return try contains(try argument(), value, position)
        case "lower", "upper":
            guard case let .string(text) = value else { return false }
            return name == "lower" ? text == text.lowercased() : text == text.uppercased()
        case "escaped": return false
        default: throw runtimeError("unknown test '\(name)'", position)
        }
    }
}
