/// Python methods called on values: `text.strip()`, `message.get('x')`, `d.items()`.
extension Evaluator {
    /// Returns nil when the value's type has no method of that name.
    func callMethod(_ name: String, on receiver: Value, _ arguments: Arguments, _ position: SourcePosition) throws -> Value? {
        switch receiver {
        case let .string(text): return try stringMethod(name, text, arguments, position)
        case let .dictionary(map): return try dictionaryMethod(name, map, arguments, position)
        case let .loop(state) where name == "cycle":
            guard !arguments.positional.isEmpty else { throw runtimeError("loop.cycle() needs at least one value", position) }
            return arguments.positional[state.index0 % arguments.positional.count]
        default: return nil
        }
    }

    private func dictionaryMethod(_ name: String, _ map: OrderedMap<Value>, _ arguments: Arguments, _ position: SourcePosition) throws -> Value? {
        switch name {
        case "get":
            guard let key = arguments.value(0, "key") else { throw runtimeError("get() needs a key", position) }
            guard case let .string(keyText) = key else { return arguments.value(1, "default") ?? Value.none }
            return map[keyText] ?? arguments.value(1, "default") ?? Value.none
        case "items": return .list(map.pairs.map { .list([.string($0.0), $0.1]) })
        case "keys": return .list(map.keys.map { .string($0) })
        case "values": return .list(map.values)
        default: return nil
        }
    }

    private func stringMethod(_ name: String, _ text: String, _ arguments: Arguments, _ position: SourcePosition) throws -> Value? {
        func stringArgument(_ index: Int, _ label: String) throws -> String? {
            guard let value = arguments.value(index, label), value != .none else { return nil }
            guard case let .string(string) = value else { throw runtimeError("\(name)() argument must be a string", position) }
            return string
        }
        try step(text.utf8.count / Evaluator.bytesPerStep)
        switch name {
        case "strip", "lstrip", "rstrip":
            let characters = try stringArgument(0, "chars")
            return .string(strip(text, characters: characters, leading: name != "rstrip", trailing: name != "lstrip"))
        case "upper": return .string(text.uppercased())
        case "lower": return .string(text.lowercased())
        case "title": return .string(pythonTitle(text))
        case "capitalize": return .string(capitalize(text))
        case "startswith", "endswith":
            guard let prefixValue = arguments.value(0, "prefix") else { throw runtimeError("\(name)() needs an argument", position) }
            let candidates: [Value]
            if case let .list(items) = prefixValue { candidates = items } else { candidates = [prefixValue] }
            for candidate in candidates {
                guard case let .string(affix) = candidate else { throw runtimeError("\(name)() argument must be a string", position) }
                let scalars = Array(text.unicodeScalars)
                let affixScalars = Array(affix.unicodeScalars)
                if name == "startswith" ? scalars.starts(with: affixScalars) : scalars.reversed().starts(with: affixScalars.reversed()) {
                    return .bool(true)
                }
            }
            return .bool(false)
        case "split", "rsplit":
            let separator = try stringArgument(0, "sep")
            let maximumSplits = arguments.value(1, "maxsplit")?.integerValue ?? -1
            return .list(try split(text, separator: separator, maximumSplits: maximumSplits, fromRight: name == "rsplit", position).map { .string($0) })
        case "replace":
            guard let old = try stringArgument(0, "old"), let new = try stringArgument(1, "new") else {
                throw runtimeError("replace() needs two strings", position)
            }
            return try checkedString(try replace(text, old, new, count: arguments.value(2, "count")?.integerValue))
        case "find", "count":
            guard let needle = try stringArgument(0, "sub") else { throw runtimeError("\(name)() needs a string", position) }
            let scalars = Array(text.unicodeScalars)
            let pattern = Array(needle.unicodeScalars)
            var found: [Int] = []
            var index = 0
            while index + pattern.count <= scalars.count {
                if scalars[index..<(index + pattern.count)].elementsEqual(pattern) {
                    found.append(index)
                    if name == "find" { break }
                    index += max(pattern.count, 1)
                } else {
                    index += 1
                }
            }
            return .int(name == "find" ? (found.first ?? -1) : found.count)
        case "join":
            guard let items = arguments.value(0, "iterable") else { throw runtimeError("join() needs an iterable", position) }
            let parts = try iterate(items, position).map { item -> String in
                guard case let .string(part) = item else { throw runtimeError("join() items must be strings", position) }
                return part
            }
            let total = parts.reduce(0) { $0 + $1.utf8.count } + text.utf8.count * max(0, parts.count - 1)
            try ensureStringFits(total)
            return try checkedString(parts.joined(separator: text))
        case "isdigit": return .bool(!text.isEmpty && text.unicodeScalars.allSatisfy { $0.properties.numericType == .decimal })
        case "isalpha": return .bool(!text.isEmpty && text.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
        case "isspace": return .bool(!text.isEmpty && text.unicodeScalars.allSatisfy(isPythonWhitespace))
        case "islower": return .bool(text.contains { $0.isLetter } && text == text.lowercased())
        case "isupper": return .bool(text.contains { $0.isLetter } && text == text.uppercased())
        default: return nil
        }
    }

    /// Python str.split / rsplit.
    private func split(_ text: String, separator: String?, maximumSplits: Int, fromRight: Bool, _ position: SourcePosition) throws -> [String] {
        var scalars = Array(text.unicodeScalars)
        if fromRight { scalars.reverse() }
        var limit = maximumSplits < 0 ? Int.max : maximumSplits
        var parts: [[Unicode.Scalar]] = []
        if let separator {
            var pattern = Array(separator.unicodeScalars)
            guard !pattern.isEmpty else { throw runtimeError("empty separator", position) }
            if fromRight { pattern.reverse() }
            var current: [Unicode.Scalar] = []
            var index = 0
            while index < scalars.count {
                if limit > 0, index + pattern.count <= scalars.count, scalars[index..<(index + pattern.count)].elementsEqual(pattern) {
                    parts.append(current)
                    current = []
                    index += pattern.count
                    limit -= 1
                } else {
                    current.append(scalars[index])
                    index += 1
                }
            }
            parts.append(current)
        } else {
            var index = 0
            while index < scalars.count {
                while index < scalars.count, isPythonWhitespace(scalars[index]) { index += 1 }
                guard index < scalars.count else { break }
                if limit == 0 {
                    var rest = Array(scalars[index...])
                    while let last = rest.last, isPythonWhitespace(last) { rest.removeLast() }
                    parts.append(rest)
                    break
                }
                var current: [Unicode.Scalar] = []
                while index < scalars.count, !isPythonWhitespace(scalars[index]) {
                    current.append(scalars[index])
                    index += 1
                }
                parts.append(current)
                limit -= 1
            }
        }
        try step(parts.count)
        var strings = parts.map { part in String(String.UnicodeScalarView(fromRight ? part.reversed() : part)) }
        if fromRight { strings.reverse() }
        return strings
    }
}
