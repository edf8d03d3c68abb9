import Grammar
import JSON
import XCTest

/// JSON Schema → GBNF: the exact text for small schemas, which JSON texts each grammar accepts and refuses
/// (through the parser and matcher), exact integer ranges, and the errors for what is not supported.
final class JSONSchemaGrammarTests: XCTestCase {
    static func schema(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONValue {
        do {
            return try JSONParser.parse(Array(text.utf8))
        } catch {
            XCTFail("test schema is not JSON: \(error) in \(text)", file: file, line: line)
            return .null
        }
    }

    static func compile(_ schemaText: String) throws -> Grammar {
        try Grammar.parse(try JSONSchemaGrammar.grammar(for: schema(schemaText)))
    }

    /// accept(s) returned true and the matcher can end there.
    static func accepts(_ grammar: Grammar, _ text: String) -> Bool {
        var m = GrammarMatcher(grammar)
        return m.accept(text) && m.canEnd
    }

    static func error(_ schemaText: String) -> String? {
        do {
            _ = try JSONSchemaGrammar.grammar(for: schema(schemaText))
            return nil
        } catch {
            return error.message
        }
    }

    // MARK: - Exact grammar text

    /// One JSON string character: a surrogate pair written as two escapes is one character, a lone one none.
    static let charRule = #"char ::= [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" ( [0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2}"#
        + #" | [dD] [89abAB] [0-9a-fA-F]{2} "\\u" [dD] [c-fC-F] [0-9a-fA-F]{2} ) )"# + "\n"
    static let stringRules = #"string ::= "\"" char* "\"""# + "\n" + charRule

    func testExactGrammarText() throws {
        XCTAssertEqual(try JSONSchemaGrammar.grammar(for: Self.schema(#"{"type": "string"}"#)), "root ::= string\n" + Self.stringRules)
        XCTAssertEqual(try JSONSchemaGrammar.grammar(for: Self.schema(#"{"type": "integer", "minimum": 0, "maximum": 100}"#)),
                       #"root ::= [0-9] | [1-9] [0-9] | "100""# + "\n")
        XCTAssertEqual(try JSONSchemaGrammar.grammar(for: Self.schema(#"{"enum": ["red", "green", 1, null, {"a": [true]}]}"#)),
                       #"root ::= "\"red\"" | "\"green\"" | "1" | "null" | "{\"a\":[true]}""# + "\n")
        XCTAssertEqual(try JSONSchemaGrammar.grammar(for: Self.schema(#"{"type": "array", "items": {"type": "boolean"}, "maxItems": 3}"#)), #"""
            root ::= "[" ws ( boolean ws ( "," ws boolean ws ){0,2} )? "]"
            boolean ::= "true" | "false"
            ws ::= ( " " | "\n" [ \t]{0,20} )?

            """#)
        XCTAssertEqual(try JSONSchemaGrammar.grammar(for: Self.schema(#"{"type": ["string", "null"], "maxLength": 2}"#)),
                       #"root ::= "\"" char{0,2} "\"" | null"# + "\n" + Self.charRule + #"null ::= "null""# + "\n")
        let person = #"""
            {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
             "required": ["name"], "additionalProperties": false}
            """#
        XCTAssertEqual(try JSONSchemaGrammar.grammar(for: Self.schema(person)), #"""
            root ::= "{" ws name-kv ws age-rest
            ws ::= ( " " | "\n" [ \t]{0,20} )?

            """# + Self.stringRules + #"""
            name-kv ::= "\"name\"" ws ":" ws string
            age ::= "0" | [1-9] [0-9]*
            age-kv ::= "\"age\"" ws ":" ws age
            age-rest ::= "," ws age-kv ws "}" | "}"

            """#)
        // Optional properties: two helper rules each (first written from here / something already written).
        let optional = #"{"type": "object", "properties": {"a": {"type": "null"}, "b": {"type": "null"}}}"#
        XCTAssertEqual(try JSONSchemaGrammar.grammar(for: Self.schema(optional)), #"""
            root ::= "{" ws a-first
            ws ::= ( " " | "\n" [ \t]{0,20} )?
            null ::= "null"
            a-kv ::= "\"a\"" ws ":" ws null
            b-kv ::= "\"b\"" ws ":" ws null
            b-rest ::= "," ws b-kv ws "}" | "}"
            b-first ::= b-kv ws "}" | "}"
            a-first ::= a-kv ws b-rest | b-first

            """#)
        let recursive = #"""
            {"$defs": {"node": {"type": "object", "properties": {"next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}},
             "required": ["next"]}}, "$ref": "#/$defs/node"}
            """#
        XCTAssertEqual(try JSONSchemaGrammar.grammar(for: Self.schema(recursive)), #"""
            root ::= node
            node ::= "{" ws node-next-kv ws "}"
            ws ::= ( " " | "\n" [ \t]{0,20} )?
            null ::= "null"
            node-next ::= node | null
            node-next-kv ::= "\"next\"" ws ":" ws node-next

            """#)
        XCTAssertEqual(try JSONSchemaGrammar.grammar(for: Self.schema(#"{"type": "string", "pattern": "^[a-z]+\\d{2,3}$"}"#)),
                       #"root ::= "\"" [a-z]+ [0-9]{2,3} "\"""# + "\n")
        XCTAssertEqual(try JSONSchemaGrammar.grammar(for: Self.schema(#"{"type": "string", "pattern": "ab"}"#)),
                       #"root ::= "\"" char* "ab" char* "\"""# + "\n" + Self.charRule)
    }

    func testAnyObject() throws {
        let text = JSONSchemaGrammar.anyObject
        XCTAssertTrue(text.hasPrefix("root ::= object\n"), text)
        let g = try Grammar.parse(text)
        for ok in [#"{}"#, #"{"a": [1, 2.5e-3, "x", null, true, {"b": {}}]}"#, "{\n  \"a\": 1\n}", #"{"a":1,"a":2}"#] {
            XCTAssertTrue(Self.accepts(g, ok), ok)
        }
        for bad in [#"[]"#, #""x""#, #"{"a"}"#, #"{"a":1,}"#, " {}", "{}\n\n", #"{"a": 01}"#, "{\n\n}"] {
            XCTAssertFalse(Self.accepts(g, bad), bad)
        }
        XCTAssertEqual(text, try JSONSchemaGrammar.grammar(for: Self.schema(#"{"type": "object"}"#)))
    }

    // MARK: - Accept / reject table

    struct Case {
        let schema: String
        let accept: [String]
        let reject: [String]
        let line: UInt

        init(_ schema: String, accept: [String], reject: [String], line: UInt = #line) {
            (self.schema, self.accept, self.reject, self.line) = (schema, accept, reject, line)
        }
    }

    static let cases: [Case] = [
        // Types.
        Case(#"{"type": "string"}"#,
             accept: [#""""#, #""abc""#, #""a\"b\\c\/\n\u00e9""#, "\"é😀\"", #""\ud83d\ude00\uD7FF\uE000""#],
             reject: ["abc", #""abc"#, #""a"b""#, "\"a\nb\"", #""\x""#, #""\u00g0""#, "1", #""\ud83d""#, #""\ude00""#, #""\ud83dx""#]),
        Case(#"{"type": "number"}"#,
             accept: ["0", "-0", "12", "-1.5", "1e10", "2.50E-3", "1E+2", "123456789012345678901234567890"],
             reject: ["01", "1.", ".5", "+1", "-", "1e", "\"1\"", "NaN"]),
        Case(#"{"type": "integer"}"#,
             accept: ["0", "-7", "123456789012345678901234567890"],
             reject: ["1.0", "01", "-", "1e3", "--1", "true"]),
        Case(#"{"type": "boolean"}"#, accept: ["true", "false"], reject: ["True", "1", "null"]),
        Case(#"{"type": "null"}"#, accept: ["null"], reject: ["nul", "false", "\"null\""]),
        Case(#"{"type": ["string", "null"]}"#, accept: [#""x""#, "null"], reject: ["1", "[]"]),
        Case(#"{"type": ["integer", "number"]}"#, accept: ["1", "1.5"], reject: ["\"1\""]),
        Case(#"{}"#, accept: [#"{"a": [1, {"b": null}]}"#, #""x""#, "1", "true", "[]"], reject: [#"{"a":}"#, "", "tru"]),
        Case("true", accept: ["null", #"[{"a": 1}]"#], reject: ["[1,]"]),
        Case(#"{"title": "t", "description": "d", "$comment": "c", "examples": [1], "default": 1, "deprecated": false}"#,
             accept: ["1", "\"x\""], reject: ["x"]),

        // Objects.
        Case(#"{"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "boolean"}}, "required": ["a"]}"#,
             accept: [#"{"a":1}"#, #"{"a":1,"c":true}"#, #"{"a": 1, "b": "x", "c": false}"#, "{\n  \"a\": 1,\n  \"b\": \"x\"\n}"],
             reject: [#"{}"#, #"{"b":"x"}"#, #"{"b":"x","a":1}"#, #"{"a":1,"d":1}"#, #"{"a":1,}"#, #"{"a":"1"}"#, #"{"a":1,"a":1}"#]),
        Case(#"{"type": "object", "properties": {"a": {"type": "null"}, "b": {"type": "null"}, "c": {"type": "null"}}}"#,
             accept: ["{}", #"{"a":null}"#, #"{"b":null}"#, #"{"c":null}"#, #"{"a":null,"c":null}"#, #"{"a":null,"b":null,"c":null}"#],
             reject: [#"{"c":null,"a":null}"#, #"{"a":null,"a":null}"#, #"{,"a":null}"#]),
        Case(#"{"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["b"]}"#,
             accept: [#"{"b":1}"#, #"{"a":1,"b":2}"#], reject: [#"{"a":1}"#, #"{}"#]),
        Case(#"{"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": false}"#,
             accept: ["{}", #"{"a":1}"#], reject: [#"{"a":1,"b":2}"#, #"{"b":2}"#]),
        Case(#"{"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": true}"#,
             accept: ["{}", #"{"a":1}"#, #"{"a":1,"b":[1]}"#, #"{"z":null}"#, #"{"ab":1}"#, #"{"":1}"#, #"{"x":1,"y":2}"#],
             reject: [#"{"a":"x"}"#, #"{"a":1,"a":2}"#, #"{"a":"x","b":1}"#, #"{"b":1,"a":1}"#]),
        Case(#"{"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "number"}}"#,
             accept: ["{}", #"{"a":1,"x":2.5}"#, #"{"x":2.5}"#, #"{"x\"y":1}"#],
             reject: [#"{"x":"s"}"#, #"{"a":1,"a":2}"#]),
        Case(#"{"type": "object", "properties": {"a\"b": {"type": "integer"}, "ab": {"type": "integer"}}, "additionalProperties": true}"#,
             accept: [#"{"a\"b":1,"a\"c":2}"#, #"{"a\"b":1,"a":2,"abc":3}"#], reject: [#"{"a\"b":1,"a\"b":2}"#, #"{"ab":1,"ab":2}"#]),
        Case(#"{"type": "object"}"#, accept: ["{}", #"{"x":1}"#], reject: ["[]", "null"]),
        // Property and definition names that clash with the fixed rules or are not rule-name characters.
        Case(##"{"$defs": {"string": {"type": "integer"}}, "type": "object", "properties": {"root": {"type": "object", "properties": {"ws": {"$ref": "#/$defs/string"}}, "required": ["ws"]}, "a b/é": {"type": "boolean"}, "": {"type": "null"}}, "required": ["root", "a b/é", ""]}"##,
             accept: [#"{"root":{"ws":1},"a b/é":true,"":null}"#], reject: [#"{"root":{"ws":"x"},"a b/é":true,"":null}"#, #"{"root":{},"a b/é":true,"":null}"#]),
        Case(#"{"type": "object", "additionalProperties": {"type": "integer"}}"#,
             accept: ["{}", #"{"x":1,"y":2}"#], reject: [#"{"x":"1"}"#]),
        Case(#"{"type": "object", "additionalProperties": false}"#, accept: ["{}", "{ }"], reject: [#"{"x":1}"#]),
        Case(#"{"type": "object", "required": ["id"]}"#,
             accept: [#"{"id":1}"#, #"{"id":"x","y":2}"#], reject: ["{}", #"{"y":2}"#, #"{"id":1,"id":2}"#]),
        Case(#"{"properties": {"x": {"type": "integer"}}, "required": ["x"]}"#, accept: [#"{"x":1}"#], reject: ["1", "{}"]),
        Case(#"{"type": "object", "properties": {"x": false, "y": {"type": "integer"}}, "additionalProperties": true}"#,
             accept: ["{}", #"{"y":1}"#, #"{"z":1}"#], reject: [#"{"x":1}"#]),
        Case(#"{"type": ["object", "null"], "properties": {"x": {"type": "integer"}}, "required": ["x"]}"#,
             accept: ["null", #"{"x":1}"#], reject: ["{}"]),
        Case(#"{"type": "object", "properties": {"o": {"type": "object", "properties": {"p": {"type": "integer"}}, "required": ["p"]}}, "required": ["o"]}"#,
             accept: [#"{"o":{"p":1}}"#, "{\n  \"o\": {\n    \"p\": 1\n  }\n}"],
             reject: [#"{"o":{}}"#, "{\n\n\"o\":{\"p\":1}}", "{  \"o\":{\"p\":1}}", " {\"o\":{\"p\":1}}", "{\"o\":{\"p\":1}} ",
                      "{\n" + String(repeating: " ", count: 21) + "\"o\":{\"p\":1}}"]),

        // Arrays.
        Case(#"{"type": "array"}"#, accept: ["[]", #"[1, "a", [null]]"#], reject: ["[1,]", "{}"]),
        Case(#"{"type": "array", "items": {"type": "integer"}}"#, accept: ["[]", "[1]", "[1, 2, 3]", "[\n  1\n]"], reject: ["[1.5]", #"["1"]"#, "[,]"]),
        Case(#"{"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3}"#,
             accept: ["[1,2]", "[1, 2, 3]"], reject: ["[]", "[1]", "[1,2,3,4]", #"["a","b"]"#]),
        Case(#"{"type": "array", "minItems": 1}"#, accept: ["[1]", #"[1,"x"]"#], reject: ["[]"]),
        Case(#"{"type": "array", "maxItems": 0}"#, accept: ["[]", "[ ]"], reject: ["[1]"]),
        Case(#"{"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": {"type": "boolean"}, "minItems": 1, "maxItems": 4}"#,
             accept: [#"["a"]"#, #"["a",1]"#, #"["a",1,true,false]"#],
             reject: ["[]", #"[1]"#, #"["a",1,true,false,true]"#, #"["a",1,2]"#]),
        Case(#"{"type": "array", "prefixItems": [{"type": "integer"}], "items": false}"#,
             accept: ["[]", "[1]"], reject: ["[1,2]", #"["x"]"#]),
        Case(#"{"type": "array", "prefixItems": [{"type": "integer"}, {"type": "integer"}], "minItems": 2}"#,
             accept: ["[1,2]", #"[1,2,"x",null]"#], reject: ["[1]", #"[1,"x"]"#]),
        Case(#"{"type": "array", "items": [{"type": "string"}, {"type": "integer"}], "additionalItems": false}"#,
             accept: [#"["a",1]"#, #"["a"]"#, "[]"], reject: [#"["a",1,2]"#, #"[1]"#]),
        Case(#"{"type": "array", "uniqueItems": false, "items": {"type": "null"}}"#, accept: ["[null,null]"], reject: ["[1]"]),

        // enum and const.
        Case(#"{"enum": ["red", "green", null, 42, {"a": [1, true]}, 1.5]}"#,
             accept: [#""red""#, #""green""#, "null", "42", #"{"a":[1,true]}"#, "1.5"],
             reject: [#""blue""#, "42.0", #"{"a": [1, true]}"#, #""red" "#, "4"]),
        Case(#"{"const": "a\"b\\c\n"}"#, accept: [#""a\"b\\c\n""#], reject: [#""a""#, #""a\"b\\c""#]),
        Case(#"{"type": "string", "enum": ["a", 1, "b"]}"#, accept: [#""a""#, #""b""#], reject: ["1"]),
        Case(#"{"type": "integer", "enum": [1, 2.0, 2.5, "3"]}"#, accept: ["1", "2"], reject: ["2.5", #""3""#]),
        Case(#"{"enum": ["a", "b"], "const": "b"}"#, accept: [#""b""#], reject: [#""a""#]),

        // anyOf, oneOf, allOf.
        Case(#"{"anyOf": [{"type": "integer", "minimum": 10}, {"type": "string", "maxLength": 2}]}"#,
             accept: ["10", "99999", #""ab""#, #""""#], reject: ["9", #""abc""#, "null"]),
        Case(#"{"oneOf": [{"type": "boolean"}, {"type": "null"}], "description": "x"}"#, accept: ["true", "null"], reject: ["0"]),
        Case(#"{"anyOf": [false, {"type": "null"}]}"#, accept: ["null"], reject: ["true"]),
        Case(#"{"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"properties": {"b": {"type": "string"}}, "required": ["b"]}]}"#,
             accept: [#"{"a":1,"b":"x"}"#], reject: [#"{"a":1}"#, #"{"b":"x"}"#, "{}"]),
        Case(##"{"$defs": {"base": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}}, "type": "object", "allOf": [{"$ref": "#/$defs/base"}, {"properties": {"tag": {"type": "string"}}}], "additionalProperties": false}"##,
             accept: [#"{"id":1}"#, #"{"id":1,"tag":"t"}"#], reject: [#"{"tag":"t"}"#, #"{"id":1,"x":1}"#]),
        Case(##"{"$defs": {"C": {"enum": ["r", "g"]}}, "type": "object", "properties": {"c": {"allOf": [{"$ref": "#/$defs/C"}], "description": "x"}}, "required": ["c"]}"##,
             accept: [#"{"c":"r"}"#], reject: [#"{"c":"b"}"#]),

        // $ref.
        Case(##"{"$defs": {"node": {"type": "object", "properties": {"value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["value"]}}, "$ref": "#/$defs/node"}"##,
             accept: [#"{"value":1}"#, #"{"value":1,"children":[{"value":2},{"value":3,"children":[]}]}"#],
             reject: [#"{"children":[]}"#, #"{"value":1,"children":[{}]}"#]),
        Case(##"{"definitions": {"a b": {"type": "boolean"}, "c/d~": {"type": "null"}}, "type": "array", "prefixItems": [{"$ref": "#/definitions/a%20b"}, {"$ref": "#/definitions/c~1d~0"}]}"##,
             accept: ["[true,null]", "[]"], reject: ["[null]"]),
        Case(##"{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"type": "integer"}}, "$ref": "#/$defs/a"}"##, accept: ["1"], reject: ["\"1\""]),

        // Strings: length (one escape sequence is one character), formats.
        Case(#"{"type": "string", "minLength": 2, "maxLength": 3}"#,
             accept: [#""ab""#, #""abc""#, #""a\nb""#, #""\u00e9x""#, "\"é😀\"", #""x\ud83d\ude00""#],
             reject: [#""a""#, #""abcd""#, #""\n""#, #""""#, #""\ud83d\ude00""#, "\"😀\""]),
        Case(#"{"type": "string", "minLength": 1}"#, accept: [#""a""#, #""abcdefgh""#], reject: [#""""#]),
        Case(#"{"type": "string", "format": "date"}"#,
             accept: [#""2024-02-29""#, #""2000-02-29""#, #""2023-12-31""#, #""0000-02-29""#, #""2023-02-28""#, #""2023-04-30""#],
             reject: [#""2023-02-29""#, #""1900-02-29""#, #""2024-13-01""#, #""2024-04-31""#, #""2024-00-10""#, #""2024-01-00""#, #""24-01-01""#, #""2024-1-01""#]),
        Case(#"{"type": "string", "format": "time"}"#,
             accept: [#""23:59:59Z""#, #""00:00:00.123+05:30""#, #""12:30:00-08:00""#],
             reject: [#""24:00:00Z""#, #""12:00:00""#, #""12:60:00Z""#, #""12:00:60Z""#, #""12:00:00z""#, #""12:00:00+5:00""#]),
        Case(#"{"type": "string", "format": "date-time"}"#,
             accept: [#""2024-01-15T10:20:30Z""#, #""2024-01-15T10:20:30.5+01:00""#], reject: [#""2024-01-15 10:20:30Z""#, #""2024-01-15""#]),
        Case(#"{"type": "string", "format": "uuid"}"#,
             accept: [#""123e4567-e89b-12d3-a456-426614174000""#, #""123E4567-E89B-12D3-A456-426614174000""#],
             reject: [#""123e4567-e89b-12d3-a456""#, #""123e4567e89b12d3a456426614174000""#, #""g23e4567-e89b-12d3-a456-426614174000""#]),

        // Patterns (an unanchored side allows anything there).
        Case(#"{"type": "string", "pattern": "^[a-z]+\\d{2,3}$"}"#, accept: [#""ab12""#, #""x123""#], reject: [#""ab1""#, #""ab1234""#, #""Ab12""#]),
        Case(#"{"type": "string", "pattern": "ab"}"#, accept: [#""ab""#, #""xxabyy""#, #""\nab""#], reject: [#""a b""#, #""""#]),
        Case(#"{"type": "string", "pattern": "^ab"}"#, accept: [#""ab""#, #""abc""#], reject: [#""cab""#]),
        Case(#"{"type": "string", "pattern": "ab$"}"#, accept: [#""ab""#, #""cab""#], reject: [#""abc""#]),
        Case(#"{"type": "string", "pattern": "ab|^c"}"#, accept: [#""xxabyy""#, #""cd""#], reject: [#""dc""#]),
        Case(#"{"type": "string", "pattern": "^\\w+@\\w+\\.com$"}"#, accept: [#""me@x.com""#, #""a_1@b2.com""#], reject: [#""me@x.org""#, #""me@xcom""#, #""me@x-y.com""#]),
        Case(#"{"type": "string", "pattern": "^(?:ab|cd)*?$"}"#, accept: [#""""#, #""abcd""#, #""cdab""#], reject: [#""abc""#]),
        Case(#"{"type": "string", "pattern": "^(a|b)?c$"}"#, accept: [#""c""#, #""ac""#, #""bc""#], reject: [#""abc""#, #""""#]),
        Case(#"{"type": "string", "pattern": "^x{2,}$"}"#, accept: [#""xx""#, #""xxxxx""#], reject: [#""x""#]),
        Case(#"{"type": "string", "pattern": "^x{2}y{0,1}z+?$"}"#, accept: [#""xxz""#, #""xxyzz""#], reject: [#""xyz""#, #""xxyy""#]),
        Case(#"{"type": "string", "pattern": "^\\d{3}-\\d{4}$"}"#, accept: [#""555-1234""#], reject: [#""5551234""#, #""555-123""#]),
        Case(#"{"type": "string", "pattern": "^[^\\s,]+$"}"#, accept: [#""abc""#, #""a\"b""#, #""é""#], reject: [#""a b""#, #""a,b""#, #""a\tb""#, #""""#]),
        Case(#"{"type": "string", "pattern": "^a.c$"}"#, accept: [#""abc""#, #""a\"c""#, #""a😀c""#], reject: [#""a\nc""#, #""ac""#, #""a\rc""#]),
        Case(#"{"type": "string", "pattern": "^\\s$"}"#, accept: [#"" ""#, #""\t""#, #""\n""#, "\"\u{00A0}\""], reject: [#""x""#]),
        Case(#"{"type": "string", "pattern": "^\\$\\.\\*\\(\\)\\[\\]\\{\\}\\/\\\\$"}"#, accept: [#""$.*()[]{}/\\""#], reject: [#""$.*""#]),
        Case(#"{"type": "string", "pattern": "^say \"hi\"$"}"#, accept: [#""say \"hi\"""#], reject: [#""say hi""#]),
        Case(#"{"type": "string", "pattern": "^(?<year>\\d{4})-(\\d{2})$"}"#, accept: [#""2024-01""#], reject: [#""2024-1""#]),
        Case(#"{"type": "string", "pattern": "^\\u00e9\\x41\\t$"}"#, accept: [#""éA\t""#], reject: [#""éA""#]),
        Case(#"{"type": "string", "pattern": "^[\\d-]+[\\]a]$"}"#, accept: [#""1-2]""#, #""-a""#], reject: [#""1-2""#, #""x]""#]),
        Case(#"{"type": "string", "pattern": "^[^a-y]$"}"#, accept: [#""z""#, #""\\""#, #""\"""#], reject: [#""b""#, #""ab""#]),
        Case(#"{"type": "string", "pattern": "^[a-c]{2}|z$"}"#, accept: [#""ab""#, #""abx""#, #""xz""#], reject: [#""a""#, #""zx""#]),
        Case(#"{"type": "string", "pattern": "^a{}b$"}"#, accept: [#""a{}b""#], reject: [#""ab""#]),
        Case(#"{"type": "string", "pattern": "^$"}"#, accept: [#""""#], reject: [#""a""#]),
        // Repetitions of something that matches the empty string (a GBNF star over it would be left-recursive).
        Case(#"{"type": "string", "pattern": "^(a?)*$"}"#, accept: [#""""#, #""aaa""#], reject: [#""b""#]),
        Case(#"{"type": "string", "pattern": "^(a|)+b$"}"#, accept: [#""b""#, #""aab""#], reject: [#""ba""#]),
        Case(#"{"type": "string", "pattern": "^(a*b*)*c$"}"#, accept: [#""c""#, #""abbac""#, #""bc""#], reject: [#""ca""#]),
        Case(#"{"type": "string", "pattern": "^(?:x?y?){2,}z$"}"#, accept: [#""z""#, #""xyxyxz""#, #""yyyz""#], reject: [#""xzx""#, #""zz""#]),
        Case(#"{"type": "string", "pattern": "^(?:(?:)*)+$"}"#, accept: [#""""#], reject: [#""a""#]),
        Case(#"{"type": "string", "pattern": "^(a{0}|b){2,3}$"}"#, accept: [#""""#, #""bb""#, #""bbb""#, #""b""#], reject: [#""bbbb""#]),
        Case(#"{"type": "string", "pattern": ""}"#, accept: [#""""#, #""abc""#], reject: ["1"]),

        // Integer bounds (see also the exhaustive test).
        Case(#"{"type": "integer", "minimum": 18}"#, accept: ["18", "19", "100", "123456789012345678901234567890"], reject: ["17", "0", "-18", "018"]),
        Case(#"{"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10}"#, accept: ["1", "9"], reject: ["0", "10", "-0"]),
        Case(#"{"type": "integer", "minimum": 0, "exclusiveMinimum": true, "maximum": 3}"#, accept: ["1", "3"], reject: ["0"]),
        Case(#"{"type": "integer", "minimum": 1.5, "maximum": 3.5}"#, accept: ["2", "3"], reject: ["1", "4"]),
        Case(#"{"type": "integer", "minimum": 5, "maximum": 4}"#, accept: [], reject: ["4", "5"]),
        Case(#"{"type": ["integer", "null"], "maximum": 0}"#, accept: ["0", "-5", "null"], reject: ["1"]),
        Case(#"{"minimum": 0, "type": "integer", "maximum": 9223372036854775807}"#,
             accept: ["0", "9223372036854775807"], reject: ["9223372036854775808", "-1"]),
        Case(#"{"type": "integer", "minimum": -9223372036854775808, "maximum": -9223372036854775807}"#,
             accept: ["-9223372036854775808", "-9223372036854775807"], reject: ["-9223372036854775809", "-9223372036854775806", "0"]),
    ]

    func testAcceptAndRejectTable() throws {
        for c in Self.cases {
            let text: String
            do {
                text = try JSONSchemaGrammar.grammar(for: Self.schema(c.schema))
            } catch {
                if !c.accept.isEmpty { XCTFail("\(c.schema): \(error)", line: c.line) }
                continue
            }
            let g: Grammar
            do {
                g = try Grammar.parse(text)
            } catch {
                XCTFail("\(c.schema): the grammar does not parse: \(error)\n\(text)", line: c.line)
                continue
            }
            for s in c.accept {
                XCTAssertTrue(Self.accepts(g, s), "should accept \(s.debugDescription) for \(c.schema)\n\(text)", line: c.line)
            }
            for s in c.reject {
                XCTAssertFalse(Self.accepts(g, s), "should reject \(s.debugDescription) for \(c.schema)\n\(text)", line: c.line)
            }
        }
    }

    // MARK: - Integer ranges

    func testIntegerRangesExhaustively() throws {
        let bounds: [(Int?, Int?)] = [
            (0, 100), (-5, 5), (18, nil), (nil, 0), (-150, -20), (-99, 99), (7, 7), (nil, -10), (-100, nil),
            (1, 150), (10, 99), (11, 89), (-1, 1), (0, 0), (-120, 37), (9, 10), (99, 101), (nil, 55), (-37, nil),
            (-10, -10), (100, 149), (-149, -100), (19, 91),
        ]
        for (lo, hi) in bounds {
            var members: [(String, JSONValue)] = [("type", "integer")]
            if let lo { members.append(("minimum", .integer(lo))) }
            if let hi { members.append(("maximum", .integer(hi))) }
            let text = try JSONSchemaGrammar.grammar(for: .object(members))
            let g = try Grammar.parse(text)
            for n in -200...200 {
                let inside = (lo.map { n >= $0 } ?? true) && (hi.map { n <= $0 } ?? true)
                XCTAssertEqual(Self.accepts(g, String(n)), inside, "\(n) for \(String(describing: lo))...\(String(describing: hi)):\n\(text)")
            }
            for bad in ["-0", "00", "007", "-01", "+1", "1.0", ""] {
                XCTAssertFalse(Self.accepts(g, bad), "\(bad) for \(String(describing: lo))...\(String(describing: hi))")
            }
        }
        // Exclusive bounds are the inclusive ones moved by one.
        for (lo, hi) in [(-20, 20), (0, 7), (-7, 0)] {
            let g = try Self.compile(#"{"type": "integer", "exclusiveMinimum": \#(lo), "exclusiveMaximum": \#(hi)}"#)
            for n in -30...30 {
                XCTAssertEqual(Self.accepts(g, String(n)), n > lo && n < hi, "\(n) in (\(lo), \(hi))")
            }
        }
        // Wider ranges, spot-checked around every power of ten.
        let g = try Self.compile(#"{"type": "integer", "minimum": -123456, "maximum": 98765432}"#)
        var probes: [Int] = []
        var p = 1
        for _ in 0..<9 {
            probes += [p - 1, p, p + 1, -p + 1, -p, -p - 1]
            p *= 10
        }
        probes += [-123456, -123457, 98765432, 98765433, 98765431, 98765499, 98700000, -123400, -124000]
        for n in probes {
            XCTAssertEqual(Self.accepts(g, String(n)), n >= -123456 && n <= 98765432, "\(n)")
        }
    }

    // MARK: - Errors

    func testUnsupportedKeywordsNameKeywordAndPath() {
        let expected: [(String, String)] = [
            (#"{"type": "object", "properties": {"x": {"patternProperties": {}}}}"#,
             "unsupported JSON Schema keyword 'patternProperties' at $.properties.x"),
            (#"{"type": "integer", "multipleOf": 2}"#, "unsupported JSON Schema keyword 'multipleOf' at $"),
            (#"{"not": {}}"#, "unsupported JSON Schema keyword 'not' at $"),
            (#"{"if": {}, "then": {}}"#, "unsupported JSON Schema keyword 'if' at $"),
            (#"{"type": "object", "minProperties": 1}"#, "unsupported JSON Schema keyword 'minProperties' at $"),
            (#"{"type": "object", "propertyNames": {}}"#, "unsupported JSON Schema keyword 'propertyNames' at $"),
            (#"{"type": "array", "contains": {}}"#, "unsupported JSON Schema keyword 'contains' at $"),
            (#"{"type": "string", "nullable": true}"#, "unsupported JSON Schema keyword 'nullable' at $"),
            (#"{"type": "array", "items": {"anyOf": [{"type": "string", "dependentRequired": {}}]}}"#,
             "unsupported JSON Schema keyword 'dependentRequired' at $.items.anyOf[0]"),
            (#"{"type": "object", "properties": {"a b": {"unevaluatedProperties": false}}}"#,
             #"unsupported JSON Schema keyword 'unevaluatedProperties' at $.properties["a b"]"#),
            (#"{"type": "array", "uniqueItems": true}"#, "unsupported JSON Schema keyword 'uniqueItems' at $"),
            (#"{"type": "array", "additionalItems": false}"#,
             "unsupported JSON Schema keyword 'additionalItems' at $ (it needs 'items' as an array)"),
            (#"{"type": "number", "minimum": 0}"#,
             "unsupported JSON Schema keyword 'minimum' for type 'number' at $ (bounds are supported on integers only)"),
            (#"{"minimum": 0}"#, "unsupported JSON Schema keyword 'minimum' for type 'number' at $ (bounds are supported on integers only)"),
            (#"{"type": "string", "minimum": 1}"#, "JSON Schema keyword 'minimum' does not apply to type 'string' at $"),
            (#"{"type": ["string", "null"], "items": {}}"#, "JSON Schema keyword 'items' does not apply to type 'string', 'null' at $"),
            (#"{"type": "string", "format": "email"}"#, "unsupported JSON Schema format 'email' at $"),
            (#"{"type": "string", "pattern": "a", "maxLength": 3}"#, "unsupported JSON Schema keyword 'maxLength' beside 'pattern' at $"),
            (#"{"type": "string", "format": "date", "minLength": 3}"#, "unsupported JSON Schema keyword 'minLength' beside 'format' at $"),
            (##"{"$defs": {"a": {}}, "$ref": "#/$defs/a", "type": "object"}"##, "unsupported JSON Schema keyword 'type' beside '$ref' at $"),
            (#"{"anyOf": [{}], "type": "object"}"#, "unsupported JSON Schema keyword 'type' beside 'anyOf' at $"),
            (#"{"anyOf": [{}], "oneOf": [{}]}"#, "unsupported JSON Schema keyword 'oneOf' beside 'anyOf' at $"),
            (#"{"enum": ["a"], "maxLength": 3}"#, "unsupported JSON Schema keyword 'maxLength' beside 'enum' at $"),
            (##"{"$ref": "#/properties/a"}"##,
             "unsupported $ref '#/properties/a' at $ (only '#/$defs/NAME' and '#/definitions/NAME' are supported)"),
            (##"{"$ref": "#"}"##, "unsupported $ref '#' at $ (only '#/$defs/NAME' and '#/definitions/NAME' are supported)"),
            (#"{"$ref": "other.json#/$defs/a"}"#,
             "unsupported $ref 'other.json#/$defs/a' at $ (only '#/$defs/NAME' and '#/definitions/NAME' are supported)"),
            (##"{"type": "array", "items": {"$ref": "#/$defs/missing"}}"##, "unresolved $ref '#/$defs/missing' at $.items"),
            (#"{"allOf": [{"type": "string"}, {"type": "object"}]}"#,
             #"unsupported 'type' "string" in allOf at $.allOf[0] (allOf merges only object schemas)"#),
            (#"{"allOf": [{"type": "object"}, {"minLength": 1}]}"#,
             "unsupported JSON Schema keyword 'minLength' in allOf at $.allOf[1] (allOf merges only object schemas)"),
            (#"{"allOf": [{"properties": {"a": {"type": "string"}}}, {"properties": {"a": {"type": "integer"}}}]}"#,
             "property 'a' is declared differently in two allOf schemas at $.allOf[1].properties.a"),
            (#"{"allOf": [{"properties": {"a": {}}, "additionalProperties": false}, {}]}"#,
             "unsupported JSON Schema keyword 'additionalProperties' in allOf at $.allOf[0] (only beside allOf)"),
            (##"{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"anyOf": [{"$ref": "#/$defs/a"}, {"type": "null"}]}}, "$ref": "#/$defs/a"}"##,
             "circular $ref at $.$defs.a: the definition refers to itself before any object or array"),
            (##"{"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}"##,
             "circular $ref at $.$defs.a: the definition refers to itself before any object or array"),
            ("false", "the schema at $ matches no JSON value"),
            (#"{"enum": []}"#, "the schema at $ matches no JSON value"),
            (##"{"$defs": {"a": false}, "$ref": "#/$defs/a"}"##, "the definition at $.$defs.a matches no JSON value"),
            (#"{"type": "array", "minItems": 1e18}"#, "'minItems' 1e+18 at $ is above the limit of 10000"),
            (#"{"type": "array", "maxItems": 9223372036854775807}"#, "'maxItems' 9223372036854775807 at $ is above the limit of 10000"),
            (#"{"type": "string", "maxLength": -1}"#, "'maxLength' at $ must be a non-negative integer"),
            (#"{"type": "string", "minLength": 1.5}"#, "'minLength' at $ must be a non-negative integer"),
            (#"{"type": "integer", "minimum": 1e300}"#, "'minimum' 1e+300 at $ is out of range"),
            (#"{"type": "integer", "maximum": "5"}"#, "'maximum' at $ must be a number"),
            (#"{"type": "strin"}"#, #"unknown type "strin" at $"#),
            (#"{"type": []}"#, "'type' at $ must be a type name or a non-empty array of them"),
            (#"{"type": "object", "properties": []}"#, "'properties' at $ must be an object"),
            (#"{"type": "object", "required": "a"}"#, "'required' at $ must be an array of strings"),
            (#"{"anyOf": []}"#, "'anyOf' at $ must be a non-empty array"),
            (#"{"type": "object", "properties": {"a": 5}}"#, "the schema at $.properties.a must be an object or a boolean, not a number"),
            (#"{"type": "string", "pattern": "(a)\\1"}"#, "unsupported 'pattern' at $: backreference '\\1'"),
            (#"{"type": "string", "pattern": "a(?=b)"}"#, "unsupported 'pattern' at $: lookahead '(?='"),
            (#"{"type": "string", "pattern": "(?<!a)b"}"#, "unsupported 'pattern' at $: lookbehind '(?<!'"),
            (#"{"type": "string", "pattern": "\\bword"}"#, "unsupported 'pattern' at $: word boundary '\\b'"),
            (#"{"type": "string", "pattern": "(?<n>a)\\k<n>"}"#, "unsupported 'pattern' at $: named backreference '\\k'"),
            (#"{"type": "string", "pattern": "\\p{L}"}"#, "unsupported 'pattern' at $: Unicode property escape '\\p'"),
            (#"{"type": "string", "pattern": "a^b"}"#,
             "unsupported 'pattern' at $: '^' or '$' inside the pattern (only at the start or end of it or of a top-level alternative)"),
            (#"{"type": "string", "pattern": "a{1,20000}"}"#, "unsupported 'pattern' at $: a repetition count above 10000"),
            (#"{"type": "string", "pattern": "(a"}"#, "invalid 'pattern' at $: unterminated group"),
            (#"{"type": "string", "pattern": "a)"}"#, "invalid 'pattern' at $: unmatched ')'"),
            (#"{"type": "string", "pattern": "[a"}"#, "invalid 'pattern' at $: unterminated character class"),
            (#"{"type": "string", "pattern": "*a"}"#, "invalid 'pattern' at $: nothing to repeat before '*'"),
            (#"{"type": "string", "pattern": "a**"}"#, "invalid 'pattern' at $: nothing to repeat before a quantifier"),
            (#"{"type": "string", "pattern": "[z-a]"}"#, "invalid 'pattern' at $: range out of order in a character class"),
            (#"{"type": "string", "pattern": "a{3,2}"}"#, "invalid 'pattern' at $: numbers out of order in a {} quantifier"),
            (#"{"type": "string", "pattern": "[]"}"#, "unsupported 'pattern' at $: a character class that matches no character"),
            (#"{"type": "string", "pattern": "\\q"}"#, "unsupported 'pattern' at $: escape '\\q'"),
        ]
        for (schema, message) in expected {
            XCTAssertEqual(Self.error(schema), message, schema)
        }
    }

    // MARK: - Limits

    func testDeepNestingIsAnErrorNotACrash() {
        var schema: JSONValue = .object([("type", "integer")])
        for _ in 0..<70 { schema = .object([("type", "array"), ("items", schema)]) }
        XCTAssertThrowsError(try JSONSchemaGrammar.grammar(for: schema)) { error in
            let message = (error as? JSONSchemaError)?.message ?? ""
            XCTAssertTrue(message.hasPrefix("the schema nests deeper than 64 levels at $.items.items."), message)
        }
        // 60 levels are fine.
        var shallow: JSONValue = .object([("type", "integer")])
        for _ in 0..<60 { shallow = .object([("type", "array"), ("items", shallow)]) }
        XCTAssertNoThrow(try Grammar.parse(try JSONSchemaGrammar.grammar(for: shallow)))
        // allOf through references that never end.
        XCTAssertEqual(Self.error(##"{"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}, {}]}}, "$ref": "#/$defs/a"}"##)?.hasPrefix("the schema nests deeper than 64 levels at $.$defs.a"), true)
    }

    func testTooLargeIsAnError() {
        // Six strings of up to ~10000 characters: over the rule budget once repetitions are expanded.
        let properties = (0..<6).map { "\"p\($0)\": {\"type\": \"string\", \"maxLength\": \(10000 - $0)}" }.joined(separator: ", ")
        XCTAssertEqual(Self.error("{\"type\": \"object\", \"properties\": {\(properties)}}"),
                       "the schema is too large: its grammar would need more than 50000 rules")
        // Many optional properties stay linear: two helper rules each.
        let many = (0..<300).map { "\"p\($0)\": {\"type\": \"integer\"}" }.joined(separator: ", ")
        XCTAssertNoThrow(try {
            let text = try JSONSchemaGrammar.grammar(for: Self.schema("{\"type\": \"object\", \"properties\": {\(many)}}"))
            XCTAssertLessThan(text.split(separator: "\n").count, 300 * 4)
            let g = try Grammar.parse(text)
            XCTAssertTrue(Self.accepts(g, #"{"p0":1,"p150":2,"p299":3}"#))
            XCTAssertTrue(Self.accepts(g, #"{"p299":3}"#))
            XCTAssertFalse(Self.accepts(g, #"{"p150":2,"p0":1}"#))
        }())
    }

    /// Inputs that are wrong in odd ways give errors, never traps.
    func testOddInputsDoNotCrash() {
        let odd: [String] = [
            "1", "null", "[]", #""x""#, #"{"type": 1}"#, #"{"type": ["string", 1]}"#, #"{"enum": 1}"#, #"{"allOf": {}}"#,
            #"{"$ref": 1}"#, #"{"$defs": 1}"#, #"{"items": 1}"#, #"{"prefixItems": {}}"#, #"{"required": [1]}"#,
            #"{"minItems": -1e300}"#, #"{"maxItems": 1e300}"#, #"{"pattern": 1}"#, #"{"format": 1}"#,
            #"{"type": "integer", "maximum": -1e30, "minimum": -1e29}"#, #"{"type": "integer", "exclusiveMaximum": -9223372036854775808}"#,
            ##"{"$ref": "#/$defs/%ZZ"}"##, ##"{"$ref": "#/$defs/a~2"}"##, ##"{"type": "string", "pattern": "\\uD800"}"##,
            #"{"type": "string", "pattern": "\\"}"#, #"{"type": "string", "pattern": "(?"}"#, #"{"type": "string", "pattern": "\\u{41}"}"#,
            #"{"type": "string", "pattern": "[\\d-z]"}"#, #"{"type": "string", "pattern": "a{99999999999999999999}"}"#,
            #"{"uniqueItems": 1}"#, #"{"additionalProperties": 1, "type": "object"}"#,
        ]
        for schema in odd {
            do {
                let text = try JSONSchemaGrammar.grammar(for: Self.schema(schema))
                XCTAssertNoThrow(try Grammar.parse(text), schema)
            } catch {
                XCTAssertFalse(error.message.isEmpty, schema)
            }
        }
    }

    /// Every grammar the converter writes parses, and one for a larger realistic schema works end to end.
    func testRealisticSchema() throws {
        let schema = #"""
            {
              "$schema": "https://json-schema.org/draft/2020-12/schema",
              "title": "Order",
              "type": "object",
              "properties": {
                "id": {"type": "string", "format": "uuid"},
                "created": {"type": "string", "format": "date-time"},
                "customer": {"$ref": "#/$defs/customer"},
                "lines": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/line"}},
                "status": {"enum": ["open", "paid", "shipped"]},
                "note": {"type": ["string", "null"], "maxLength": 200},
                "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"}, "maxItems": 5}
              },
              "required": ["id", "customer", "lines", "status"],
              "additionalProperties": false,
              "$defs": {
                "customer": {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}, "email": {"type": "string"}},
                             "required": ["name"]},
                "line": {"type": "object", "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1, "maximum": 999},
                         "price": {"type": "number"}}, "required": ["sku", "quantity", "price"]}
              }
            }
            """#
        let g = try Self.compile(schema)
        let order = """
            {
              "id": "123e4567-e89b-12d3-a456-426614174000",
              "created": "2024-05-01T12:00:00Z",
              "customer": {"name": "Ann"},
              "lines": [{"sku": "A-1", "quantity": 2, "price": 9.99}],
              "status": "paid",
              "note": null,
              "tags": ["gift", "x-1"]
            }
            """
        XCTAssertTrue(Self.accepts(g, order))
        XCTAssertFalse(Self.accepts(g, order.replacing("\"quantity\": 2", with: "\"quantity\": 1000")))
        XCTAssertFalse(Self.accepts(g, order.replacing("\"gift\"", with: "\"Gift\"")))
        XCTAssertFalse(Self.accepts(g, order.replacing("\"paid\"", with: "\"lost\"")))
        XCTAssertFalse(Self.accepts(g, order.replacing("\"name\": \"Ann\"", with: "\"name\": \"\"")))
        XCTAssertFalse(Self.accepts(g, order.replacing("[{\"sku\": \"A-1\", \"quantity\": 2, \"price\": 9.99}]", with: "[]")))
        // A prefix of a valid document is accepted so far but cannot end.
        var m = GrammarMatcher(g)
        XCTAssertTrue(m.accept("{\n  \"id\": \"123e4567"))
        XCTAssertFalse(m.canEnd)
    }
}
