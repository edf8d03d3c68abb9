import Foundation
import XCTest
import Chat

/// Our renderer against outputs of the real Jinja2 (configured like transformers), from expected.json.
final class JinjaConformanceTests: XCTestCase {
    func testRealTemplatesMatchJinjaByteForByte() throws {
        let root = try Fixtures.expected()
        let cases = try XCTUnwrap(root["templates"]?.listValue)
        XCTAssertGreaterThanOrEqual(cases.count, 16)
        var templates: [String: ChatTemplate] = [:]
        for case let .dictionary(testCase) in cases {
            let name = try XCTUnwrap(testCase["name"]?.stringValue)
            let file = try XCTUnwrap(testCase["template"]?.stringValue)
            let context = try XCTUnwrap(testCase["context"]?.dictionaryValue)
            if templates[file] == nil { templates[file] = try ChatTemplate(source: try Fixtures.text(file)) }
            let template = try XCTUnwrap(templates[file])
            var variables: [String: TemplateValue] = [:]
            for key in context.keys { variables[key] = context[key] }
            if let expected = testCase["output"]?.stringValue {
                do {
                    let output = try template.render(context: variables, now: Fixtures.now(root))
                    assertSameBytes(output, expected, name)
                } catch {
                    XCTFail("\(name): unexpected error \(error)")
                }
            } else if let message = testCase["raised"]?.stringValue {
                XCTAssertThrowsError(try template.render(context: variables, now: Fixtures.now(root)), name) { error in
                    XCTAssertEqual(error as? ChatTemplateError, .raised(message: message), name)
                }
            } else {
                XCTFail("\(name): case has neither output nor raised")
            }
        }
    }

    func testSnippetsMatchJinja() throws {
        let root = try Fixtures.expected()
        let cases = try XCTUnwrap(root["snippets"]?.listValue)
        XCTAssertGreaterThanOrEqual(cases.count, 50)
        for case let .dictionary(testCase) in cases {
            let source = try XCTUnwrap(testCase["source"]?.stringValue)
            let context = try XCTUnwrap(testCase["context"]?.dictionaryValue)
            var variables: [String: TemplateValue] = [:]
            for key in context.keys { variables[key] = context[key] }
            let template: ChatTemplate
            do { template = try ChatTemplate(source: source) } catch {
                XCTFail("\(source.debugDescription): parse failed: \(error)")
                continue
            }
            let result = Result { try template.render(context: variables, now: Fixtures.now(root)) }
            if let expected = testCase["output"]?.stringValue {
                switch result {
                case let .success(output): assertSameBytes(output, expected, source.debugDescription)
                case let .failure(error): XCTFail("\(source.debugDescription): unexpected error \(error)")
                }
            } else if let message = testCase["raised"]?.stringValue {
                XCTAssertEqual(result.failureError as? ChatTemplateError, .raised(message: message), source.debugDescription)
            } else {
                // Jinja failed (undefined attribute, type error, division by zero): so must we, with a runtime error.
                guard case let .failure(error) = result, case .runtime = error as? ChatTemplateError else {
                    XCTFail("\(source.debugDescription): expected a runtime error, got \(result)")
                    continue
                }
            }
        }
    }

    /// The public message API builds the same variables the fixtures pass explicitly.
    func testMessageAPIMatchesContextRendering() throws {
        let template = try ChatTemplate(source: try Fixtures.text("llama-3.1-8b-instruct.jinja"))
        let root = try Fixtures.expected()
        let cases = try XCTUnwrap(root["templates"]?.listValue)
        let expected = try XCTUnwrap(cases.compactMap(\.dictionaryValue).first { $0["name"] == "llama3.1 system user assistant user" }?["output"]?.stringValue)
        let messages = [
            ChatMessage(role: "system", content: "You are a terse assistant.  "),
            ChatMessage(role: "user", content: "  What is the capital of France?\n"),
            ChatMessage(role: "assistant", content: "Paris."),
            ChatMessage(role: "user", content: "And of Italy? Answer with \"quotes\" & <tags>, 'apostrophes', ünïcødé ✓."),
        ]
        let output = try template.render(messages: messages, addGenerationPrompt: true, bosToken: "<|begin_of_text|>", eosToken: "<|eot_id|>")
        assertSameBytes(output, expected, "render(messages:)")
    }
}

extension Result {
    var failureError: Failure? {
        if case let .failure(error) = self { return error }
        return nil
    }
}
