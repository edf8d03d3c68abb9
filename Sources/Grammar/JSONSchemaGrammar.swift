#if canImport(JSON)  // (Tools/fuzz.sh compiles Grammar and JSON as one module)
import JSON
#endif

/// Why a JSON Schema could not be turned into a grammar: the keyword or value at fault and its JSON path
/// (`$` is the schema's root, `$.properties.x` a property, `$.anyOf[1]` an array element).
public struct JSONSchemaError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    init(_ message: String) { self.message = message }
}

/// JSON Schema → GBNF (llama.cpp's dialect), for constrained generation.
///
/// The grammar accepts only JSON texts that validate against the schema; where the exact set of valid texts
/// cannot be written as a grammar, or only at a cost, it accepts a subset, and only in these documented ways:
/// - Whitespace is bounded: nothing, one space, or one newline and up to 20 spaces or tabs, between tokens
///   and never before or after the root value.
/// - Object properties come in schema order, declared ones before any extra ones. An object schema that
///   declares `properties` but no `additionalProperties` gets no extra properties (JSON Schema would allow
///   any); with neither, any object is accepted. Keys are written the one canonical way (no `\u` escapes).
/// - Integers are written without fraction or exponent (`1`, not `1.0`); `enum`/`const` values compactly.
/// - A `\u` escape of a lone surrogate is not accepted in strings (a pair counts as one character).
/// - `oneOf` is translated like `anyOf`: an instance that matches two branches is NOT excluded, so the
///   grammar is exact only when the branches do not overlap.
/// - `allOf` is supported for one schema of any kind (with annotations beside it), or for object schemas,
///   merged (properties, required; `additionalProperties` only beside the allOf).
/// - `$ref` beside other constraining keywords, `anyOf`/`oneOf` beside other keywords, and `enum`/`const`
///   beside anything but `type` are refused rather than intersected.
/// - `format` is asserted (date, time, date-time and uuid only): RFC 3339 with upper-case `T`/`Z`, seconds
///   00–59 (no leap second), at most 9 fraction digits; dates check the days of each month and leap years.
/// - `pattern` is an ECMA-262 subset over Unicode scalars (not UTF-16 units). Characters a JSON string
///   must escape are written with their short escape (`\"`, `\\`, `\n`, `\t`, …); control characters
///   without one are left out of multi-character classes.
/// - Without `type`, the type is taken from the keywords present (`properties` → object, `minLength` →
///   string, …); with none of them, any JSON value.
/// - `$defs`/`definitions` entries that nothing references are not converted.
/// Everything else that would constrain the value is refused with an error naming the keyword and path.
public enum JSONSchemaGrammar {
    /// Rules the converter may emit (counting what the GBNF parser expands repetitions into).
    static let maximumRules = 50_000
    static let maximumDepth = 64
    /// The largest count (`minItems`, `maxLength`, a pattern's `{m,n}`) written out as a repetition.
    static let maximumCount = 10_000
    /// Characters of grammar text.
    static let maximumLength = 250_000

    /// GBNF text whose root rule matches exactly the JSON texts (with bounded whitespace) that validate against `schema`.
    public static func grammar(for schema: JSONValue) throws(JSONSchemaError) -> String {
        var converter = SchemaConverter(root: schema)
        return try converter.run()
    }

    /// Any JSON object (for response_format json_object).
    public static var anyObject: String {
        var rules = RuleSet()
        let object = rules.primitive(.object)
        rules.setRoot(object)
        return rules.text
    }
}

// MARK: - Rules

/// The fixed rules every grammar may use, each added the first time something refers to it.
enum Primitive: String, CaseIterable {
    case value, object, array, string, char, number, integer, boolean, null, ws
    case date, time, dateTime = "date-time", uuid

    var body: String {
        switch self {
        case .value: return "object | array | string | number | boolean | null"
        case .object: return #""{" ws ( string ws ":" ws value ws ( "," ws string ws ":" ws value ws )* )? "}""#
        case .array: return #""[" ws ( value ws ( "," ws value ws )* )? "]""#
        case .string: return #""\"" char* "\"""#
        // One character (code point) of a JSON string: a raw one, or one escape sequence, where a surrogate
        // pair is one character and a lone surrogate none.
        case .char:
            return #"[^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" ( [0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2}"#
                + #" | [dD] [89abAB] [0-9a-fA-F]{2} "\\u" [dD] [c-fC-F] [0-9a-fA-F]{2} ) )"#
        case .number: return #""-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?"#
        case .integer: return #""-"? ( "0" | [1-9] [0-9]* )"#
        case .boolean: return #""true" | "false""#
        case .null: return #""null""#
        case .ws: return #"( " " | "\n" [ \t]{0,20} )?"#
        // RFC 3339 full-date: days per month; 29 February only in leap years (divisible by 4, centuries by 400).
        case .date:
            return #"[0-9]{4} "-" ( ( "0" [13578] | "1" [02] ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] )"#
                + #" | ( "0" [469] | "11" ) "-" ( "0" [1-9] | [12] [0-9] | "30" ) | "02-" ( "0" [1-9] | "1" [0-9] | "2" [0-8] ) )"#
                + #" | ( [0-9]{2} ( [02468] [48] | [13579] [26] | [2468] "0" ) | ( [02468] [048] | [13579] [26] ) "00" ) "-02-29""#
        // RFC 3339 full-time, seconds 00-59, up to 9 fraction digits, offset Z or ±hh:mm.
        case .time:
            return #"( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,9} )?"#
                + #" ( "Z" | ( "+" | "-" ) ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )"#
        case .dateTime: return #"date "T" time"#
        case .uuid: return #"[0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12}"#
        }
    }

    var dependencies: [Primitive] {
        switch self {
        case .value: return [.object, .array, .string, .number, .boolean, .null]
        case .object: return [.ws, .string, .value]
        case .array: return [.ws, .value]
        case .string: return [.char]
        case .dateTime: return [.date, .time]
        default: return []
        }
    }
}

/// The rule table: names made unique, identical bodies shared, `root` first, and a budget on size.
struct RuleSet {
    private var order: [String] = ["root"]
    private var bodies: [String: String] = [:]
    private var taken: Set<String>
    private var nameByBody: [String: String] = [:]
    private var added: Set<Primitive> = []
    /// Rules emitted plus what repetitions will expand into.
    private(set) var cost = 0
    private(set) var length = 0

    init() {
        taken = Set(Primitive.allCases.map(\.rawValue))
        taken.insert("root")
    }

    mutating func charge(_ units: Int) throws(JSONSchemaError) {
        cost += units
        guard cost <= JSONSchemaGrammar.maximumRules else {
            throw JSONSchemaError("the schema is too large: its grammar would need more than \(JSONSchemaGrammar.maximumRules) rules")
        }
    }

    /// A rule with this body, named after `base` (an existing rule when one has the same body).
    mutating func add(_ base: String, _ body: String) throws(JSONSchemaError) -> String {
        if let existing = nameByBody[body] { return existing }
        try charge(1)
        let name = unique(base)
        order.append(name)
        nameByBody[body] = name
        define(name, body)
        return name
    }

    /// A name for a rule whose body comes later (definitions, which may refer to themselves).
    mutating func reserve(_ base: String) throws(JSONSchemaError) -> String {
        try charge(1)
        let name = unique(base)
        order.append(name)
        return name
    }

    mutating func define(_ name: String, _ body: String) {
        bodies[name] = body
        length += name.utf8.count + body.utf8.count + 6
    }

    mutating func setRoot(_ body: String) {
        if bodies["root"] == nil { define("root", body) }
    }

    mutating func primitive(_ p: Primitive) -> String {
        if added.insert(p).inserted {
            order.append(p.rawValue)
            define(p.rawValue, p.body)
            for d in p.dependencies { _ = primitive(d) }
        }
        return p.rawValue
    }

    var text: String {
        var out = ""
        for name in order {
            guard let body = bodies[name] else { continue }
            out += name + " ::= " + body + "\n"
        }
        return out
    }

    private mutating func unique(_ base: String) -> String {
        let clean = RuleSet.sanitize(base)
        var name = clean
        var k = 1
        while taken.contains(name) {
            name = "\(clean)-\(k)"
            k += 1
        }
        taken.insert(name)
        return name
    }

    /// Rule names are [a-zA-Z0-9_-]+: anything else becomes '-', runs collapse, at most 80 characters.
    static func sanitize(_ text: String) -> String {
        var out = ""
        var dash = false
        for s in text.unicodeScalars {
            let v = s.value
            if (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x5F {
                out.unicodeScalars.append(s)
                dash = false
            } else if !dash, !out.isEmpty {
                out += "-"
                dash = true
            }
            if out.utf8.count >= 80 { break }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return out.isEmpty ? "rule" : out
    }
}

// MARK: - GBNF text

enum GBNF {
    static let quote = #""\"""#

    /// A quoted literal matching `text` exactly.
    static func literal(_ text: String) -> String {
        var out = "\""
        for s in text.unicodeScalars {
            switch s.value {
            case 0x22: out += #"\""#
            case 0x5C: out += #"\\"#
            case 0x0A: out += #"\n"#
            case 0x0D: out += #"\r"#
            case 0x09: out += #"\t"#
            case 0x20...0x7E: out.unicodeScalars.append(s)
            default: out += hexEscape(s.value)
            }
        }
        return out + "\""
    }

    static func hexEscape(_ v: UInt32) -> String {
        if v < 0x80 { return "\\x" + hex(v, digits: 2) }
        if v <= 0xFFFF { return "\\u" + hex(v, digits: 4) }
        return "\\U" + hex(v, digits: 8)
    }

    static func hex(_ v: UInt32, digits: Int, uppercase: Bool = true) -> String {
        let h = String(v, radix: 16, uppercase: uppercase)
        return String(repeating: "0", count: max(0, digits - h.count)) + h
    }

    /// A character class for `set`, written positively or negated, whichever is shorter.
    static func characterClass(_ set: ScalarSet) -> String {
        let positive = "[" + set.ranges.map(rangeText).joined() + "]"
        let negative = "[^" + set.complement.ranges.map(rangeText).joined() + "]"
        return negative.count < positive.count ? negative : positive
    }

    private static func rangeText(_ r: ClosedRange<UInt32>) -> String {
        if r.lowerBound == r.upperBound { return classCharacter(r.lowerBound) }
        if r.upperBound == r.lowerBound + 1 { return classCharacter(r.lowerBound) + classCharacter(r.upperBound) }
        return classCharacter(r.lowerBound) + "-" + classCharacter(r.upperBound)
    }

    private static func classCharacter(_ v: UInt32) -> String {
        switch v {
        case 0x5C: return #"\\"#
        case 0x5D: return #"\]"#
        case 0x5B: return #"\["#
        case 0x5E, 0x2D: return hexEscape(v)  // '^' and '-' (llama.cpp has no \^ or \- escape)
        case 0x20...0x7E: return String(Character(Unicode.Scalar(UInt8(v))))
        default: return hexEscape(v)
        }
    }

    /// `atom` repeated lo...hi times (hi nil: unbounded); `atom` must be one element.
    static func repetition(_ atom: String, _ lo: Int, _ hi: Int?) -> String {
        switch (lo, hi) {
        case (_, 0?): return ""
        case (0, nil): return atom + "*"
        case (1, nil): return atom + "+"
        case (0, 1?): return atom + "?"
        case (1, 1?): return atom
        case (_, nil): return atom + "{\(lo),}"
        case (_, let h?) where h == lo: return atom + "{\(lo)}"
        case (_, let h?): return atom + "{\(lo),\(h)}"
        }
    }

    static func group(_ alternatives: [String]) -> String {
        alternatives.count == 1 && !alternatives[0].contains(" ") ? alternatives[0] : "( " + alternatives.joined(separator: " | ") + " )"
    }
}

/// How a character is written inside a JSON string: raw, or with its short escape; nil for the control
/// characters that only a \u escape can write (which the grammar does not produce at constrained places).
enum JSONSpelling {
    /// Characters a JSON string may hold raw.
    static let raw = ScalarSet([0x20...0x21, 0x23...0x5B, 0x5D...0x10FFFF])
    /// Characters with a short escape, and the escape letter.
    static let escapes: [(UInt32, UInt32)] = [(0x08, 0x62), (0x09, 0x74), (0x0A, 0x6E), (0x0C, 0x66), (0x0D, 0x72), (0x22, 0x22), (0x5C, 0x5C)]

    static func short(_ c: UInt32) -> String? {
        if raw.contains(c) { return Unicode.Scalar(c).map { String(Character($0)) } }
        guard let letter = escapes.first(where: { $0.0 == c })?.1, let s = Unicode.Scalar(letter) else { return nil }
        return "\\" + String(Character(s))
    }

    /// Any character, as JSON text (controls without a short escape as \u00xx).
    static func spelled(_ c: UInt32) -> String {
        if let s = short(c) { return s }
        return "\\u" + GBNF.hex(c, digits: 4, uppercase: false)
    }

    /// One JSON-string unit for a character of `set`: raw, or a short escape. nil when `set` has none.
    static func unit(_ set: ScalarSet) -> String? {
        var parts: [String] = []
        let rawPart = set.intersection(raw)
        if !rawPart.isEmpty { parts.append(GBNF.characterClass(rawPart)) }
        let letters = escapes.filter { set.contains($0.0) }.map(\.1)
        if letters.count == 1, let only = letters.first, let s = Unicode.Scalar(only) {
            parts.append(GBNF.literal("\\" + String(Character(s))))
        } else if letters.count > 1 {
            parts.append(GBNF.literal("\\") + " " + GBNF.characterClass(ScalarSet(letters.map { $0...$0 })))
        }
        if parts.isEmpty { return nil }
        if parts.count == 1, !parts[0].contains(" ") { return parts[0] }
        return "( " + parts.joined(separator: " | ") + " )"
    }
}

// MARK: - Converter

/// A grammar expression for a schema: one rule name, or alternatives to put in a rule of their own.
struct Expr {
    var text: String
    var isSymbol: Bool
    static func symbol(_ name: String) -> Expr { Expr(text: name, isSymbol: true) }
}

/// The keywords of one schema object that constrain it (annotations dropped), first occurrence of each.
struct Keywords {
    static let annotations: Set<String> = [
        "title", "description", "$schema", "$id", "$comment", "examples", "default", "deprecated", "readOnly",
        "writeOnly", "strict",
    ]
    static let supported = Set<String>([
        "type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "$defs", "definitions",
    ]).union(typed.keys)
    /// Keyword → the instance types it constrains.
    static let typed: [String: [String]] = [
        "properties": ["object"], "required": ["object"], "additionalProperties": ["object"],
        "items": ["array"], "prefixItems": ["array"], "additionalItems": ["array"], "minItems": ["array"],
        "maxItems": ["array"], "uniqueItems": ["array"],
        "minLength": ["string"], "maxLength": ["string"], "pattern": ["string"], "format": ["string"],
        "minimum": ["integer", "number"], "maximum": ["integer", "number"],
        "exclusiveMinimum": ["integer", "number"], "exclusiveMaximum": ["integer", "number"],
    ]
    static let structural: Set<String> = ["$defs", "definitions"]

    private(set) var entries: [(String, JSONValue)] = []

    init(_ members: [(String, JSONValue)], at path: String) throws(JSONSchemaError) {
        var seen = Set<String>()
        for (key, value) in members {
            if Self.annotations.contains(key) { continue }
            guard Self.supported.contains(key) else {
                throw JSONSchemaError("unsupported JSON Schema keyword '\(key)' at \(path)")
            }
            if seen.insert(key).inserted { entries.append((key, value)) }
        }
    }

    subscript(key: String) -> JSONValue? { entries.first { $0.0 == key }?.1 }

    func contains(_ key: String) -> Bool { entries.contains { $0.0 == key } }

    /// The first keyword that is neither in `allowed` nor structural ($defs).
    func first(except allowed: Set<String>) -> String? {
        entries.first { !allowed.contains($0.0) && !Self.structural.contains($0.0) }?.0
    }
}

/// Object keywords gathered from one schema or merged from allOf.
struct ObjectSpec {
    private(set) var properties: [(key: String, schema: JSONValue, path: String)] = []
    private var propertyIndex: [String: Int] = [:]
    private(set) var required: [String] = []
    private var requiredSet: Set<String> = []
    var additional: (schema: JSONValue, path: String)?
    var impossible = false

    /// The schema already declared for `key`, if any.
    func property(_ key: String) -> JSONValue? { propertyIndex[key].map { properties[$0].schema } }

    mutating func addProperty(_ p: (key: String, schema: JSONValue, path: String)) {
        guard propertyIndex[p.key] == nil else { return }
        propertyIndex[p.key] = properties.count
        properties.append(p)
    }

    mutating func addRequired(_ names: [String]) {
        for n in names where requiredSet.insert(n).inserted { required.append(n) }
    }
}

struct SchemaConverter {
    let root: JSONValue
    var rules = RuleSet()
    /// "$defs/NAME" → its rule; rule → the definition's path.
    private var definitionRules: [String: String] = [:]
    private var definitionPaths: [String: String] = [:]
    /// Definition rule → the definitions its grammar can start with (no character matched before them).
    private var leadingEdges: [String: [String]] = [:]

    init(root: JSONValue) { self.root = root }

    mutating func run() throws(JSONSchemaError) -> String {
        guard let expr = try convert(root, at: "$", name: "", depth: 0, leading: nil) else {
            throw JSONSchemaError("the schema at $ matches no JSON value")
        }
        rules.setRoot(expr.text)
        try checkCycles()
        guard rules.length <= JSONSchemaGrammar.maximumLength else {
            throw JSONSchemaError("the schema is too large: its grammar would be more than \(JSONSchemaGrammar.maximumLength) characters")
        }
        return rules.text
    }

    // MARK: Schemas

    /// The expression for `schema`; nil when no value validates (`false`, an empty enum, an empty range).
    /// `leading` is the definition whose rule this expression starts, when no character comes before it.
    mutating func convert(_ schema: JSONValue, at path: String, name: String, depth: Int, leading: String?) throws(JSONSchemaError) -> Expr? {
        guard depth <= JSONSchemaGrammar.maximumDepth else {
            throw JSONSchemaError("the schema nests deeper than \(JSONSchemaGrammar.maximumDepth) levels at \(path)")
        }
        let members: [(String, JSONValue)]
        switch schema {
        case .bool(true): return .symbol(rules.primitive(.value))
        case .bool(false): return nil
        case .object(let m): members = m
        default: throw JSONSchemaError("the schema at \(path) must be an object or a boolean, not \(schema.kindName)")
        }
        let keywords = try Keywords(members, at: path)
        for key in ["$defs", "definitions"] {
            guard let defs = keywords[key] else { continue }
            guard case .object = defs else { throw JSONSchemaError("'\(key)' at \(path) must be an object") }
        }
        if let ref = keywords["$ref"] {
            if let other = keywords.first(except: ["$ref"]) { throw Self.beside(other, "$ref", path) }
            guard case .string(let r) = ref else { throw JSONSchemaError("'$ref' at \(path) must be a string") }
            return .symbol(try reference(r, at: path, depth: depth, leading: leading))
        }
        if let allOf = keywords["allOf"] {
            return try convertAllOf(allOf, keywords, at: path, name: name, depth: depth, leading: leading)
        }
        for key in ["anyOf", "oneOf"] {
            guard let branches = keywords[key] else { continue }
            if let other = keywords.first(except: [key]) { throw Self.beside(other, key, path) }
            guard case .array(let list) = branches, !list.isEmpty else {
                throw JSONSchemaError("'\(key)' at \(path) must be a non-empty array")
            }
            var alternatives: [Expr] = []
            for (i, branch) in list.enumerated() {
                if let e = try convert(branch, at: "\(path).\(key)[\(i)]", name: Self.child(name, "\(key)-\(i)"), depth: depth + 1, leading: leading) {
                    alternatives.append(e)
                }
            }
            if alternatives.count <= 1 { return alternatives.first }
            return Expr(text: alternatives.map(\.text).joined(separator: " | "), isSymbol: false)
        }
        if keywords.contains("enum") || keywords.contains("const") {
            return try convertValues(keywords, at: path)
        }
        return try convertTyped(keywords, at: path, name: name, depth: depth)
    }

    private mutating func symbol(_ expr: Expr, _ base: String) throws(JSONSchemaError) -> String {
        expr.isSymbol ? expr.text : try rules.add(base, expr.text)
    }

    /// The base name for a part of the schema named `name` ("" for the root).
    static func child(_ name: String, _ component: String) -> String {
        name.isEmpty ? component : name + "-" + component
    }

    /// A path step for an object key: `.key`, or `["key"]` when the key is not a plain identifier.
    static func component(_ key: String) -> String {
        var plain = !key.isEmpty
        for (i, s) in key.unicodeScalars.enumerated() {
            let v = s.value
            let letter = (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x5F || v == 0x24
            let digit = v >= 0x30 && v <= 0x39
            if !(letter || (digit && i > 0)) { plain = false; break }
        }
        if plain { return "." + key }
        var quoted = ""
        JSONValue.writeString(key, to: &quoted)
        return "[" + quoted + "]"
    }

    static func beside(_ keyword: String, _ main: String, _ path: String) -> JSONSchemaError {
        JSONSchemaError("unsupported JSON Schema keyword '\(keyword)' beside '\(main)' at \(path)")
    }

    // MARK: enum, const

    private mutating func convertValues(_ keywords: Keywords, at path: String) throws(JSONSchemaError) -> Expr? {
        let main = keywords.contains("enum") ? "enum" : "const"
        if let other = keywords.first(except: ["enum", "const", "type"]) { throw Self.beside(other, main, path) }
        var values: [JSONValue]
        if let list = keywords["enum"] {
            guard case .array(let items) = list else { throw JSONSchemaError("'enum' at \(path) must be an array") }
            values = items
            if let c = keywords["const"] { values = values.filter { $0 == c } }
        } else if let c = keywords["const"] {
            values = [c]
        } else {
            values = []
        }
        if let t = keywords["type"] {
            let types = try Self.types(t, at: path)
            values = values.filter { Self.value($0, hasOneOf: types) }
        }
        var seen = Set<String>()
        var alternatives: [String] = []
        for v in values {
            let text = v.serialized
            if seen.insert(text).inserted { alternatives.append(GBNF.literal(text)) }
        }
        if alternatives.isEmpty { return nil }
        return Expr(text: alternatives.joined(separator: " | "), isSymbol: false)
    }

    private static func value(_ v: JSONValue, hasOneOf types: [String]) -> Bool {
        switch v {
        case .null: return types.contains("null")
        case .bool: return types.contains("boolean")
        case .integer: return types.contains("integer") || types.contains("number")
        case .number(let d): return types.contains("number") || (types.contains("integer") && d.rounded() == d)
        case .string: return types.contains("string")
        case .array: return types.contains("array")
        case .object: return types.contains("object")
        }
    }

    private static let typeNames = ["null", "boolean", "object", "array", "number", "string", "integer"]

    private static func types(_ value: JSONValue, at path: String) throws(JSONSchemaError) -> [String] {
        let list: [JSONValue]
        switch value {
        case .string: list = [value]
        case .array(let items) where !items.isEmpty: list = items
        default: throw JSONSchemaError("'type' at \(path) must be a type name or a non-empty array of them")
        }
        var out: [String] = []
        for item in list {
            guard case .string(let name) = item, typeNames.contains(name) else {
                throw JSONSchemaError("unknown type \(item.serialized) at \(path)")
            }
            if !out.contains(name) { out.append(name) }
        }
        return out
    }

    // MARK: Typed schemas

    private mutating func convertTyped(_ keywords: Keywords, at path: String, name: String, depth: Int) throws(JSONSchemaError) -> Expr? {
        var types: [String] = []
        if let t = keywords["type"] {
            types = try Self.types(t, at: path)
        } else {
            // No type: the one the keywords constrain (stricter than JSON Schema, where they are conditional).
            for (key, _) in keywords.entries {
                guard let inferred = Keywords.typed[key]?.last else { continue }
                if !types.contains(inferred) { types.append(inferred) }
            }
            if types.isEmpty { return .symbol(rules.primitive(.value)) }
        }
        for (key, _) in keywords.entries {
            guard let applies = Keywords.typed[key] else { continue }
            if !applies.contains(where: types.contains) {
                let list = types.map { "'\($0)'" }.joined(separator: ", ")
                throw JSONSchemaError("JSON Schema keyword '\(key)' does not apply to type \(list) at \(path)")
            }
        }
        let bounds = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]
        var alternatives: [String] = []
        for type in types {
            var expr: Expr?
            switch type {
            case "null": expr = .symbol(rules.primitive(.null))
            case "boolean": expr = .symbol(rules.primitive(.boolean))
            case "integer":
                if types.contains("number") { continue }
                expr = try integerExpr(keywords, at: path)
            case "number":
                if let bound = keywords.entries.first(where: { bounds.contains($0.0) })?.0 {
                    throw JSONSchemaError("unsupported JSON Schema keyword '\(bound)' for type 'number' at \(path) (bounds are supported on integers only)")
                }
                expr = .symbol(rules.primitive(.number))
            case "string": expr = try stringExpr(keywords, at: path)
            case "array": expr = try convertArray(keywords, at: path, name: name, depth: depth)
            default:
                var spec = ObjectSpec()
                if let p = keywords["properties"] { for property in try Self.properties(p, at: path) { spec.addProperty(property) } }
                if let r = keywords["required"] { spec.addRequired(try Self.required(r, at: path)) }
                if let a = keywords["additionalProperties"] { spec.additional = (a, path + ".additionalProperties") }
                expr = try convertObject(spec, at: path, name: name, depth: depth)
            }
            if let expr { alternatives.append(expr.text) }
        }
        if alternatives.isEmpty { return nil }
        if alternatives.count == 1, let only = alternatives.first {
            return Expr(text: only, isSymbol: !only.contains(" "))
        }
        return Expr(text: alternatives.joined(separator: " | "), isSymbol: false)
    }

    /// A count keyword: a non-negative integer no larger than `maximumCount`.
    private static func count(_ keywords: Keywords, _ key: String, at path: String) throws(JSONSchemaError) -> Int? {
        guard let v = keywords[key] else { return nil }
        let n: Int
        switch v {
        case .integer(let i) where i >= 0:
            n = i
        case .number(let d) where d.isFinite && d >= 0 && d.rounded() == d:
            guard d <= Double(JSONSchemaGrammar.maximumCount) else { n = JSONSchemaGrammar.maximumCount + 1; break }
            n = Int(d)
        default:
            throw JSONSchemaError("'\(key)' at \(path) must be a non-negative integer")
        }
        guard n <= JSONSchemaGrammar.maximumCount else {
            throw JSONSchemaError("'\(key)' \(v.serialized) at \(path) is above the limit of \(JSONSchemaGrammar.maximumCount)")
        }
        return n
    }

    private mutating func repeated(_ atom: String, _ lo: Int, _ hi: Int?) throws(JSONSchemaError) -> String {
        try rules.charge(max(lo, hi ?? lo) + 1)
        return GBNF.repetition(atom, lo, hi)
    }

    // MARK: Strings

    private mutating func stringExpr(_ keywords: Keywords, at path: String) throws(JSONSchemaError) -> Expr? {
        let minimum = try Self.count(keywords, "minLength", at: path)
        let maximum = try Self.count(keywords, "maxLength", at: path)
        for (main, others) in [("pattern", ["format", "minLength", "maxLength"]), ("format", ["minLength", "maxLength"])] where keywords.contains(main) {
            if let other = keywords.entries.first(where: { others.contains($0.0) })?.0 { throw Self.beside(other, main, path) }
        }
        if let format = keywords["format"] {
            guard case .string(let f) = format else { throw JSONSchemaError("'format' at \(path) must be a string") }
            let p: Primitive
            switch f {
            case "date": p = .date
            case "time": p = .time
            case "date-time": p = .dateTime
            case "uuid": p = .uuid
            default: throw JSONSchemaError("unsupported JSON Schema format '\(f)' at \(path)")
            }
            return Expr(text: GBNF.quote + " " + rules.primitive(p) + " " + GBNF.quote, isSymbol: false)
        }
        if let pattern = keywords["pattern"] {
            guard case .string(let p) = pattern else { throw JSONSchemaError("'pattern' at \(path) must be a string") }
            return try patternExpr(p, at: path)
        }
        let lo = minimum ?? 0
        if lo == 0, maximum == nil { return .symbol(rules.primitive(.string)) }
        if let maximum, maximum < lo { return nil }
        let char = rules.primitive(.char)
        let chars = try repeated(char, lo, maximum)
        return Expr(text: GBNF.quote + (chars.isEmpty ? "" : " " + chars) + " " + GBNF.quote, isSymbol: false)
    }

    // MARK: Integers

    private mutating func integerExpr(_ keywords: Keywords, at path: String) throws(JSONSchemaError) -> Expr? {
        var lo: Int128?
        var hi: Int128?
        func tighten(_ bound: inout Int128?, _ value: Int128, lower: Bool) {
            if let b = bound { bound = lower ? max(b, value) : min(b, value) } else { bound = value }
        }
        // Draft 4 spelled exclusivity as a boolean beside minimum/maximum.
        var exclusiveMin = false, exclusiveMax = false
        if case .bool(let b)? = keywords["exclusiveMinimum"] { exclusiveMin = b }
        if case .bool(let b)? = keywords["exclusiveMaximum"] { exclusiveMax = b }
        if let v = keywords["minimum"] {
            let bound = exclusiveMin ? try Self.integer(v, "minimum", at: path, rounding: .down) + 1 : try Self.integer(v, "minimum", at: path, rounding: .up)
            tighten(&lo, bound, lower: true)
        }
        if let v = keywords["maximum"] {
            let bound = exclusiveMax ? try Self.integer(v, "maximum", at: path, rounding: .up) - 1 : try Self.integer(v, "maximum", at: path, rounding: .down)
            tighten(&hi, bound, lower: false)
        }
        if let v = keywords["exclusiveMinimum"], !Self.isBool(v) {
            tighten(&lo, try Self.integer(v, "exclusiveMinimum", at: path, rounding: .down) + 1, lower: true)
        }
        if let v = keywords["exclusiveMaximum"], !Self.isBool(v) {
            tighten(&hi, try Self.integer(v, "exclusiveMaximum", at: path, rounding: .up) - 1, lower: false)
        }
        if lo == nil, hi == nil { return .symbol(rules.primitive(.integer)) }
        if let lo, let hi, lo > hi { return nil }
        return Expr(text: IntegerRange.alternatives(lo, hi).joined(separator: " | "), isSymbol: false)
    }

    private static func isBool(_ v: JSONValue) -> Bool { if case .bool = v { return true } else { return false } }

    private enum Rounding { case up, down }

    /// A bound rounded to an integer, within ±10^30 (far beyond any JSON integer a model writes).
    private static func integer(_ v: JSONValue, _ key: String, at path: String, rounding: Rounding) throws(JSONSchemaError) -> Int128 {
        switch v {
        case .integer(let i): return Int128(i)
        case .number(let d):
            guard d.isFinite, abs(d) < 1e30 else { throw JSONSchemaError("'\(key)' \(v.serialized) at \(path) is out of range") }
            return Int128(rounding == .up ? d.rounded(.up) : d.rounded(.down))
        default: throw JSONSchemaError("'\(key)' at \(path) must be a number")
        }
    }

    // MARK: Arrays

    private mutating func convertArray(_ keywords: Keywords, at path: String, name: String, depth: Int) throws(JSONSchemaError) -> Expr? {
        var prefix: [(JSONValue, String)] = []
        var rest: (JSONValue, String) = (.bool(true), path)
        if let p = keywords["prefixItems"] {
            guard case .array(let list) = p else { throw JSONSchemaError("'prefixItems' at \(path) must be an array") }
            prefix = list.enumerated().map { ($1, "\(path).prefixItems[\($0)]") }
        }
        var tupleItems = false
        if let items = keywords["items"] {
            if case .array(let list) = items {
                // Draft 4-2019 tuple form.
                if keywords.contains("prefixItems") { throw Self.beside("items", "prefixItems", path) }
                prefix = list.enumerated().map { ($1, "\(path).items[\($0)]") }
                tupleItems = true
            } else {
                rest = (items, path + ".items")
            }
        }
        if let additional = keywords["additionalItems"] {
            guard tupleItems else {
                throw JSONSchemaError("unsupported JSON Schema keyword 'additionalItems' at \(path) (it needs 'items' as an array)")
            }
            rest = (additional, path + ".additionalItems")
        }
        if let unique = keywords["uniqueItems"] {
            guard case .bool(let b) = unique else { throw JSONSchemaError("'uniqueItems' at \(path) must be a boolean") }
            if b { throw JSONSchemaError("unsupported JSON Schema keyword 'uniqueItems' at \(path)") }
        }
        let lo = try Self.count(keywords, "minItems", at: path) ?? 0
        var hi = try Self.count(keywords, "maxItems", at: path)
        guard prefix.count <= JSONSchemaGrammar.maximumRules else { throw JSONSchemaError("the schema is too large: \(prefix.count) tuple items at \(path)") }

        // Element grammars; an element that matches nothing caps the length before it.
        var elements: [String] = []
        for (i, (schema, p)) in prefix.enumerated() {
            if let hi, i >= hi { break }
            let base = Self.child(name, "item-\(i)")
            guard let e = try convert(schema, at: p, name: base, depth: depth + 1, leading: nil) else {
                hi = min(hi ?? i, i)
                break
            }
            elements.append(try symbol(e, base))
        }
        var item: String?
        if hi.map({ $0 > elements.count }) ?? true, elements.count == prefix.count {
            let base = Self.child(name, "item")
            if let e = try convert(rest.0, at: rest.1, name: base, depth: depth + 1, leading: nil) {
                item = try symbol(e, base)
            } else {
                hi = elements.count
            }
        } else {
            hi = min(hi ?? elements.count, elements.count)
        }
        if let hi, hi < lo { return nil }
        let ws = rules.primitive(.ws)
        let k = elements.count

        // After j elements (j ≥ 1): positions below minItems are inline, each later prefix position is a rule
        // `…-item-j-rest` referenced with '?' (the array may end before it), built from the end.
        var tail = ""
        if let item {
            tail = try repeated("( \",\" \(ws) \(item) \(ws) )", max(lo - k, 0), hi.map { $0 - k })
        }
        var restRule: [String] = Array(repeating: "", count: k + 1)
        func after(_ from: Int, _ restRule: [String]) -> String {
            var parts: [String] = []
            var j = from
            while j < k, j < lo {
                parts.append("\",\" \(ws) \(elements[j]) \(ws)")
                j += 1
            }
            let end = j == k ? tail : restRule[j] + "?"
            if !end.isEmpty { parts.append(end) }
            return parts.joined(separator: " ")
        }
        var j = k - 1
        while j >= max(lo, 1) {
            let following = after(j + 1, restRule)
            let step = "\",\" \(ws) \(elements[j]) \(ws)" + (following.isEmpty ? "" : " " + following)
            restRule[j] = try rules.add(Self.child(name, "item-\(j)-rest"), step)
            j -= 1
        }
        var content: String
        if hi == 0 {
            content = ""
        } else if k > 0 {
            let following = after(1, restRule)
            content = "\(elements[0]) \(ws)" + (following.isEmpty ? "" : " " + following)
        } else if let item {
            let more = try repeated("( \",\" \(ws) \(item) \(ws) )", max(lo - 1, 0), hi.map { $0 - 1 })
            content = "\(item) \(ws)" + (more.isEmpty ? "" : " " + more)
        } else {
            content = ""
        }
        if lo == 0, !content.isEmpty { content = "( \(content) )?" }
        return Expr(text: "\"[\" \(ws) " + (content.isEmpty ? "" : content + " ") + "\"]\"", isSymbol: false)
    }

    // MARK: Objects

    private static func properties(_ value: JSONValue, at path: String) throws(JSONSchemaError) -> [(key: String, schema: JSONValue, path: String)] {
        guard case .object(let members) = value else { throw JSONSchemaError("'properties' at \(path) must be an object") }
        var seen = Set<String>()
        var out: [(key: String, schema: JSONValue, path: String)] = []
        for (key, schema) in members where seen.insert(key).inserted {
            out.append((key, schema, path + ".properties" + component(key)))
        }
        return out
    }

    private static func required(_ value: JSONValue, at path: String) throws(JSONSchemaError) -> [String] {
        guard case .array(let items) = value else { throw JSONSchemaError("'required' at \(path) must be an array of strings") }
        var out: [String] = []
        for item in items {
            guard case .string(let s) = item else { throw JSONSchemaError("'required' at \(path) must be an array of strings") }
            out.append(s)
        }
        return out
    }

    private mutating func convertObject(_ spec: ObjectSpec, at path: String, name: String, depth: Int) throws(JSONSchemaError) -> Expr? {
        if spec.impossible { return nil }
        var declared = spec.properties
        let declaredKeys = Set(declared.map(\.key))
        // A required key without a schema of its own takes additionalProperties' (any value when absent).
        for key in spec.required where !declaredKeys.contains(key) {
            switch spec.additional {
            case (.bool(false), _)?: return nil
            case let (schema, p)?: declared.append((key, schema, p))
            case nil: declared.append((key, .bool(true), path + ".required"))
            }
        }
        enum Extra { case none, any, schema(JSONValue, String) }
        let extra: Extra
        switch spec.additional {
        case nil: extra = spec.properties.isEmpty ? .any : .none
        case (.bool(true), _)?: extra = .any
        case (.bool(false), _)?: extra = .none
        case let (schema, p)?: extra = .schema(schema, p)
        }
        if declared.isEmpty, case .any = extra { return .symbol(rules.primitive(.object)) }
        let ws = rules.primitive(.ws)
        let required = Set(spec.required)

        var entries: [(kv: String, required: Bool, base: String)] = []
        for p in declared {
            let base = Self.child(name, p.key)
            let isRequired = required.contains(p.key)
            guard let e = try convert(p.schema, at: p.path, name: base, depth: depth + 1, leading: nil) else {
                if isRequired { return nil }
                continue
            }
            let value = try symbol(e, base)
            var keyText = ""
            JSONValue.writeString(p.key, to: &keyText)
            let kv = try rules.add(base + "-kv", "\(GBNF.literal(keyText)) \(ws) \":\" \(ws) \(value)")
            entries.append((kv, isRequired, base))
        }

        var extraKV: String?
        var extraValue: String?
        switch extra {
        case .none: break
        case .any: extraValue = rules.primitive(.value)
        case .schema(let schema, let p):
            let base = Self.child(name, "additional")
            if let e = try convert(schema, at: p, name: base, depth: depth + 1, leading: nil) { extraValue = try symbol(e, base) }
        }
        if let extraValue {
            let key = declared.isEmpty ? rules.primitive(.string) : try excludedKeys(declared.map(\.key), base: Self.child(name, "additional-key"))
            extraKV = try rules.add(Self.child(name, "additional-kv"), "\(key) \(ws) \":\" \(ws) \(extraValue)")
        }
        let closeAfter = extraKV.map { "( \",\" \(ws) \($0) \(ws) )* \"}\"" } ?? "\"}\""
        let closeFirst = extraKV.map { "( \($0) \(ws) ( \",\" \(ws) \($0) \(ws) )* )? \"}\"" } ?? "\"}\""

        // rest[j]: at least one property written, properties j… still to come (a rule when j is optional);
        // first[j]: none written yet. Built from the end, each optional property adds two rules.
        let n = entries.count
        var restRule: [String?] = Array(repeating: nil, count: n)
        var firstRule: [String?] = Array(repeating: nil, count: n)
        func afterSequence(_ from: Int, _ restRule: [String?]) -> String {
            var parts: [String] = []
            var j = from
            while j < n, entries[j].required {
                parts.append("\",\" \(ws) \(entries[j].kv) \(ws)")
                j += 1
            }
            parts.append(j == n ? closeAfter : (restRule[j] ?? closeAfter))
            return parts.joined(separator: " ")
        }
        func firstSequence(_ from: Int, _ restRule: [String?], _ firstRule: [String?]) -> String {
            if from == n { return closeFirst }
            if entries[from].required { return "\(entries[from].kv) \(ws) " + afterSequence(from + 1, restRule) }
            return firstRule[from] ?? closeFirst
        }
        // first[j] is reached only while every property before j is optional; rest[0] never.
        let firstRequired = entries.firstIndex { $0.required } ?? n
        var j = n - 1
        while j >= 0 {
            if !entries[j].required {
                let following = afterSequence(j + 1, restRule)
                let kv = entries[j].kv
                if j > 0 {
                    restRule[j] = try rules.add(entries[j].base + "-rest", "\",\" \(ws) \(kv) \(ws) \(following) | \(following)")
                }
                if j < firstRequired {
                    firstRule[j] = try rules.add(entries[j].base + "-first", "\(kv) \(ws) \(following) | " + firstSequence(j + 1, restRule, firstRule))
                }
            }
            j -= 1
        }
        return Expr(text: "\"{\" \(ws) " + firstSequence(0, restRule, firstRule), isSymbol: false)
    }

    /// A JSON string that is none of `keys` (so extra properties cannot repeat a declared one). A trie over
    /// the keys: at each node, one character that leaves it (then anything), a child's character, or the
    /// end when the node is not a key. On the trie's path characters are written one canonical way.
    private mutating func excludedKeys(_ keys: [String], base: String) throws(JSONSchemaError) -> String {
        var children: [[(UInt32, Int)]] = [[]]
        var terminal = [false]
        for key in keys {
            var node = 0
            for s in key.unicodeScalars {
                if let next = children[node].first(where: { $0.0 == s.value })?.1 {
                    node = next
                } else {
                    children.append([])
                    terminal.append(false)
                    children[node].append((s.value, children.count - 1))
                    node = children.count - 1
                }
            }
            terminal[node] = true
        }
        try rules.charge(children.count)
        let char = rules.primitive(.char)
        var expression = Array(repeating: "", count: children.count)
        var i = children.count - 1
        while i >= 0 {
            // Children written one way only (controls without a short escape cannot be, so never lead there).
            let reachable = children[i].compactMap { c, next in JSONSpelling.short(c).map { (c, next, $0) } }
            if children[i].isEmpty {
                expression[i] = "\(char)+"  // a whole key that no other extends: anything longer differs
            } else {
                let leaving = ScalarSet.of(children[i].map(\.0)).complement
                var alternatives: [String] = []
                if let unit = JSONSpelling.unit(leaving) { alternatives.append("\(unit) \(char)*") }
                for (_, next, spelling) in reachable {
                    alternatives.append(GBNF.literal(spelling) + " " + expression[next])
                }
                let body = terminal[i] ? alternatives.joined(separator: " | ") : "( " + alternatives.joined(separator: " | ") + " )?"
                expression[i] = try rules.add("\(base)-\(i)", body)
            }
            i -= 1
        }
        return try rules.add(base, "\(GBNF.quote) \(expression[0]) \(GBNF.quote)")
    }

    // MARK: allOf

    private mutating func convertAllOf(_ allOf: JSONValue, _ keywords: Keywords, at path: String, name: String, depth: Int, leading: String?) throws(JSONSchemaError) -> Expr? {
        guard case .array(let parts) = allOf, !parts.isEmpty else {
            throw JSONSchemaError("'allOf' at \(path) must be a non-empty array")
        }
        if parts.count == 1, keywords.first(except: ["allOf"]) == nil, let only = parts.first {
            return try convert(only, at: path + ".allOf[0]", name: name, depth: depth + 1, leading: leading)
        }
        // Several schemas, or one beside other keywords: only object schemas, merged.
        var spec = ObjectSpec()
        try collect(keywords, at: path, depth: depth, outer: true, into: &spec)
        return try convertObject(spec, at: path, name: name, depth: depth)
    }

    private mutating func collect(_ schema: JSONValue, at path: String, depth: Int, into spec: inout ObjectSpec) throws(JSONSchemaError) {
        guard depth <= JSONSchemaGrammar.maximumDepth else {
            throw JSONSchemaError("the schema nests deeper than \(JSONSchemaGrammar.maximumDepth) levels at \(path)")
        }
        switch schema {
        case .bool(true): return
        case .bool(false): spec.impossible = true
        case .object(let members): try collect(try Keywords(members, at: path), at: path, depth: depth, outer: false, into: &spec)
        default: throw JSONSchemaError("the schema at \(path) must be an object or a boolean, not \(schema.kindName)")
        }
    }

    private mutating func collect(_ keywords: Keywords, at path: String, depth: Int, outer: Bool, into spec: inout ObjectSpec) throws(JSONSchemaError) {
        for (key, value) in keywords.entries {
            switch key {
            case "$defs", "definitions":
                guard case .object = value else { throw JSONSchemaError("'\(key)' at \(path) must be an object") }
            case "type":
                guard (try Self.types(value, at: path)) == ["object"] else {
                    throw JSONSchemaError("unsupported 'type' \(value.serialized) in allOf at \(path) (allOf merges only object schemas)")
                }
            case "properties":
                for p in try Self.properties(value, at: path) {
                    if let existing = spec.property(p.key), existing != p.schema {
                        throw JSONSchemaError("property '\(p.key)' is declared differently in two allOf schemas at \(p.path)")
                    }
                    spec.addProperty(p)
                }
            case "required":
                spec.addRequired(try Self.required(value, at: path))
            case "additionalProperties":
                guard outer else {
                    throw JSONSchemaError("unsupported JSON Schema keyword 'additionalProperties' in allOf at \(path) (only beside allOf)")
                }
                spec.additional = (value, path + ".additionalProperties")
            case "$ref":
                guard case .string(let r) = value else { throw JSONSchemaError("'$ref' at \(path) must be a string") }
                let target = try resolve(r, at: path)
                try collect(target.schema, at: target.path, depth: depth + 1, into: &spec)
            case "allOf":
                guard case .array(let parts) = value, !parts.isEmpty else {
                    throw JSONSchemaError("'allOf' at \(path) must be a non-empty array")
                }
                for (i, part) in parts.enumerated() { try collect(part, at: "\(path).allOf[\(i)]", depth: depth + 1, into: &spec) }
            default:
                throw JSONSchemaError("unsupported JSON Schema keyword '\(key)' in allOf at \(path) (allOf merges only object schemas)")
            }
        }
    }

    // MARK: $ref

    private func resolve(_ ref: String, at path: String) throws(JSONSchemaError) -> (key: String, name: String, schema: JSONValue, path: String) {
        for container in ["$defs", "definitions"] {
            let prefix = "#/\(container)/"
            guard ref.hasPrefix(prefix) else { continue }
            let segment = String(String.UnicodeScalarView(ref.unicodeScalars.dropFirst(prefix.unicodeScalars.count)))
            guard !segment.contains("/"), let name = Self.decodePointerSegment(segment) else { break }
            guard let defs = root[container], let schema = defs[name] else {
                throw JSONSchemaError("unresolved $ref '\(ref)' at \(path)")
            }
            return (container + "/" + name, name, schema, "$" + Self.component(container) + Self.component(name))
        }
        throw JSONSchemaError("unsupported $ref '\(ref)' at \(path) (only '#/$defs/NAME' and '#/definitions/NAME' are supported)")
    }

    /// A JSON Pointer segment from a URI fragment: percent-decoded, then ~1 → '/', ~0 → '~'.
    private static func decodePointerSegment(_ segment: String) -> String? {
        var bytes: [UInt8] = []
        var utf8 = Array(segment.utf8)[...]
        while let b = utf8.popFirst() {
            if b == UInt8(ascii: "%") {
                guard let h = utf8.popFirst(), let l = utf8.popFirst(), let hv = hexDigit(h), let lv = hexDigit(l) else { return nil }
                bytes.append(hv << 4 | lv)
            } else {
                bytes.append(b)
            }
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { return nil }
        var out = ""
        var tilde = false
        for s in decoded.unicodeScalars {
            if tilde {
                switch s {
                case "0": out += "~"
                case "1": out += "/"
                default: return nil
                }
                tilde = false
            } else if s == "~" {
                tilde = true
            } else {
                out.unicodeScalars.append(s)
            }
        }
        return tilde ? nil : out
    }

    private static func hexDigit(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// The rule of a definition, converted the first time it is referenced.
    private mutating func reference(_ ref: String, at path: String, depth: Int, leading: String?) throws(JSONSchemaError) -> String {
        let target = try resolve(ref, at: path)
        if let rule = definitionRules[target.key] {
            if let leading { leadingEdges[leading, default: []].append(rule) }
            return rule
        }
        let rule = try rules.reserve(target.name)
        definitionRules[target.key] = rule
        definitionPaths[rule] = target.path
        if let leading { leadingEdges[leading, default: []].append(rule) }
        guard let body = try convert(target.schema, at: target.path, name: rule, depth: depth + 1, leading: rule) else {
            throw JSONSchemaError("the definition at \(target.path) matches no JSON value")
        }
        rules.define(rule, body.text)
        return rule
    }

    /// A definition that reaches itself before any character (`A: {$ref: A}`, or through anyOf) would make
    /// the grammar left-recursive.
    private func checkCycles() throws(JSONSchemaError) {
        var state: [String: Int] = [:]  // 1 on the path, 2 done
        for start in leadingEdges.keys.sorted() where state[start] == nil {
            var path: [(String, Int)] = [(start, 0)]
            state[start] = 1
            while let (node, next) = path.last {
                let edges = leadingEdges[node] ?? []
                if next < edges.count {
                    path[path.count - 1].1 += 1
                    let target = edges[next]
                    if state[target] == 1 {
                        throw JSONSchemaError("circular $ref at \(definitionPaths[target] ?? "$"): the definition refers to itself before any object or array")
                    }
                    if state[target] == nil {
                        state[target] = 1
                        path.append((target, 0))
                    }
                } else {
                    state[node] = 2
                    path.removeLast()
                }
            }
        }
    }

    // MARK: pattern

    private mutating func patternExpr(_ pattern: String, at path: String) throws(JSONSchemaError) -> Expr? {
        var parser = RegexParser(pattern, path: path)
        let node = try parser.parse()
        let char = Primitive.char.rawValue  // added below if an unanchored side needs it
        let top: [RegexNode]
        if case .alternation(let branches) = node { top = branches } else { top = [node] }
        var alternatives: [String] = []
        var hasEmpty = false
        for branch in top {
            var items: [RegexNode]
            if case .sequence(let s) = branch { items = s } else { items = [branch] }
            var anchoredStart = false, anchoredEnd = false
            while case .startAnchor? = items.first { items.removeFirst(); anchoredStart = true }
            while case .endAnchor? = items.last { items.removeLast(); anchoredEnd = true }
            if items.contains(where: \.containsAnchor) {
                throw JSONSchemaError("unsupported 'pattern' at \(path): '^' or '$' inside the pattern (only at the start or end of it or of a top-level alternative)")
            }
            var emitter = RegexEmitter(path: path)
            guard let f = try emitter.emit(.sequence(items), rules: &rules) else { continue }
            var parts: [String] = []
            if !anchoredStart { parts.append("\(char)*") }
            if !f.text.isEmpty { parts.append(f.text) }
            if !anchoredEnd, parts.last != "\(char)*" { parts.append("\(char)*") }
            if parts.isEmpty { hasEmpty = true } else { alternatives.append(parts.joined(separator: " ")) }
        }
        if alternatives.isEmpty, !hasEmpty { return nil }
        if alternatives.contains(where: { $0.contains("\(char)*") }) { _ = rules.primitive(.char) }
        var inner = ""
        if alternatives.count == 1, !hasEmpty, let only = alternatives.first {
            inner = only
        } else if !alternatives.isEmpty {
            inner = "( " + alternatives.joined(separator: " | ") + " )" + (hasEmpty ? "?" : "")
        }
        return Expr(text: GBNF.quote + (inner.isEmpty ? "" : " " + inner) + " " + GBNF.quote, isSymbol: false)
    }
}

// MARK: - Integer ranges

/// Exact grammars for the integers in lo...hi (either side open), written without leading zeros and
/// without "-0": the non-negative part and the negative part split by digit count, each fixed-length
/// range split digit by digit.
enum IntegerRange {
    static func alternatives(_ lo: Int128?, _ hi: Int128?) -> [String] {
        var out: [String] = []
        if hi.map({ $0 >= 0 }) ?? true {
            out += natural(max(lo ?? 0, 0), hi)
        }
        if lo.map({ $0 < 0 }) ?? true {
            let magnitudeLow: Int128 = hi.map { $0 < 0 ? -$0 : 1 } ?? 1
            let magnitudeHigh: Int128? = lo.map { -$0 }
            let negative = natural(magnitudeLow, magnitudeHigh)
            out.append("\"-\" " + GBNF.group(negative))
        }
        return out
    }

    /// Alternatives for a...b, a ≥ 0 (b nil: unbounded).
    static func natural(_ a: Int128, _ b: Int128?) -> [String] {
        let da = digits(a)
        var out: [[Atom]] = []
        if let b {
            let db = digits(b)
            for length in da.count...db.count {
                let low = length == da.count ? da : [1] + Array(repeating: 0, count: length - 1)
                let high = length == db.count ? db : Array(repeating: 9, count: length)
                out += fixed(low, high)
            }
        } else if a == 0 {
            return ["\"0\"", "[1-9] [0-9]*"]
        } else if da.dropFirst().allSatisfy({ $0 == 0 }), da.first == 1 {
            out = [[.range(1, 9), .any(da.count - 1, open: true)]]
        } else {
            out = fixed(da, Array(repeating: 9, count: da.count))
            out.append([.range(1, 9), .any(da.count, open: true)])
        }
        return out.map(render)
    }

    enum Atom {
        case digit(Int)
        case range(Int, Int)
        /// n digits; `open`: n or more.
        case any(Int, open: Bool)
        case group([[Atom]])
    }

    private static func digits(_ v: Int128) -> [Int] { String(v).utf8.map { Int($0) - 48 } }

    /// Fixed-length digit strings x...y (same length, x ≤ y).
    static func fixed(_ x: [Int], _ y: [Int]) -> [[Atom]] {
        guard let x0 = x.first, let y0 = y.first else { return [[]] }
        if x == y { return [x.map { .digit($0) }] }
        let restX = Array(x.dropFirst()), restY = Array(y.dropFirst())
        let count = restX.count
        if x0 == y0 {
            let inner = fixed(restX, restY)
            return [[.digit(x0)] + (inner.count == 1 ? inner[0] : [.group(inner)])]
        }
        let lowFull = restX.allSatisfy { $0 == 0 }
        let highFull = restY.allSatisfy { $0 == 9 }
        var out: [[Atom]] = []
        var middleLow = x0 + 1, middleHigh = y0 - 1
        if lowFull {
            middleLow = x0
        } else {
            let inner = fixed(restX, Array(repeating: 9, count: count))
            out.append([.digit(x0)] + (inner.count == 1 ? inner[0] : [.group(inner)]))
        }
        if highFull { middleHigh = y0 }
        if middleLow <= middleHigh {
            var alt: [Atom] = [middleLow == middleHigh ? .digit(middleLow) : .range(middleLow, middleHigh)]
            if count > 0 { alt.append(.any(count, open: false)) }
            out.append(alt)
        }
        if !highFull {
            let inner = fixed(Array(repeating: 0, count: count), restY)
            out.append([.digit(y0)] + (inner.count == 1 ? inner[0] : [.group(inner)]))
        }
        return out
    }

    static func render(_ atoms: [Atom]) -> String {
        var parts: [String] = []
        var pending = ""
        for atom in atoms {
            if case .digit(let d) = atom { pending += String(d); continue }
            if !pending.isEmpty { parts.append("\"\(pending)\""); pending = "" }
            switch atom {
            case .digit: break
            case .range(let a, let b): parts.append(b == a + 1 ? "[\(a)\(b)]" : "[\(a)-\(b)]")
            case .any(let n, let open):
                if open { parts.append(n == 0 ? "[0-9]*" : n == 1 ? "[0-9]+" : "[0-9]{\(n),}") } else { parts.append(n == 1 ? "[0-9]" : "[0-9]{\(n)}") }
            case .group(let alternatives): parts.append("( " + alternatives.map(render).joined(separator: " | ") + " )")
            }
        }
        if !pending.isEmpty { parts.append("\"\(pending)\"") }
        return parts.joined(separator: " ")
    }
}

// MARK: - Character sets

/// Unicode scalar values as sorted, disjoint, non-adjacent ranges; surrogates are never members.
struct ScalarSet: Equatable {
    private(set) var ranges: [ClosedRange<UInt32>] = []

    init(_ input: [ClosedRange<UInt32>]) {
        let sorted = input.sorted { $0.lowerBound < $1.lowerBound }
        var merged: [ClosedRange<UInt32>] = []
        for r in sorted {
            if let last = merged.last, r.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        // Drop surrogates and anything past U+10FFFF.
        for r in merged {
            let upper = min(r.upperBound, 0x10FFFF)
            guard r.lowerBound <= upper else { continue }
            if r.lowerBound < 0xD800, upper > 0xDFFF {
                ranges.append(r.lowerBound...0xD7FF)
                ranges.append(0xE000...upper)
            } else if r.lowerBound >= 0xD800, upper <= 0xDFFF {
                continue
            } else if r.lowerBound < 0xD800, upper >= 0xD800 {
                ranges.append(r.lowerBound...0xD7FF)
            } else if r.lowerBound <= 0xDFFF, upper > 0xDFFF {
                ranges.append(0xE000...upper)
            } else {
                ranges.append(r.lowerBound...upper)
            }
        }
    }

    var isEmpty: Bool { ranges.isEmpty }

    var single: UInt32? {
        guard ranges.count == 1, let r = ranges.first, r.lowerBound == r.upperBound else { return nil }
        return r.lowerBound
    }

    func contains(_ v: UInt32) -> Bool { ranges.contains { $0.contains(v) } }

    func union(_ other: ScalarSet) -> ScalarSet { ScalarSet(ranges + other.ranges) }

    var complement: ScalarSet {
        var out: [ClosedRange<UInt32>] = []
        var start: UInt32 = 0
        for r in ranges {
            if r.lowerBound > start { out.append(start...(r.lowerBound - 1)) }
            start = r.upperBound + 1
        }
        if start <= 0x10FFFF { out.append(start...0x10FFFF) }
        return ScalarSet(out)
    }

    func intersection(_ other: ScalarSet) -> ScalarSet {
        var out: [ClosedRange<UInt32>] = []
        var i = 0, j = 0
        while i < ranges.count, j < other.ranges.count {
            let a = ranges[i], b = other.ranges[j]
            let low = max(a.lowerBound, b.lowerBound), high = min(a.upperBound, b.upperBound)
            if low <= high { out.append(low...high) }
            if a.upperBound < b.upperBound { i += 1 } else { j += 1 }
        }
        return ScalarSet(out)
    }

    static func of(_ values: [UInt32]) -> ScalarSet { ScalarSet(values.map { $0...$0 }) }

    static let digits = ScalarSet([0x30...0x39])
    static let word = ScalarSet([0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A])
    /// ECMAScript \s: WhiteSpace and LineTerminator.
    static let space = ScalarSet([0x09...0x0D, 0x20...0x20, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A,
                                  0x2028...0x2029, 0x202F...0x202F, 0x205F...0x205F, 0x3000...0x3000, 0xFEFF...0xFEFF])
    /// ECMAScript '.': anything but a line terminator.
    static let dot = ScalarSet.of([0x0A, 0x0D, 0x2028, 0x2029]).complement
}

// MARK: - Regular expressions

indirect enum RegexNode {
    case characters(ScalarSet)
    case sequence([RegexNode])
    case alternation([RegexNode])
    case repetition(RegexNode, Int, Int?)
    case startAnchor
    case endAnchor

    /// Whether the node matches the empty string.
    var nullable: Bool {
        switch self {
        case .characters: return false
        case .sequence(let items): return items.allSatisfy(\.nullable)
        case .alternation(let branches): return branches.contains(where: \.nullable)
        case .repetition(let inner, let lo, _): return lo == 0 || inner.nullable
        case .startAnchor, .endAnchor: return true
        }
    }

    var containsAnchor: Bool {
        switch self {
        case .characters: return false
        case .sequence(let items): return items.contains(where: \.containsAnchor)
        case .alternation(let branches): return branches.contains(where: \.containsAnchor)
        case .repetition(let inner, _, _): return inner.containsAnchor
        case .startAnchor, .endAnchor: return true
        }
    }
}

/// An ECMA-262 regular expression subset, as JSON Schema's `pattern` uses: literals, escapes, classes,
/// '.', groups (capturing, (?:…), named), alternation, greedy and lazy quantifiers, ^ and $.
struct RegexParser {
    private let scalars: [Unicode.Scalar]
    private let path: String
    private var position = 0
    static let maximumGroupDepth = 64

    init(_ pattern: String, path: String) {
        scalars = Array(pattern.unicodeScalars)
        self.path = path
    }

    private func unsupported(_ what: String) -> JSONSchemaError {
        JSONSchemaError("unsupported 'pattern' at \(path): \(what)")
    }

    private func invalid(_ what: String) -> JSONSchemaError {
        JSONSchemaError("invalid 'pattern' at \(path): \(what)")
    }

    mutating func parse() throws(JSONSchemaError) -> RegexNode {
        let node = try alternation(depth: 0)
        if position < scalars.count { throw invalid("unmatched ')'") }
        return node
    }

    private func text(_ s: Unicode.Scalar?) -> String { s.map { String(Character($0)) } ?? "" }
    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        position + offset < scalars.count ? scalars[position + offset] : nil
    }

    private mutating func alternation(depth: Int) throws(JSONSchemaError) -> RegexNode {
        var branches = [try sequence(depth: depth)]
        while peek() == "|" {
            position += 1
            branches.append(try sequence(depth: depth))
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func sequence(depth: Int) throws(JSONSchemaError) -> RegexNode {
        var items: [RegexNode] = []
        while let c = peek(), c != "|", c != ")" {
            var item = try atom(depth: depth)
            if let (lo, hi) = try quantifier() {
                switch item {
                case .startAnchor, .endAnchor: throw invalid("nothing to repeat before a quantifier")
                default: break
                }
                item = .repetition(item, lo, hi)
                if quantifierAhead() { throw invalid("nothing to repeat before a quantifier") }
            }
            items.append(item)
        }
        return .sequence(items)
    }

    /// {m}, {m,}, {m,n} at `start`: the counts and the position after '}'; nil if it is not one.
    private func braceQuantifier(at start: Int) -> (Int, Int?, Int)? {
        var i = start + 1
        func number() -> Int? {
            var value = 0, digits = 0
            while i < scalars.count, scalars[i].value >= 0x30, scalars[i].value <= 0x39 {
                value = min(value * 10 + Int(scalars[i].value) - 48, 1_000_000_000)
                digits += 1
                i += 1
            }
            return digits > 0 ? value : nil
        }
        guard let lo = number() else { return nil }
        var hi: Int? = lo
        if i < scalars.count, scalars[i] == "," {
            i += 1
            hi = number()
        }
        guard i < scalars.count, scalars[i] == "}" else { return nil }
        return (lo, hi, i + 1)
    }

    private func quantifierAhead() -> Bool {
        switch peek() {
        case "*", "+", "?": return true
        case "{": return braceQuantifier(at: position) != nil
        default: return false
        }
    }

    private mutating func quantifier() throws(JSONSchemaError) -> (Int, Int?)? {
        let result: (Int, Int?)
        switch peek() {
        case "*": result = (0, nil); position += 1
        case "+": result = (1, nil); position += 1
        case "?": result = (0, 1); position += 1
        case "{":
            guard let (lo, hi, end) = braceQuantifier(at: position) else { return nil }
            position = end
            result = (lo, hi)
        default: return nil
        }
        if peek() == "?" { position += 1 }  // lazy: the same language
        let limit = JSONSchemaGrammar.maximumCount
        guard result.0 <= limit, (result.1 ?? 0) <= limit else { throw unsupported("a repetition count above \(limit)") }
        if let hi = result.1, hi < result.0 { throw invalid("numbers out of order in a {} quantifier") }
        return result
    }

    private mutating func atom(depth: Int) throws(JSONSchemaError) -> RegexNode {
        guard let c = peek() else { throw invalid("unexpected end") }
        switch c {
        case "^": position += 1; return .startAnchor
        case "$": position += 1; return .endAnchor
        case ".": position += 1; return .characters(.dot)
        case "(": return try group(depth: depth)
        case "[": return try characterClass()
        case "\\":
            position += 1
            guard let e = peek() else { throw invalid("'\\' at the end of the pattern") }
            switch e {
            case "d", "D", "w", "W", "s", "S":
                position += 1
                return .characters(Self.classEscape(e))
            case "b", "B": throw unsupported("word boundary '\\\(e)'")
            default: return .characters(.of([try characterEscape(inClass: false)]))
            }
        case "*", "+", "?": throw invalid("nothing to repeat before '\(c)'")
        case "{":
            if braceQuantifier(at: position) != nil { throw invalid("nothing to repeat before '{'") }
            position += 1
            return .characters(.of([c.value]))
        default:
            position += 1
            return .characters(.of([c.value]))
        }
    }

    private static func classEscape(_ e: Unicode.Scalar) -> ScalarSet {
        switch e {
        case "d": return .digits
        case "D": return ScalarSet.digits.complement
        case "w": return .word
        case "W": return ScalarSet.word.complement
        case "s": return .space
        default: return ScalarSet.space.complement
        }
    }

    private mutating func group(depth: Int) throws(JSONSchemaError) -> RegexNode {
        position += 1
        guard depth < Self.maximumGroupDepth else { throw unsupported("groups nested deeper than \(Self.maximumGroupDepth)") }
        if peek() == "?" {
            position += 1
            switch peek() {
            case ":": position += 1
            case "=", "!": throw unsupported("lookahead '(?\(text(peek()))'")
            case "<":
                if let next = peek(1), next == "=" || next == "!" { throw unsupported("lookbehind '(?<\(next)'") }
                // A named group: only a name for backreferences, which are refused anyway.
                position += 1
                var length = 0
                while let s = peek(), s != ">" {
                    guard s.properties.isAlphabetic || s.properties.numericType != nil || s == "_" || s == "$" else {
                        throw invalid("bad group name")
                    }
                    position += 1
                    length += 1
                }
                guard peek() == ">", length > 0 else { throw invalid("bad group name") }
                position += 1
            default: throw unsupported("group syntax '(?\(text(peek()))'")
            }
        }
        let inner = try alternation(depth: depth + 1)
        guard peek() == ")" else { throw invalid("unterminated group") }
        position += 1
        return inner
    }

    private enum ClassAtom {
        case scalar(UInt32)
        case set(ScalarSet)
    }

    private mutating func characterClass() throws(JSONSchemaError) -> RegexNode {
        position += 1
        var negated = false
        if peek() == "^" {
            negated = true
            position += 1
        }
        var set = ScalarSet([])
        while true {
            guard let c = peek() else { throw invalid("unterminated character class") }
            if c == "]" {
                position += 1
                break
            }
            let first = try classAtom()
            if peek() == "-", let next = peek(1), next != "]" {
                position += 1
                let second = try classAtom()
                guard case .scalar(let a) = first, case .scalar(let b) = second else {
                    throw unsupported("a class escape as the end of a range")
                }
                guard a <= b else { throw invalid("range out of order in a character class") }
                set = set.union(ScalarSet([a...b]))
            } else {
                switch first {
                case .scalar(let v): set = set.union(.of([v]))
                case .set(let s): set = set.union(s)
                }
            }
        }
        if negated { set = set.complement }
        guard !set.isEmpty else { throw unsupported("a character class that matches no character") }
        return .characters(set)
    }

    private mutating func classAtom() throws(JSONSchemaError) -> ClassAtom {
        guard let c = peek() else { throw invalid("unterminated character class") }
        guard c == "\\" else {
            position += 1
            return .scalar(c.value)
        }
        position += 1
        guard let e = peek() else { throw invalid("'\\' at the end of the pattern") }
        switch e {
        case "d", "D", "w", "W", "s", "S":
            position += 1
            return .set(Self.classEscape(e))
        case "b":
            position += 1
            return .scalar(0x08)
        case "B": throw unsupported("'\\B' in a character class")
        default: return .scalar(try characterEscape(inClass: true))
        }
    }

    /// The character of an escape at `position` (after the backslash).
    private mutating func characterEscape(inClass: Bool) throws(JSONSchemaError) -> UInt32 {
        guard let e = peek() else { throw invalid("'\\' at the end of the pattern") }
        position += 1
        switch e {
        case "n": return 0x0A
        case "r": return 0x0D
        case "t": return 0x09
        case "f": return 0x0C
        case "v": return 0x0B
        case "0":
            if let d = peek(), d.value >= 0x30, d.value <= 0x39 { throw unsupported("octal escape '\\0\(d)'") }
            return 0
        case "1"..."9": throw unsupported("backreference '\\\(e)'")
        case "k": throw unsupported("named backreference '\\k'")
        case "p", "P": throw unsupported("Unicode property escape '\\\(e)'")
        case "c":
            guard let l = peek(), (l.value >= 0x41 && l.value <= 0x5A) || (l.value >= 0x61 && l.value <= 0x7A) else {
                throw unsupported("'\\c' without a letter")
            }
            position += 1
            return l.value % 32
        case "x": return try hex(digits: 2)
        case "u":
            if peek() == "{" { throw unsupported("'\\u{…}' escape") }
            let v = try hex(digits: 4)
            if v >= 0xD800, v <= 0xDBFF, peek() == "\\", peek(1) == "u" {
                let save = position
                position += 2
                if let low = try? hex(digits: 4), low >= 0xDC00, low <= 0xDFFF {
                    return 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                }
                position = save
            }
            guard !(0xD800...0xDFFF).contains(v) else { throw unsupported("a lone surrogate '\\u\(GBNF.hex(v, digits: 4))'") }
            return v
        default:
            let v = e.value
            let alphanumeric = (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
            guard !alphanumeric else { throw unsupported("escape '\\\(e)'") }
            return v  // an escaped punctuation character stands for itself
        }
    }

    private mutating func hex(digits: Int) throws(JSONSchemaError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let s = peek(), let d = Self.decimal(s) ?? Self.hexLetter(s) else {
                throw invalid("expected \(digits) hex digits")
            }
            value = value << 4 | d
            position += 1
        }
        return value
    }

    private static func decimal(_ s: Unicode.Scalar) -> UInt32? { s.value >= 0x30 && s.value <= 0x39 ? s.value - 0x30 : nil }

    private static func hexLetter(_ s: Unicode.Scalar) -> UInt32? {
        switch s.value {
        case 0x41...0x46: return s.value - 0x41 + 10
        case 0x61...0x66: return s.value - 0x61 + 10
        default: return nil
        }
    }
}

/// A translated piece of a pattern: GBNF text ("" for the empty string), whether it is one element (so a
/// quantifier may follow it), and its JSON text when it is a plain literal (so neighbours merge into one).
struct Fragment {
    var text: String
    var atomic: Bool
    var literal: String?
    static let empty = Fragment(text: "", atomic: true, literal: "")
}

struct RegexEmitter {
    let path: String
    /// Nodes the rewriting of nullable repetitions may still create (it copies sequence tails).
    private var budget = 100_000

    init(path: String) { self.path = path }

    /// The strings of `node` but the empty one (nil: it has none). A GBNF repetition of something that
    /// matches the empty string is left-recursive, so `x{m,n}` with a nullable x is written `(x−ε){0,n}`.
    private mutating func nonEmpty(_ node: RegexNode) throws(JSONSchemaError) -> RegexNode? {
        switch node {
        case .characters: return node
        case .sequence(let items):
            // The first item that matches something non-empty, everything before it empty.
            var alternatives: [RegexNode] = []
            for (i, item) in items.enumerated() {
                if let first = try nonEmpty(item) {
                    budget -= items.count - i
                    guard budget >= 0 else { throw JSONSchemaError("unsupported 'pattern' at \(path): too complex") }
                    alternatives.append(.sequence([first] + items[(i + 1)...]))
                }
                if !item.nullable { break }
            }
            if alternatives.count <= 1 { return alternatives.first }
            return .alternation(alternatives)
        case .alternation(let branches):
            var alternatives: [RegexNode] = []
            for b in branches { if let n = try nonEmpty(b) { alternatives.append(n) } }
            if alternatives.count <= 1 { return alternatives.first }
            return .alternation(alternatives)
        case .repetition(let inner, let lo, let hi):
            if hi == 0 { return nil }
            if inner.nullable {
                guard let n = try nonEmpty(inner) else { return nil }
                return .repetition(n, 1, hi)
            }
            return .repetition(inner, max(lo, 1), hi)
        case .startAnchor, .endAnchor:
            return nil
        }
    }

    /// nil: the node matches no string that the grammar can write.
    mutating func emit(_ node: RegexNode, rules: inout RuleSet) throws(JSONSchemaError) -> Fragment? {
        switch node {
        case .characters(let set):
            if let c = set.single {
                let spelled = JSONSpelling.spelled(c)
                return Fragment(text: GBNF.literal(spelled), atomic: true, literal: spelled)
            }
            guard let unit = JSONSpelling.unit(set) else { return nil }
            return Fragment(text: unit, atomic: true, literal: nil)
        case .sequence(let items):
            var pieces: [Fragment] = []
            var pending: String?
            for item in items {
                guard let f = try emit(item, rules: &rules) else { return nil }
                if f.text.isEmpty { continue }
                if let literal = f.literal {
                    pending = (pending ?? "") + literal
                    continue
                }
                if let p = pending { pieces.append(Fragment(text: GBNF.literal(p), atomic: true, literal: p)); pending = nil }
                pieces.append(f)
            }
            if let p = pending { pieces.append(Fragment(text: GBNF.literal(p), atomic: true, literal: p)) }
            if pieces.isEmpty { return .empty }
            if pieces.count == 1 { return pieces[0] }
            return Fragment(text: pieces.map(\.text).joined(separator: " "), atomic: false, literal: nil)
        case .alternation(let branches):
            var texts: [Fragment] = []
            var hasEmpty = false
            for b in branches {
                guard let f = try emit(b, rules: &rules) else { continue }
                if f.text.isEmpty { hasEmpty = true } else { texts.append(f) }
            }
            if texts.isEmpty { return hasEmpty ? .empty : nil }
            if texts.count == 1, !hasEmpty { return texts[0] }
            if texts.count == 1, let only = texts.first, only.atomic {
                return Fragment(text: only.text + "?", atomic: false, literal: nil)
            }
            let group = "( " + texts.map(\.text).joined(separator: " | ") + " )"
            return Fragment(text: hasEmpty ? group + "?" : group, atomic: !hasEmpty, literal: nil)
        case .repetition(let inner, let lo, let hi):
            if inner.nullable, hi != 0 {
                guard let nonEmpty = try nonEmpty(inner) else { return .empty }
                return try emit(.repetition(nonEmpty, 0, hi), rules: &rules)
            }
            guard let f = try emit(inner, rules: &rules) else { return lo == 0 ? .empty : nil }
            if f.text.isEmpty || hi == 0 { return .empty }
            if lo == 1, hi == 1 { return f }
            let atom = f.atomic ? f.text : "( " + f.text + " )"
            try rules.charge(max(lo, hi ?? lo) + 1)
            return Fragment(text: GBNF.repetition(atom, lo, hi), atomic: false, literal: nil)
        case .startAnchor, .endAnchor:
            throw JSONSchemaError("unsupported 'pattern' at \(path): '^' or '$' inside the pattern (only at the start or end of it or of a top-level alternative)")
        }
    }
}
