import XCTest
@testable import Server

/// The answer texts of each tool-call format, parsed into content and calls.
final class ToolCallParserTests: XCTestCase {
    static func tool(_ name: String) -> ToolDefinition {
        ToolDefinition(name: name, description: nil, parameters: .object([("type", "object")]))
    }
    let tools = ["get_weather", "brave_search", "wolfram_alpha", "code_interpreter"].map(tool)

    func parse(_ text: String, _ format: ToolCallFormat) -> (content: String, calls: [(String, String)])? {
        ToolCallParser.parse(text, format: format, tools: tools).map { ($0.content, $0.calls.map { ($0.name, $0.arguments) }) }
    }

    func testHermes() {
        let r = parse("Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Rome\"}}</tool_call>", .hermes(native: true))
        XCTAssertEqual(r?.content, "Let me check.")
        XCTAssertEqual(r?.calls.map(\.0), ["get_weather", "get_weather"])
        XCTAssertEqual(r?.calls.map(\.1), [#"{"city":"Paris"}"#, #"{"city":"Rome"}"#])
        XCTAssertNil(parse("<tool_call>{\"name\": \"nope\", \"arguments\": {}}</tool_call>", .hermes(native: false)), "unknown tool")
        XCTAssertNil(parse("<tool_call>{\"name\": \"get_weather\", \"arguments\": {", .hermes(native: false)), "cut short")
        XCTAssertNil(parse("Just prose.", .hermes(native: true)))
    }

    func testLlama3JSONAndBuiltins() {
        XCTAssertEqual(parse(" {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", .llama3)?.calls.first?.1, #"{"city":"Paris"}"#)
        let search = parse(#"<|python_tag|>brave_search.call(query="weather in \"Paris\", today")"#, .llama3)
        XCTAssertEqual(search?.calls.first?.0, "brave_search")
        XCTAssertEqual(search?.calls.first?.1, #"{"query":"weather in \"Paris\", today"}"#)
        let alpha = parse(#"<|python_tag|>wolfram_alpha.call(query="2+2", units="metric")"#, .llama3)
        XCTAssertEqual(alpha?.calls.first?.1, #"{"query":"2+2","units":"metric"}"#)
        let code = parse("<|python_tag|>print(sum(range(10)))", .llama3)
        XCTAssertEqual(code?.calls.first?.0, "code_interpreter")
        XCTAssertEqual(code?.calls.first?.1, #"{"code":"print(sum(range(10)))"}"#)
        XCTAssertEqual(parse(#"<|python_tag|>unknown.call(x="1")"#, .llama3)?.calls.first?.0, "code_interpreter", "not a built-in: code")
        XCTAssertNil(parse("The weather is fine.", .llama3))
    }
}
