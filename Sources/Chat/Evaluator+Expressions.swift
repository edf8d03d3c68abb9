#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Evaluated call arguments: positional first, then keywords.
struct Arguments {
    var positional: [Value] = []
    var keyword: [String: Value] = [:]

    /// The argument at `index` or named `name`, if given.
    func value(_ index: Int, _ name: String) -> Value? {
        if index < positional.count { return positional[index] }
        return keyword[name]
    }

    var count: Int { positional.count + keyword.count }
}

extension Evaluator {
    func evaluateArguments(_ arguments: [Argument]) throws -> Arguments {
        var result = Arguments()
        for argument in arguments {
            let value = try evaluate(argument.value)
            if let name = argument.name { result.keyword[name] = value } else { result.positional.append(value) }
        }
        return result
    }

    func evaluate(_ expression: Expression) throws -> Value {
        try step()
        let position = expression.position
        switch expression.kind {
        case let .literal(value):
            return value
        case let .name(name):
            return lookup(name)
        case let .list(items), let .tuple(items):
            return try checkedContainer(.list(try items.map { try evaluate($0) }), position)
        case let .dictionary(entries):
            var map = OrderedMap<Value>()
            for entry in entries {
                guard case let .string(key) = try evaluate(entry.key) else {
                    throw runtimeError("only string dictionary keys are supported", entry.key.position)
                }
                map[key] = try evaluate(entry.value)
            }
            return try checkedContainer(.dictionary(map), position)
        case let .attribute(base, name):
            return try attribute(name, of: try evaluate(base), position)
        case let .subscriptAccess(base, key):
            return try item(try evaluate(key), of: try evaluate(base), position)
        case let .slice(base, start, stop, stepExpression):
            let value = try evaluate(base)
            return try slice(value,
                             start: try start.map { try evaluate($0) },
                             stop: try stop.map { try evaluate($0) },
                             step: try stepExpression.map { try evaluate($0) }, position)
        case let .call(callee, arguments):
            return try evaluateCall(callee, arguments, position)
        case let .filter(base, name, arguments):
            return try applyFilter(name, to: try evaluate(base), try evaluateArguments(arguments), position)
        case let .test(base, name, arguments, negated):
            let result = try applyTest(name, to: try evaluate(base), try evaluateArguments(arguments), position)
            return .bool(result != negated)
        case let .negate(operand):
            let value = try evaluate(operand)
            switch value {
            case let .int(number):
                let (negated, overflow) = Int(0).subtractingReportingOverflow(number)
                if overflow { throw runtimeError("integer overflow", position) }
                return .int(negated)
            case let .double(number): return .double(-number)
            case let .bool(flag): return .int(flag ? -1 : 0)
            case .undefined: throw undefinedError(value, position)
            default: throw runtimeError("bad operand type for unary -: '\(value.typeName)'", position)
            }
        case let .plus(operand):
            let value = try evaluate(operand)
            guard value.doubleValue != nil else { throw runtimeError("bad operand type for unary +: '\(value.typeName)'", position) }
            return value
        case let .not(operand):
            return .bool(!(try evaluate(operand).isTruthy))
        case let .and(left, right):
            let first = try evaluate(left)
            return first.isTruthy ? try evaluate(right) : first
        case let .or(left, right):
            let first = try evaluate(left)
            return first.isTruthy ? first : try evaluate(right)
        case let .conditional(condition, then, otherwise):
            if try evaluate(condition).isTruthy { return try evaluate(then) }
            return try otherwise.map { try evaluate($0) } ?? .undefined(name: "")
        case let .binary(binaryOperator, left, right):
            return try binary(binaryOperator, try evaluate(left), try evaluate(right), position)
        case let .compare(first, comparisons):
            var left = try evaluate(first)
            for comparison in comparisons {
                let right = try evaluate(comparison.operand)
                if !(try compare(comparison.comparisonOperator, left, right, position)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        }
    }

    // MARK: Access

    func attribute(_ name: String, of value: Value, _ position: SourcePosition) throws -> Value {
        switch value {
        case .undefined:
            throw undefinedError(value, position)
        case let .dictionary(map):
            return map[name] ?? .undefined(name: name)
        case let .namespace(identifier):
            return namespaces[identifier][name] ?? .undefined(name: name)
        case let .loop(state):
            return state.attribute(name) ?? .undefined(name: name)
        default:
            return .undefined(name: name)
        }
    }

    func item(_ key: Value, of value: Value, _ position: SourcePosition) throws -> Value {
        switch (value, key) {
        case (.undefined, _):
            throw undefinedError(value, position)
        case let (.dictionary(map), .string(name)):
            return map[name] ?? .undefined(name: name)
        case let (.namespace(identifier), .string(name)):
            return namespaces[identifier][name] ?? .undefined(name: name)
        case let (.loop(state), .string(name)):
            return state.attribute(name) ?? .undefined(name: name)
        case let (.list(items), _):
            guard let index = key.integerValue else { return .undefined(name: "") }
            guard let resolved = resolveIndex(index, count: items.count) else { return .undefined(name: "") }
            return items[resolved]
        case let (.string(text), _):
            guard let index = key.integerValue else { return .undefined(name: "") }
            let scalars = Array(text.unicodeScalars)
            try step(scalars.count / Evaluator.bytesPerStep)
            guard let resolved = resolveIndex(index, count: scalars.count) else { return .undefined(name: "") }
            return .string(String(scalars[resolved]))
        default:
            return .undefined(name: "")
        }
    }

    private func resolveIndex(_ index: Int, count: Int) -> Int? {
        let resolved = index < 0 ? index + count : index
        return resolved >= 0 && resolved < count ? resolved : nil
    }

    /// Python slice semantics for lists and strings.
    func slice(_ value: Value, start: Value?, stop: Value?, step stepValue: Value?, _ position: SourcePosition) throws -> Value {
        func bound(_ part: Value?) throws -> Int? {
            guard let part, part != .none else { return nil }
            guard let number = part.integerValue else { throw runtimeError("slice indices must be integers or none", position) }
            return number
        }
        let stride = try bound(stepValue) ?? 1
        guard stride != 0 else { throw runtimeError("slice step cannot be zero", position) }
        func indices(count: Int) throws -> [Int] {
            func clamp(_ raw: Int?, _ defaultValue: Int) -> Int {
                guard var index = raw else { return defaultValue }
                if index < 0 { index += count }
                if stride > 0 { return min(max(index, 0), count) }
                return min(max(index, -1), count - 1)
            }
            let first = clamp(try bound(start), stride > 0 ? 0 : count - 1)
            let last = clamp(try bound(stop), stride > 0 ? count : -1)
            var result: [Int] = []
            var cursor = first
            while stride > 0 ? cursor < last : cursor > last {
                result.append(cursor)
                let (next, overflow) = cursor.addingReportingOverflow(stride)
                if overflow { break }
                cursor = next
            }
            try step(result.count)
            return result
        }
        switch value {
        case let .list(items):
            return .list(try indices(count: items.count).map { items[$0] })
        case let .string(text):
            try step(text.utf8.count / Evaluator.bytesPerStep)
            let scalars = Array(text.unicodeScalars)
            var result = String.UnicodeScalarView()
            for index in try indices(count: scalars.count) { result.append(scalars[index]) }
            return .string(String(result))
        case .undefined:
            throw undefinedError(value, position)
        default:
            throw runtimeError("'\(value.typeName)' object is not subscriptable", position)
        }
    }

    // MARK: Calls

    private func evaluateCall(_ callee: Expression, _ argumentExpressions: [Argument], _ position: SourcePosition) throws -> Value {
        if case let .attribute(receiverExpression, name) = callee.kind {
            let receiver = try evaluate(receiverExpression)
            if case .undefined = receiver { throw undefinedError(receiver, position) }
            let arguments = try evaluateArguments(argumentExpressions)
            if let result = try callMethod(name, on: receiver, arguments, position) { return result }
            let member = try attribute(name, of: receiver, position)
            guard case let .callable(callable) = member else {
                throw runtimeError("'\(receiver.typeName)' object has no method '\(name)'", position)
            }
            return try call(callable, arguments, position)
        }
        let target = try evaluate(callee)
        guard case let .callable(callable) = target else {
            if case .undefined = target { throw undefinedError(target, position) }
            throw runtimeError("'\(target.typeName)' object is not callable", position)
        }
        return try call(callable, try evaluateArguments(argumentExpressions), position)
    }

    func call(_ callable: Callable, _ arguments: Arguments, _ position: SourcePosition) throws -> Value {
        switch callable {
        case let .macro(index):
            return try callMacro(macros[index], arguments, position)
        case let .global(name):
            return try callGlobal(name, arguments, position)
        }
    }

    private func callMacro(_ macro: MacroDefinition, _ arguments: Arguments, _ position: SourcePosition) throws -> Value {
        guard macroDepth < limits.maximumDepth else {
            throw ChatTemplateError.nestingTooDeep(limit: limits.maximumDepth, line: position.line, column: position.column)
        }
        guard arguments.positional.count <= macro.parameters.count else {
            throw runtimeError("macro '\(macro.name)' takes \(macro.parameters.count) arguments, got \(arguments.positional.count)", position)
        }
        var frame: [String: Value] = [:]
        for (offset, parameter) in macro.parameters.enumerated() {
            if let value = arguments.value(offset, parameter) {
                frame[parameter] = value
            } else if let defaultExpression = macro.defaults[parameter] {
                frame[parameter] = try evaluate(defaultExpression)
            } else {
                frame[parameter] = .undefined(name: parameter)
            }
        }
        if let unknown = arguments.keyword.keys.sorted().first(where: { !macro.parameters.contains($0) }) {
            throw runtimeError("macro '\(macro.name)' has no parameter '\(unknown)'", position)
        }
        // A macro sees the template's top-level names and its own arguments, not the caller's locals.
        let savedFrames = frames
        frames = [frames[0], frame]
        macroDepth += 1
        defer {
            frames = savedFrames
            macroDepth -= 1
        }
        return .string(try renderNested(macro.body))
    }

    private func callGlobal(_ name: String, _ arguments: Arguments, _ position: SourcePosition) throws -> Value {
        switch name {
        case "raise_exception":
            let message = try arguments.value(0, "message").map { try display($0, position) } ?? ""
            throw ChatTemplateError.raised(message: message)
        case "range":
            let numbers = try arguments.positional.map { value -> Int in
                guard let number = value.integerValue else { throw runtimeError("range() arguments must be integers", position) }
                return number
            }
            let (start, stop, stride): (Int, Int, Int)
            switch numbers.count {
            case 1: (start, stop, stride) = (0, numbers[0], 1)
            case 2: (start, stop, stride) = (numbers[0], numbers[1], 1)
            case 3: (start, stop, stride) = (numbers[0], numbers[1], numbers[2])
            default: throw runtimeError("range() takes 1 to 3 integer arguments", position)
            }
            guard stride != 0 else { throw runtimeError("range() step must not be zero", position) }
            // Exact element count in unsigned arithmetic: the distance between two Ints always fits in UInt.
            let forward = stride > 0 ? stop > start : stop < start
            let distance = forward ? (stride > 0 ? UInt(bitPattern: stop &- start) : UInt(bitPattern: start &- stop)) : 0
            let elementCount = distance == 0 ? 0 : (distance - 1) / stride.magnitude + 1
            // Refuse before allocating: a range longer than the remaining budget can never finish.
            if elementCount > UInt(remainingSteps) { throw ChatTemplateError.stepBudgetExceeded(limit: limits.maximumSteps) }
            let count = Int(elementCount)
            try step(count)
            var values: [Value] = []
            values.reserveCapacity(count)
            var current = start
            for _ in 0..<count {
                guard stride > 0 ? current < stop : current > stop else { break }
                values.append(.int(current))
                let (next, overflow) = current.addingReportingOverflow(stride)
                if overflow { break }
                current = next
            }
            return .list(values)
        case "namespace", "dict":
            var map = OrderedMap<Value>()
            if let first = arguments.positional.first {
                guard case let .dictionary(initial) = first else { throw runtimeError("\(name)() takes a mapping", position) }
                map = initial
            }
            for key in arguments.keyword.keys.sorted() { map[key] = arguments.keyword[key] }
            if name == "dict" { return try checkedContainer(.dictionary(map), position) }
            namespaces.append(map)
            return .namespace(namespaces.count - 1)
        case "strftime_now":
            guard case let .string(format)? = arguments.value(0, "format") else {
                throw runtimeError("strftime_now() takes a format string", position)
            }
            return try checkedString(formatDate(now, format))
        default:
            throw runtimeError("unknown function '\(name)'", position)
        }
    }

    // MARK: Operators

    func binary(_ binaryOperator: BinaryOperator, _ left: Value, _ right: Value, _ position: SourcePosition) throws -> Value {
        if binaryOperator == .concatenate {
            let leftText = try display(left, position)
            let rightText = try display(right, position)
            try ensureStringFits(leftText.utf8.count + rightText.utf8.count)
            return try checkedString(leftText + rightText)
        }
        if left.isUndefined { throw undefinedError(left, position) }
        if right.isUndefined { throw undefinedError(right, position) }
        func unsupported() -> ChatTemplateError {
            runtimeError("unsupported operand types for \(binaryOperator.rawValue): '\(left.typeName)' and '\(right.typeName)'", position)
        }
        switch (binaryOperator, left, right) {
        case let (.add, .string(first), .string(second)):
            try ensureStringFits(first.utf8.count + second.utf8.count)
            return try checkedString(first + second)
        case let (.add, .list(first), .list(second)):
            try step(first.count + second.count)
            return .list(first + second)
        case let (.multiply, .string(text), count), let (.multiply, count, .string(text)):
            guard let times = count.integerValue else { throw unsupported() }
            let (bytes, overflow) = text.utf8.count.multipliedReportingOverflow(by: max(0, times))
            if overflow { throw ChatTemplateError.outputTooLarge(limitBytes: limits.maximumOutputBytes) }
            try ensureStringFits(bytes)
            return try checkedString(String(repeating: text, count: max(0, times)))
        case let (.multiply, .list(items), count), let (.multiply, count, .list(items)):
            guard let times = count.integerValue else { throw unsupported() }
            let (total, overflow) = items.count.multipliedReportingOverflow(by: max(0, times))
            if overflow || total > remainingSteps { throw ChatTemplateError.stepBudgetExceeded(limit: limits.maximumSteps) }
            try step(total)
            return .list(Array([[Value]](repeating: items, count: max(0, times)).joined()))
        default:
            break
        }
        if let first = left.integerValue, let second = right.integerValue {
            return try integerArithmetic(binaryOperator, first, second, position)
        }
        guard let first = left.doubleValue, let second = right.doubleValue else { throw unsupported() }
        switch binaryOperator {
        case .add: return .double(first + second)
        case .subtract: return .double(first - second)
        case .multiply: return .double(first * second)
        case .divide:
            guard second != 0 else { throw runtimeError("division by zero", position) }
            return .double(first / second)
        case .floorDivide:
            guard second != 0 else { throw runtimeError("division by zero", position) }
            return .double((first / second).rounded(.down))
        case .modulo:
            guard second != 0 else { throw runtimeError("modulo by zero", position) }
            let remainder = first.truncatingRemainder(dividingBy: second)
            return .double(remainder != 0 && (remainder < 0) != (second < 0) ? remainder + second : remainder)
        case .power: return .double(pow(first, second))
        case .concatenate: throw unsupported()
        }
    }

    private func integerArithmetic(_ binaryOperator: BinaryOperator, _ first: Int, _ second: Int, _ position: SourcePosition) throws -> Value {
        func checked(_ result: (partialValue: Int, overflow: Bool)) throws -> Value {
            if result.overflow { throw runtimeError("integer overflow", position) }
            return .int(result.partialValue)
        }
        switch binaryOperator {
        case .add: return try checked(first.addingReportingOverflow(second))
        case .subtract: return try checked(first.subtractingReportingOverflow(second))
        case .multiply: return try checked(first.multipliedReportingOverflow(by: second))
        case .divide:
            guard second != 0 else { throw runtimeError("division by zero", position) }
            return .double(Double(first) / Double(second))
        case .floorDivide, .modulo:
            guard second != 0 else { throw runtimeError(binaryOperator == .modulo ? "modulo by zero" : "division by zero", position) }
            let (quotient, overflow) = first.dividedReportingOverflow(by: second)
            if overflow { throw runtimeError("integer overflow", position) }
            let remainder = first - quotient * second
            // Python rounds the quotient toward negative infinity.
            let adjust = remainder != 0 && (remainder < 0) != (second < 0)
            if binaryOperator == .floorDivide { return .int(adjust ? quotient - 1 : quotient) }
            return .int(adjust ? remainder + second : remainder)
        case .power:
            if second < 0 { return .double(pow(Double(first), Double(second))) }
            var result = 1
            var base = first
            var exponent = second
            while exponent > 0 {
                try step()
                if exponent & 1 == 1 {
                    let (product, overflow) = result.multipliedReportingOverflow(by: base)
                    if overflow { throw runtimeError("integer overflow", position) }
                    result = product
                }
                exponent >>= 1
                if exponent > 0 {
                    let (square, overflow) = base.multipliedReportingOverflow(by: base)
                    if overflow { throw runtimeError("integer overflow", position) }
                    base = square
                }
            }
            return .int(result)
        case .concatenate:
            return .string(String(first) + String(second))
        }
    }

    func compare(_ comparisonOperator: ComparisonOperator, _ left: Value, _ right: Value, _ position: SourcePosition) throws -> Bool {
        switch comparisonOperator {
        case .equal: return try pythonEquals(left, right)
        case .notEqual: return !(try pythonEquals(left, right))
        case .contains: return try contains(right, left, position)
        case .notContains: return !(try contains(right, left, position))
        case .less: return try order(left, right, position) < 0
        case .lessOrEqual: return try order(left, right, position) <= 0
        case .greater: return try order(left, right, position) > 0
        case .greaterOrEqual: return try order(left, right, position) >= 0
        }
    }

    /// Python ==: numbers compare by value across int/float/bool; containers element-wise.
    func pythonEquals(_ left: Value, _ right: Value) throws -> Bool {
        try step()
        switch (left, right) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.string(first), .string(second)):
            try step(min(first.utf8.count, second.utf8.count) / Evaluator.bytesPerStep)
            return first.unicodeScalars.elementsEqual(second.unicodeScalars)
        case let (.list(first), .list(second)):
            guard first.count == second.count else { return false }
            for (a, b) in zip(first, second) where !(try pythonEquals(a, b)) { return false }
            return true
        case let (.dictionary(first), .dictionary(second)):
            guard first.count == second.count else { return false }
            for (key, value) in first.pairs {
                guard let other = second[key], try pythonEquals(value, other) else { return false }
            }
            return true
        case let (.namespace(first), .namespace(second)): return first == second
        case let (.callable(first), .callable(second)): return first == second
        case let (.loop(first), .loop(second)): return first == second
        default:
            if let first = left.doubleValue, let second = right.doubleValue {
                if let a = left.integerValue, let b = right.integerValue { return a == b }
                return first == second
            }
            return false
        }
    }

    /// -1, 0 or 1 for Python's ordering; strings by code point, lists lexicographically.
    func order(_ left: Value, _ right: Value, _ position: SourcePosition) throws -> Int {
        try step()
        switch (left, right) {
        case let (.string(first), .string(second)):
            try step(min(first.utf8.count, second.utf8.count) / Evaluator.bytesPerStep)
            if first.unicodeScalars.elementsEqual(second.unicodeScalars) { return 0 }
            return first.unicodeScalars.lexicographicallyPrecedes(second.unicodeScalars) { $0.value < $1.value } ? -1 : 1
        case let (.list(first), .list(second)):
            for (a, b) in zip(first, second) {
                let result = try order(a, b, position)
                if result != 0 { return result }
            }
            return first.count == second.count ? 0 : (first.count < second.count ? -1 : 1)
        default:
            if let a = left.integerValue, let b = right.integerValue { return a == b ? 0 : (a < b ? -1 : 1) }
            if let a = left.doubleValue, let b = right.doubleValue { return a == b ? 0 : (a < b ? -1 : 1) }
            if left.isUndefined { throw undefinedError(left, position) }
            if right.isUndefined { throw undefinedError(right, position) }
            throw runtimeError("'<' not supported between '\(left.typeName)' and '\(right.typeName)'", position)
        }
    }

    func contains(_ container: Value, _ element: Value, _ position: SourcePosition) throws -> Bool {
        switch container {
        case let .string(text):
            guard case let .string(needle) = element else {
                throw runtimeError("'in <string>' requires a string as left operand, not '\(element.typeName)'", position)
            }
            try step(text.utf8.count / Evaluator.bytesPerStep)
            return needle.isEmpty || text.unicodeScalars.firstRange(of: needle.unicodeScalars) != nil
        case let .list(items):
            for item in items where try pythonEquals(item, element) { return true }
            return false
        case let .dictionary(map):
            guard case let .string(key) = element else { return false }
            return map[key] != nil
        case let .namespace(identifier):
            guard case let .string(key) = element else { return false }
            return namespaces[identifier][key] != nil
        case .undefined:
            return false
        default:
            throw runtimeError("argument of type '\(container.typeName)' is not iterable", position)
        }
    }
}
