import Foundation
import XCTest
import Chat

/// Built-in formats; expected strings were rendered from the same sources by Jinja2 (see make_expected.py's environment).
final class BuiltinTemplateTests: XCTestCase {
    private let conversation = [
        ChatMessage(role: "system", content: "Be brief."),
        ChatMessage(role: "user", content: " Hi "),
        ChatMessage(role: "assistant", content: "Hello."),
        ChatMessage(role: "user", content: "Bye"),
    ]

    private func render(_ name: String, _ messages: [ChatMessage], generation: Bool = true) throws -> String {
        let template = try XCTUnwrap(ChatTemplate.builtin(name), "missing built-in \(name)")
        return try template.render(messages: messages, addGenerationPrompt: generation, bosToken: "<s>", eosToken: "</s>")
    }

    func testBuiltinNames() {
        XCTAssertEqual(ChatTemplate.builtinNames, ["chatml", "gemma", "llama2", "llama3", "mistral"])
        for name in ChatTemplate.builtinNames { XCTAssertNotNil(ChatTemplate.builtin(name), name) }
        XCTAssertNotNil(ChatTemplate.builtin("LLAMA3"))
        XCTAssertNil(ChatTemplate.builtin("no-such-format"))
    }

    func testLlama3() throws {
        XCTAssertEqual(try render("llama3", conversation),
                       "<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                       + "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
                       + "<|start_header_id|>assistant<|end_header_id|>\n\n")
        XCTAssertEqual(try render("llama3", [conversation[1]], generation: false),
                       "<s><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>")
    }

    func testChatML() throws {
        XCTAssertEqual(try render("chatml", conversation),
                       "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi <|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n"
                       + "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(try render("chatml", [conversation[1]], generation: false), "<|im_start|>user\n Hi <|im_end|>\n")
    }

    func testLlama2FoldsSystemAndRequiresAlternation() throws {
        XCTAssertEqual(try render("llama2", conversation),
                       "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Bye [/INST]")
        XCTAssertEqual(try render("llama2", [conversation[1]], generation: false), "<s>[INST] Hi [/INST]")
        XCTAssertThrowsError(try render("llama2", [conversation[1], conversation[1]])) { error in
            XCTAssertEqual(error as? ChatTemplateError, .raised(message: "Conversation roles must alternate user/assistant/user/assistant/..."))
        }
    }

    func testMistralAndGemma() throws {
        XCTAssertEqual(try render("mistral", conversation), "<s>[INST] Be brief.\n\nHi [/INST]Hello.</s>[INST] Bye [/INST]")
        XCTAssertEqual(try render("gemma", conversation),
                       "<s><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
                       + "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n")
    }

    func testDetectBuiltinName() throws {
        XCTAssertEqual(ChatTemplate.detectBuiltinName(source: try Fixtures.text("llama-3.1-8b-instruct.jinja")), "llama3")
        XCTAssertEqual(ChatTemplate.detectBuiltinName(source: try Fixtures.text("smollm2-135m-instruct.jinja")), "chatml")
        XCTAssertEqual(ChatTemplate.detectBuiltinName(source: try Fixtures.text("gemma-it.jinja")), "gemma")
        XCTAssertEqual(ChatTemplate.detectBuiltinName(source: "[INST] <<SYS>>"), "llama2")
        XCTAssertEqual(ChatTemplate.detectBuiltinName(source: "{{ '[INST] ' + x }}"), "mistral")
        XCTAssertNil(ChatTemplate.detectBuiltinName(source: "{{ messages }}"))
    }

    func testExtraVariablesAndStrftime() throws {
        let template = try ChatTemplate(source: "{{ greeting }} {{ tools is none }} {{ strftime_now('%d %B %Y') }}")
        let now = Date(timeIntervalSince1970: 1_721_995_200)  // 2024-07-26 12:00 UTC
        let output = try template.render(messages: [], addGenerationPrompt: false, bosToken: "", eosToken: "",
                                         extra: ["greeting": "hi"], now: now)
        XCTAssertEqual(output, "hi True 26 July 2024")
    }
}

/// Order-preserving JSON reading, used to pass tools and tool calls into templates.
final class TemplateJSONTests: XCTestCase {
    func testParsesInOrderWithEscapes() throws {
        let value = try TemplateValue(parsingJSON: #" {"z": 1, "a": [true, false, null, -2.5e3, 7], "s": "\u00e9\n\"\ud83d\ude00"} "#)
        let expected: TemplateValue = ["z": 1, "a": [true, false, nil, -2500.0, 7], "s": "é\n\"😀"]
        XCTAssertEqual(value, expected)
        guard case let .dictionary(dictionary) = value else { return XCTFail("not a dictionary") }
        XCTAssertEqual(dictionary.keys, ["z", "a", "s"])
        let rendered = try ChatTemplate(source: "{{ value|tojson }}").render(context: ["value": value])
        XCTAssertEqual(rendered, #"{"z": 1, "a": [true, false, null, -2500.0, 7], "s": "é\n\"😀"}"#)
    }

    func testRejectsBadJSON() {
        for text in ["", "{", "[1,]", "{\"a\" 1}", "tru", "\"unterminated", "1 2", "{\"a\": \"\\x\"}", "-",
                     String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)] {
            XCTAssertThrowsError(try TemplateValue(parsingJSON: text), text.prefix(20).debugDescription) { error in
                guard case .invalidJSON? = error as? ChatTemplateError else { return XCTFail("got \(error)") }
            }
        }
    }
}
