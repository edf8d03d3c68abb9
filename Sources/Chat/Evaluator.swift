#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Tree-walking interpreter. One instance renders once; it is never shared between threads.
/// Every node evaluated costs a step; string and list building cost steps by size, so the step budget
/// bounds both time and memory.
final class Evaluator {
    enum Flow { case normal, breakLoop, continueLoop }

    static let bytesPerStep = 64
    /// Deepest list/dict nesting a template may build; recursive printing and freeing stay shallow.
    static let maximumValueDepth = 128

    let limits: ChatTemplateLimits
    let now: Date
    private(set) var steps = 0
    var frames: [[String: Value]]
    var namespaces: [OrderedMap<Value>] = []
    var macros: [MacroDefinition] = []
    var macroDepth = 0
    var loopDepth = 0

    init(context: [String: Value], limits: ChatTemplateLimits, now: Date) {
        self.limits = limits
        self.now = now
        frames = [context]
    }

    func render(_ body: [Statement]) throws -> String {
        var output = CappedText(limit: limits.maximumOutputBytes)
        _ = try execute(body, into: &output)
        return output.text
    }

    // MARK: Budget

    func step(_ count: Int = 1) throws {
        let (total, overflow) = steps.addingReportingOverflow(count)
        steps = total
        if overflow || total > limits.maximumSteps { throw ChatTemplateError.stepBudgetExceeded(limit: limits.maximumSteps) }
    }

    var remainingSteps: Int { max(0, limits.maximumSteps - steps) }

    /// Checks the size cap and charges the bytes of a freshly built string.
    func checkedString(_ text: String) throws -> Value {
        let bytes = text.utf8.count
        if bytes > limits.maximumOutputBytes { throw ChatTemplateError.outputTooLarge(limitBytes: limits.maximumOutputBytes) }
        try step(bytes / Evaluator.bytesPerStep)
        return .string(text)
    }

    /// Refuses a string of `bytes` bytes before building it.
    func ensureStringFits(_ bytes: Int) throws {
        if bytes > limits.maximumOutputBytes || bytes < 0 {
            throw ChatTemplateError.outputTooLarge(limitBytes: limits.maximumOutputBytes)
        }
    }

    func runtimeError(_ message: String, _ position: SourcePosition) -> ChatTemplateError {
        .runtime(message: message, line: position.line, column: position.column)
    }

    func undefinedError(_ value: Value, _ position: SourcePosition) -> ChatTemplateError {
        if case let .undefined(name) = value, !name.isEmpty { return runtimeError("'\(name)' is undefined", position) }
        return runtimeError("value is undefined", position)
    }

    // MARK: Variables

    func lookup(_ name: String) -> Value {
        for frame in frames.reversed() {
            if let value = frame[name] { return value }
        }
        switch name {
        case "range", "namespace", "raise_exception", "strftime_now", "dict":
            return .callable(.global(name))
        default:
            return .undefined(name: name)
        }
    }

    func assign(_ target: AssignmentTarget, _ value: Value, _ position: SourcePosition) throws {
        switch target {
        case let .name(name):
            frames[frames.count - 1][name] = value
        case let .names(names):
            let items = try unpack(value, count: names.count, position)
            for (name, item) in zip(names, items) { frames[frames.count - 1][name] = item }
        case let .attribute(object, attribute):
            guard case let .namespace(identifier) = lookup(object) else {
                throw runtimeError("cannot assign attribute '\(attribute)' on '\(object)': only namespace() objects allow it", position)
            }
            namespaces[identifier][attribute] = value
        }
    }

    func unpack(_ value: Value, count: Int, _ position: SourcePosition) throws -> [Value] {
        let items = try iterate(value, position)
        guard items.count == count else {
            throw runtimeError("cannot unpack \(items.count) values into \(count) names", position)
        }
        return items
    }

    /// Python iteration: lists, dict keys, string characters; undefined iterates as empty.
    /// Charges a step per element, so filters over big lists inside loops stay within the budget.
    func iterate(_ value: Value, _ position: SourcePosition) throws -> [Value] {
        switch value {
        case let .list(items):
            try step(items.count)
            return items
        case let .dictionary(map):
            try step(map.count)
            return map.keys.map { .string($0) }
        case let .string(text):
            try step(text.utf8.count)
            return text.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        case let .namespace(identifier): return namespaces[identifier].keys.map { .string($0) }
        default: throw runtimeError("'\(value.typeName)' object is not iterable", position)
        }
    }

    /// Nesting depth of a value built by the template, charged per node visited.
    func depth(of value: Value) throws -> Int {
        switch value {
        case let .list(items):
            try step(items.count)
            return 1 + (try items.map { try depth(of: $0) }.max() ?? 0)
        case let .dictionary(map):
            try step(map.count)
            return 1 + (try map.values.map { try depth(of: $0) }.max() ?? 0)
        default:
            return 0
        }
    }

    func checkedContainer(_ value: Value, _ position: SourcePosition) throws -> Value {
        if try depth(of: value) > Evaluator.maximumValueDepth {
            throw ChatTemplateError.nestingTooDeep(limit: Evaluator.maximumValueDepth, line: position.line, column: position.column)
        }
        return value
    }

    // MARK: Statements

    func execute(_ statements: [Statement], into output: inout CappedText) throws -> Flow {
        for statement in statements {
            try step()
            switch statement {
            case let .text(text):
                try output.append(text)
            case let .output(expression):
                let value = try evaluate(expression)
                try output.append(try display(value, expression.position))
            case let .conditional(branches, otherwise):
                var taken = false
                for branch in branches where try evaluate(branch.condition).isTruthy {
                    taken = true
                    let flow = try execute(branch.body, into: &output)
                    if flow != .normal { return flow }
                    break
                }
                if !taken, let otherwise {
                    let flow = try execute(otherwise, into: &output)
                    if flow != .normal { return flow }
                }
            case let .loop(loop):
                try executeLoop(loop, into: &output)
            case let .assign(target, expression, position):
                try assign(target, try evaluate(expression), position)
            case let .assignBlock(target, body, filters, position):
                var value = Value.string(try renderNested(body))
                for filter in filters {
                    value = try applyFilter(filter.name, to: value, try evaluateArguments(filter.arguments), filter.position)
                }
                try assign(target, value, position)
            case let .macro(definition):
                macros.append(definition)
                frames[frames.count - 1][definition.name] = .callable(.macro(macros.count - 1))
            case let .filterBlock(filters, body):
                var value = Value.string(try renderNested(body))
                for filter in filters {
                    value = try applyFilter(filter.name, to: value, try evaluateArguments(filter.arguments), filter.position)
                }
                try output.append(try display(value, filters.first?.position ?? SourcePosition(line: 1, column: 1)))
            case let .scoped(assignments, body):
                var frame: [String: Value] = [:]
                for (name, expression) in assignments { frame[name] = try evaluate(expression) }
                frames.append(frame)
                defer { frames.removeLast() }
                let flow = try execute(body, into: &output)
                if flow != .normal { return flow }
            case let .breakLoop(position):
                guard loopDepth > 0 else { throw runtimeError("'break' outside a loop", position) }
                return .breakLoop
            case let .continueLoop(position):
                guard loopDepth > 0 else { throw runtimeError("'continue' outside a loop", position) }
                return .continueLoop
            }
        }
        return .normal
    }

    func renderNested(_ body: [Statement]) throws -> String {
        var buffer = CappedText(limit: limits.maximumOutputBytes)
        let savedLoopDepth = loopDepth
        loopDepth = 0
        defer { loopDepth = savedLoopDepth }
        _ = try execute(body, into: &buffer)
        return buffer.text
    }

    func display(_ value: Value, _ position: SourcePosition) throws -> String {
        switch value {
        case let .string(text): return text
        case .undefined: return ""
        default:
            var text = CappedText(limit: limits.maximumOutputBytes)
            try writeRepresentation(value, into: &text)
            try step(text.byteCount / Evaluator.bytesPerStep)
            return text.text
        }
    }

    private func bindTarget(_ target: AssignmentTarget, _ item: Value, into frame: inout [String: Value], _ position: SourcePosition) throws {
        switch target {
        case let .name(name):
            frame[name] = item
        case let .names(names):
            for (name, part) in zip(names, try unpack(item, count: names.count, position)) { frame[name] = part }
        case .attribute:
            throw runtimeError("a loop target must be a name", position)
        }
    }

    private func executeLoop(_ loop: Loop, into output: inout CappedText) throws {
        var items = try iterate(try evaluate(loop.iterable), loop.position)
        if let condition = loop.condition {
            var kept: [Value] = []
            for item in items {
                var frame: [String: Value] = [:]
                try bindTarget(loop.target, item, into: &frame, loop.position)
                frames.append(frame)
                defer { frames.removeLast() }
                if try evaluate(condition).isTruthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            if let otherwise = loop.otherwise {
                frames.append([:])
                defer { frames.removeLast() }
                _ = try execute(otherwise, into: &output)
            }
            return
        }
        loopDepth += 1
        defer { loopDepth -= 1 }
        let length = items.count
        for (offset, item) in items.enumerated() {
            try step()
            var frame: [String: Value] = [:]
            try bindTarget(loop.target, item, into: &frame, loop.position)
            frame["loop"] = .loop(LoopState(index0: offset, length: length,
                                            previous: offset > 0 ? items[offset - 1] : nil,
                                            next: offset + 1 < length ? items[offset + 1] : nil))
            // Each iteration gets a fresh frame: a `set` inside the body never outlives its iteration (as in Jinja).
            frames.append(frame)
            let flow = try execute(loop.body, into: &output)
            frames.removeLast()
            if flow == .breakLoop { break }
        }
    }
}

/// A string builder that refuses to grow past a byte limit.
struct CappedText {
    private(set) var text = ""
    private(set) var byteCount = 0
    let limit: Int

    init(limit: Int) { self.limit = limit }

    mutating func append(_ piece: String) throws {
        let bytes = piece.utf8.count
        guard bytes <= limit - byteCount else { throw ChatTemplateError.outputTooLarge(limitBytes: limit) }
        text += piece
        byteCount += bytes
    }

    mutating func append(_ scalar: Unicode.Scalar) throws {
        let bytes = UTF8.width(scalar)
        guard bytes <= limit - byteCount else { throw ChatTemplateError.outputTooLarge(limitBytes: limit) }
        text.unicodeScalars.append(scalar)
        byteCount += bytes
    }
}
