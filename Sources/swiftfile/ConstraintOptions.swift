import ArgumentParser
import Grammar
import JSON

/// llama.cpp's grammar flags: the output of -p, --chat and --bench follows a GBNF grammar or a JSON Schema.
struct ConstraintOptions: ParsableArguments {
    @Option(name: .customLong("grammar"), help: "GBNF grammar the output must follow.")
    var grammar: String?

    @Option(name: .customLong("grammar-file"), help: "File with a GBNF grammar the output must follow.")
    var grammarFile: String?

    @Option(name: [.customShort("j"), .customLong("json-schema")], help: "JSON Schema the output must follow (as JSON text).")
    var jsonSchema: String?

    @Option(name: [.customLong("jf", withSingleDash: true), .customLong("json-schema-file")], help: "File with a JSON Schema the output must follow.")
    var jsonSchemaFile: String?

    func validate() throws {
        let given = [grammar, grammarFile, jsonSchema, jsonSchemaFile].compactMap { $0 }.count
        if given > 1 { throw ValidationError("give one of --grammar, --grammar-file, -j/--json-schema, -jf/--json-schema-file") }
    }

    /// The compiled grammar, if one was asked for; a typed error naming the flag otherwise.
    func load() throws -> Grammar? {
        let gbnf: String, flag: String
        if let grammar {
            (gbnf, flag) = (grammar, "--grammar")
        } else if let grammarFile {
            (gbnf, flag) = (try Completion.readText(grammarFile), "--grammar-file")
        } else if let text = try jsonSchema ?? jsonSchemaFile.map(Completion.readText) {
            flag = jsonSchema != nil ? "--json-schema" : "--json-schema-file"
            let schema: JSONValue
            do { schema = try JSONParser.parse(Array(text.utf8)) } catch { throw RunnerError("\(flag): \(error)") }
            do { gbnf = try JSONSchemaGrammar.grammar(for: schema) } catch { throw RunnerError("\(flag): \(error.message)") }
        } else {
            return nil
        }
        do { return try Grammar.parse(gbnf) } catch { throw RunnerError("\(flag): \(error)") }
    }
}
