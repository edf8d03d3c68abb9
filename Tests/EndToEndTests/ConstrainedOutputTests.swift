import Foundation
import XCTest

/// The grammar flags of the command line (llama.cpp's spellings) on SmolLM2.
final class ConstrainedOutputTests: XCTestCase {
    func testGrammarAndSchemaFlags() throws {
        let model = try E2E.cachedModel("SmolLM2-135M-Instruct.Q4_1.gguf")
        let base = ["-m", model.path, "--log-disable", "--no-display-prompt", "-n", "64"]
        // At temperature 1 over several seeds, every answer is one of the grammar's two sentences.
        for seed in 1...5 {
            let r = try E2E.run(try E2E.runner(), base + ["-p", "Is the sky blue? Answer:", "--grammar", #"root ::= " " ("yes" | "no") ".""#,
                                                          "--temp", "1", "--seed", "\(seed)"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue([" yes.\n", " no.\n"].contains(r.stdout), r.stdout.debugDescription)
        }
        // A JSON Schema from a file: the output parses and has the required fields with their types.
        let folder = try E2E.temporaryDirectory()
        let schema = folder.appendingPathComponent("schema.json")
        try #"{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":1,"maximum":99}},"required":["name","age"],"additionalProperties":false}"#
            .write(to: schema, atomically: true, encoding: .utf8)
        let r = try E2E.run(try E2E.runner(), base + ["-p", "A person as JSON:", "-jf", schema.path, "--temp", "0.8", "--seed", "7"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(Set(object?.keys.map { $0 } ?? []), ["name", "age"], r.stdout)
        let age = object?["age"] as? Int ?? -1
        XCTAssertTrue((1...99).contains(age), r.stdout)
        XCTAssertLessThanOrEqual((object?["name"] as? String)?.count ?? 99, 12, r.stdout)
        // Errors name the flag and the position; nothing is generated.
        let bad = try E2E.run(try E2E.runner(), base + ["-p", "Hi", "--grammar", "root ::= [b-a]"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.stdout, "")
        XCTAssertTrue(bad.stderr.contains("--grammar: grammar error at line 1, column 10: character range with its end before its start"), bad.stderr)
        let unsupported = try E2E.run(try E2E.runner(), base + ["-p", "Hi", "-j", #"{"type":"string","format":"email"}"#])
        XCTAssertEqual(unsupported.status, 1)
        XCTAssertTrue(unsupported.stderr.contains("--json-schema:") && unsupported.stderr.contains("format"), unsupported.stderr)
        let both = try E2E.run(try E2E.runner(), base + ["-p", "Hi", "--grammar", "root ::= \"a\"", "-j", "{}"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("give one of"), both.stderr)
    }
}
