import Grammar

/// A grammar a request asked its output to follow, compiled, with where it came from (for /props and errors).
public struct OutputConstraint: Sendable, Equatable {
    /// The GBNF text (given, or made from a JSON Schema).
    public let gbnf: String
    public let grammar: Grammar
    /// "grammar", "json_schema", "response_format.json_schema.schema", "response_format json_object", …
    public let source: String

    public static func == (a: OutputConstraint, b: OutputConstraint) -> Bool { a.gbnf == b.gbnf && a.source == b.source }

    /// Reads `grammar`, `json_schema` and `response_format`. Every constraint is enforced or refused with a
    /// 400 naming what is wrong: a grammar that does not parse, a schema keyword we do not enforce, a schema
    /// in a place no client puts it, or two constraints at once.
    static func parse(_ fields: RequestFields) throws(ServerError) -> OutputConstraint? {
        var found: [OutputConstraint] = []
        if let (_, value) = fields.value(["grammar"]) {
            guard case .string(let text) = value else { throw .badRequest("'grammar' must be a string of GBNF, got \(value.kindName)") }
            if !text.isEmpty { found.append(try compile(text, source: "grammar")) }
        }
        if let (_, schema) = fields.value(["json_schema"]) {
            found.append(try fromSchema(schema, source: "json_schema"))
        }
        if let (_, format) = fields.value(["response_format"]) {
            if let c = try fromResponseFormat(format) { found.append(c) }
        }
        guard found.count <= 1 else {
            throw .badRequest("the request has more than one output constraint (\(found.map(\.source).joined(separator: ", "))): give one")
        }
        return found.first
    }

    private static func fromResponseFormat(_ format: JSONValue) throws(ServerError) -> OutputConstraint? {
        guard case .object = format else { throw .badRequest("'response_format' must be an object, got \(format.kindName)") }
        guard case .string(let type)? = format["type"] else { throw .badRequest("response_format.type must be a string: text, json_object or json_schema") }
        switch type {
        case "text":
            return nil
        case "json_object":
            // llama.cpp also takes a schema here: {"type": "json_object", "schema": {…}}.
            if let schema = format["schema"], !schema.isNull { return try fromSchema(schema, source: "response_format.schema") }
            return try compile(JSONSchemaGrammar.anyObject, source: "response_format json_object")
        case "json_schema":
            guard let wrapper = format["json_schema"], !wrapper.isNull else {
                if format["schema"] != nil {
                    throw .badRequest("response_format.schema is not where a JSON Schema goes: put it in response_format.json_schema.schema ({\"type\": \"json_schema\", \"json_schema\": {\"name\": …, \"schema\": {…}}})")
                }
                throw .badRequest("response_format of type json_schema needs 'json_schema': {\"name\": …, \"schema\": {…}}")
            }
            guard case .object = wrapper else { throw .badRequest("response_format.json_schema must be an object, got \(wrapper.kindName)") }
            if let strict = wrapper["strict"], !strict.isNull {
                guard case .bool = strict else { throw .badRequest("response_format.json_schema.strict must be true or false") }
            }
            guard let schema = wrapper["schema"], !schema.isNull else {
                throw .badRequest("response_format.json_schema.schema is required (the JSON Schema the output must follow)")
            }
            return try fromSchema(schema, source: "response_format.json_schema.schema")
        default:
            throw .badRequest("response_format.type \"\(String(type.prefix(40)))\" is not one of text, json_object, json_schema")
        }
    }

    private static func fromSchema(_ schema: JSONValue, source: String) throws(ServerError) -> OutputConstraint {
        let gbnf: String
        do {
            gbnf = try JSONSchemaGrammar.grammar(for: schema)
        } catch {
            throw .badRequest("\(source): \(error.message)")
        }
        return try compile(gbnf, source: source)
    }

    private static func compile(_ text: String, source: String) throws(ServerError) -> OutputConstraint {
        let grammar: Grammar
        do { grammar = try Grammar.parse(text) } catch {
            throw .badRequest("'\(source)' is not a grammar we can enforce: \(error)")
        }
        guard !GrammarMatcher(grammar).overflowed else {
            throw .badRequest("'\(source)' is not a grammar we can enforce: its start alone is past the matcher's bounds (too ambiguous or too deeply nested)")
        }
        return OutputConstraint(gbnf: text, grammar: grammar, source: source)
    }
}
