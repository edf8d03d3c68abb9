#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Jinja's built-in filters (the subset chat templates use), with transformers' `tojson`.
extension Evaluator {
    func applyFilter(_ name: String, to value: Value, _ arguments: Arguments, _ position: SourcePosition) throws -> Value {
        func text(_ input: Value) throws -> String { try display(input, position) }
        func requireDefined() throws {
            if value.isUndefined { throw undefinedError(value, position) }
        }
        // Filters walk their input: charge for its size up front, so repeated filters on big values stay bounded.
        switch value {
        case let .string(string): try step(string.utf8.count / Evaluator.bytesPerStep)
        case let .list(items): try step(items.count)
        case let .dictionary(map): try step(map.count)
        default: break
        }
        switch name {
        case "safe":
            return value
        case "string":
            if value.isString { return value }
            return try checkedString(try text(value))
        case "trim":
            let characters = try arguments.value(0, "chars").map { try text($0) }
            return try checkedString(strip(try text(value), characters: characters, leading: true, trailing: true))
        case "upper": return try checkedString(try text(value).uppercased())
        case "lower": return try checkedString(try text(value).lowercased())
        case "capitalize": return try checkedString(capitalize(try text(value)))
        case "title": return try checkedString(jinjaTitle(try text(value)))
        case "length", "count":
            switch value {
            case let .string(string): return .int(string.unicodeScalars.count)
            case let .list(items): return .int(items.count)
            case let .dictionary(map): return .int(map.count)
            case .undefined: return .int(0)
            case let .namespace(identifier): return .int(namespaces[identifier].count)
            default: throw runtimeError("object of type '\(value.typeName)' has no len()", position)
            }
        case "first", "last":
            let items = try iterate(value, position)
            return (name == "first" ? items.first : items.last) ?? .undefined(name: name)
        case "join":
            let separator = try arguments.value(0, "d").map { try text($0) } ?? ""
            var items = try iterate(value, position)
            if let attributeName = arguments.value(1, "attribute") {
                items = try items.map { try lookupAttributePath(attributeName, in: $0, position) }
            }
            let parts = try items.map { try text($0) }
            let total = parts.reduce(0) { $0 + $1.utf8.count } + separator.utf8.count * max(0, parts.count - 1)
            try ensureStringFits(total)
            return try checkedString(parts.joined(separator: separator))
        case "default", "d":
            let fallback = arguments.value(0, "default_value") ?? .string("")
            let boolean = arguments.value(1, "boolean")?.isTruthy ?? false
            if value.isUndefined || (boolean && !value.isTruthy) { return fallback }
            return value
        case "tojson":
            var indent: Int?
            if let indentValue = arguments.value(0, "indent"), indentValue != .none {
                guard let number = indentValue.integerValue, number >= 0, number <= 64 else {
                    throw runtimeError("tojson indent must be an integer from 0 to 64", position)
                }
                indent = number
            }
            var output = CappedText(limit: limits.maximumOutputBytes)
            try writeJSON(value, indent: indent, level: 0, into: &output, position)
            try step(output.byteCount / Evaluator.bytesPerStep)
            return .string(output.text)
        case "int":
            let fallback = arguments.value(0, "default") ?? .int(0)
            switch value {
            case let .int(number): return .int(number)
            case let .bool(flag): return .int(flag ? 1 : 0)
            case let .double(number):
                return number.isFinite && abs(number) < 9.2e18 ? .int(Int(number.rounded(.towardZero))) : fallback
            case let .string(string):
                let trimmed = strip(string, characters: nil, leading: true, trailing: true)
                if let number = Int(trimmed) { return .int(number) }
                if let number = Double(trimmed), number.isFinite, abs(number) < 9.2e18 { return .int(Int(number.rounded(.towardZero))) }
                return fallback
            default: return fallback
            }
        case "float":
            let fallback = arguments.value(0, "default") ?? .double(0)
            switch value {
            case let .string(string):
                return Double(strip(string, characters: nil, leading: true, trailing: true)).map { .double($0) } ?? fallback
            default: return value.doubleValue.map { .double($0) } ?? fallback
            }
        case "abs":
            switch value {
            case let .int(number):
                guard number != Int.min else { throw runtimeError("integer overflow", position) }
                return .int(abs(number))
            case let .double(number): return .double(abs(number))
            case let .bool(flag): return .int(flag ? 1 : 0)
            default: throw runtimeError("bad operand type for abs(): '\(value.typeName)'", position)
            }
        case "round":
            guard let number = value.doubleValue else { throw runtimeError("round needs a number", position) }
            let precision = min(max(arguments.value(0, "precision")?.integerValue ?? 0, -20), 20)
            let method = try arguments.value(1, "method").map { try text($0) } ?? "common"
            let scale = pow(10.0, Double(precision))
            let rule: FloatingPointRoundingRule
            switch method {
            case "common": rule = .toNearestOrEven
            case "ceil": rule = .up
            case "floor": rule = .down
            default: throw runtimeError("round method must be common, ceil or floor", position)
            }
            return .double((number * scale).rounded(rule) / scale)
        case "list":
            return .list(try iterate(value, position))
        case "items":
            switch value {
            case let .dictionary(map): return .list(map.pairs.map { .list([.string($0.0), $0.1]) })
            case .undefined: return .list([])
            default: throw runtimeError("items filter needs a mapping, got '\(value.typeName)'", position)
            }
        case "keys", "values":
            guard case let .dictionary(map) = value else { throw runtimeError("\(name) filter needs a mapping", position) }
            return .list(name == "keys" ? map.keys.map { .string($0) } : map.values)
        case "dictsort":
            guard case let .dictionary(map) = value else { throw runtimeError("dictsort needs a mapping", position) }
            let pairs = map.pairs.sorted { $0.0.lowercased() < $1.0.lowercased() }
            return .list(pairs.map { .list([.string($0.0), $0.1]) })
        case "replace":
            guard let old = arguments.value(0, "old"), let new = arguments.value(1, "new") else {
                throw runtimeError("replace needs two arguments", position)
            }
            let count = arguments.value(2, "count")?.integerValue
            return try checkedString(try replace(try text(value), try text(old), try text(new), count: count))
        case "reverse":
            switch value {
            case let .string(string): return try checkedString(String(String.UnicodeScalarView(string.unicodeScalars.reversed())))
            default: return .list(try iterate(value, position).reversed())
            }
        case "select", "reject":
            guard let testName = arguments.positional.first else {
                return .list(try iterate(value, position).filter { $0.isTruthy == (name == "select") })
            }
            let testArguments = Arguments(positional: Array(arguments.positional.dropFirst()), keyword: arguments.keyword)
            let test = try text(testName)
            return .list(try iterate(value, position).filter {
                try applyTest(test, to: $0, testArguments, position) == (name == "select")
            })
        case "selectattr", "rejectattr":
            guard let attributeName = arguments.positional.first else { throw runtimeError("\(name) needs an attribute name", position) }
            let keep = name == "selectattr"
            let items = try iterate(value, position)
            if arguments.positional.count < 2 {
                return .list(try items.filter { try lookupAttributePath(attributeName, in: $0, position).isTruthy == keep })
            }
            let test = try text(arguments.positional[1])
            let testArguments = Arguments(positional: Array(arguments.positional.dropFirst(2)), keyword: [:])
            return .list(try items.filter {
                try applyTest(test, to: try lookupAttributePath(attributeName, in: $0, position), testArguments, position) == keep
            })
        case "map":
            let items = try iterate(value, position)
            if let attributeName = arguments.keyword["attribute"] {
                let fallback = arguments.keyword["default"]
                return .list(try items.map {
                    let found = try lookupAttributePath(attributeName, in: $0, position)
                    if found.isUndefined, let fallback { return fallback }
                    return found
                })
            }
            guard let filterName = arguments.positional.first else { throw runtimeError("map needs a filter name or attribute=", position) }
            let filter = try text(filterName)
            let filterArguments = Arguments(positional: Array(arguments.positional.dropFirst()), keyword: arguments.keyword)
            return .list(try items.map { try applyFilter(filter, to: $0, filterArguments, position) })
        case "unique":
            let caseSensitive = arguments.value(0, "case_sensitive")?.isTruthy ?? false
            let attributeName = arguments.value(1, "attribute")
            var seen: [Value] = []
            var result: [Value] = []
            for item in try iterate(value, position) {
                let key = try sortKey(item, attribute: attributeName, caseSensitive: caseSensitive, position)
                if try seen.contains(where: { try pythonEquals($0, key) }) { continue }
                seen.append(key)
                result.append(item)
            }
            return .list(result)
        case "sort":
            let reverse = arguments.value(0, "reverse")?.isTruthy ?? false
            let caseSensitive = arguments.value(1, "case_sensitive")?.isTruthy ?? false
            let attributeName = arguments.value(2, "attribute")
            let items = try iterate(value, position)
            let keyed = try items.map { (try sortKey($0, attribute: attributeName, caseSensitive: caseSensitive, position), $0) }
            var failure: Error?
            // Swift's sort is stable; comparing the other way round keeps ties in order, as Python's reverse=True does.
            let sorted = keyed.sorted { first, second in
                do {
                    let result = try order(first.0, second.0, position)
                    return reverse ? result > 0 : result < 0
                } catch {
                    failure = error
                    return false
                }
            }
            if let failure { throw failure }
            return .list(sorted.map(\.1))
        case "min", "max", "sum":
            let items = try iterate(value, position)
            if name == "sum" {
                var total = arguments.value(1, "start") ?? .int(0)
                for item in items {
                    let addend = try arguments.value(0, "attribute").map { try lookupAttributePath($0, in: item, position) } ?? item
                    total = try binary(.add, total, addend, position)
                }
                return total
            }
            var best: Value?
            for item in items {
                let caseFolded = try sortKey(item, attribute: nil, caseSensitive: false, position)
                if let current = best {
                    let currentKey = try sortKey(current, attribute: nil, caseSensitive: false, position)
                    let result = try order(caseFolded, currentKey, position)
                    if name == "min" ? result < 0 : result > 0 { best = item }
                } else {
                    best = item
                }
            }
            return best ?? .undefined(name: name)
        case "escape", "e", "forceescape":
            var escaped = ""
            for character in try text(value) {
                switch character {
                case "&": escaped += "&amp;"
                case "<": escaped += "&lt;"
                case ">": escaped += "&gt;"
                case "\"": escaped += "&#34;"
                case "'": escaped += "&#39;"
                default: escaped.append(character)
                }
            }
            return try checkedString(escaped)
        case "indent":
            let widthValue = arguments.value(0, "width") ?? .int(4)
            let indentation: String
            if case let .string(string) = widthValue { indentation = string } else {
                guard let width = widthValue.integerValue, width >= 0, width <= 1024 else {
                    throw runtimeError("indent width must be from 0 to 1024", position)
                }
                indentation = String(repeating: " ", count: width)
            }
            let first = arguments.value(1, "first")?.isTruthy ?? false
            let blank = arguments.value(2, "blank")?.isTruthy ?? false
            return try checkedString(try indent(try text(value), indentation, first: first, blank: blank))
        case "attr":
            guard let attributeName = arguments.value(0, "name") else { throw runtimeError("attr needs a name", position) }
            return try attribute(try text(attributeName), of: value, position)
        case "wordcount":
            return .int(try text(value).split(whereSeparator: { $0.isWhitespace }).count)
        case "center", "truncate", "format", "batch", "slice", "pprint", "urlencode", "striptags", "xmlattr", "filesizeformat":
            try requireDefined()
            throw runtimeError("filter '\(name)' is not supported", position)
        default:
            throw runtimeError("unknown filter '\(name)'", position)
        }
    }

    /// `attribute="a.b.0"` as Jinja's attrgetter: dotted names, integer parts index lists.
    func lookupAttributePath(_ path: Value, in value: Value, _ position: SourcePosition) throws -> Value {
        if let index = path.integerValue { return try item(.int(index), of: value, position) }
        var current = value
        for part in try display(path, position).split(separator: ".", omittingEmptySubsequences: false).map(String.init) {
            if let index = Int(part) { current = try item(.int(index), of: current, position) } else {
                current = try item(.string(part), of: current, position)
            }
        }
        return current
    }

    private func sortKey(_ item: Value, attribute: Value?, caseSensitive: Bool, _ position: SourcePosition) throws -> Value {
        let key = try attribute.map { try lookupAttributePath($0, in: item, position) } ?? item
        if !caseSensitive, case let .string(string) = key { return .string(string.lowercased()) }
        return key
    }

    func replace(_ text: String, _ old: String, _ new: String, count: Int?) throws -> String {
        var remaining = count.map { $0 < 0 ? Int.max : $0 } ?? Int.max
        var result = CappedText(limit: limits.maximumOutputBytes)
        if old.isEmpty {
            // Python inserts the replacement before every character and at the end.
            for scalar in text.unicodeScalars {
                if remaining > 0 {
                    try result.append(new)
                    remaining -= 1
                }
                try result.append(scalar)
            }
            if remaining > 0 { try result.append(new) }
            return result.text
        }
        let source = Array(text.unicodeScalars)
        let pattern = Array(old.unicodeScalars)
        var index = 0
        while index < source.count {
            if remaining > 0, index + pattern.count <= source.count, source[index..<(index + pattern.count)].elementsEqual(pattern) {
                try result.append(new)
                index += pattern.count
                remaining -= 1
            } else {
                try result.append(source[index])
                index += 1
            }
        }
        return result.text
    }

    private func indent(_ text: String, _ indentation: String, first: Bool, blank: Bool) throws -> String {
        let lines = pythonSplitLines(text + "\n")
        var result = CappedText(limit: limits.maximumOutputBytes)
        if first { try result.append(indentation) }
        for (offset, line) in lines.enumerated() {
            if offset > 0 {
                try result.append("\n")
                if blank || !line.isEmpty { try result.append(indentation) }
            }
            try result.append(line)
        }
        return result.text
    }
}

extension Value {
    var isString: Bool {
        if case .string = self { return true }
        return false
    }

    var isList: Bool {
        if case .list = self { return true }
        return false
    }
}

/// Python str.splitlines() on the common line breaks.
func pythonSplitLines(_ text: String) -> [String] {
    var lines: [String] = []
    var current = String.UnicodeScalarView()
    var previousWasCarriageReturn = false
    for scalar in text.unicodeScalars {
        if scalar == "\n" && previousWasCarriageReturn {
            previousWasCarriageReturn = false
            continue
        }
        previousWasCarriageReturn = scalar == "\r"
        if ["\n", "\r", "\u{0B}", "\u{0C}", "\u{1C}", "\u{1D}", "\u{1E}", "\u{85}", "\u{2028}", "\u{2029}"].contains(scalar) {
            lines.append(String(current))
            current = String.UnicodeScalarView()
        } else {
            current.append(scalar)
        }
    }
    if !current.isEmpty { lines.append(String(current)) }
    return lines
}

/// Python str.strip/lstrip/rstrip: whitespace by default, else any of `characters`.
func strip(_ text: String, characters: String?, leading: Bool, trailing: Bool) -> String {
    let scalars = Array(text.unicodeScalars)
    let removable: (Unicode.Scalar) -> Bool
    if let characters {
        let set = Set(characters.unicodeScalars)
        removable = { set.contains($0) }
    } else {
        removable = isPythonWhitespace
    }
    var start = 0
    var end = scalars.count
    if leading { while start < end, removable(scalars[start]) { start += 1 } }
    if trailing { while end > start, removable(scalars[end - 1]) { end -= 1 } }
    return String(String.UnicodeScalarView(scalars[start..<end]))
}

/// Python str.capitalize: first character upper case, the rest lower case.
func capitalize(_ text: String) -> String {
    guard let first = text.first else { return text }
    return first.uppercased() + text.dropFirst().lowercased()
}

/// Jinja's `title` filter: capitalises each word, words split at whitespace, '-', and opening brackets.
func jinjaTitle(_ text: String) -> String {
    var result = ""
    var atWordStart = true
    for character in text {
        if character.isWhitespace || "-({[<".contains(character) {
            result.append(character)
            atWordStart = true
        } else if atWordStart {
            result += character.uppercased()
            atWordStart = false
        } else {
            result += character.lowercased()
        }
    }
    return result
}

/// Python str.title: upper case after any non-letter, lower case otherwise.
func pythonTitle(_ text: String) -> String {
    var result = ""
    var previousIsLetter = false
    for character in text {
        let isLetter = character.isLetter
        result += isLetter ? (previousIsLetter ? character.lowercased() : character.uppercased()) : String(character)
        previousIsLetter = isLetter
    }
    return result
}
