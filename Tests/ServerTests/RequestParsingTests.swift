import XCTest
@testable import Server

final class RequestParsingTests: XCTestCase {
    let limits = ServerLimits()

    func chat(_ json: String) throws -> ChatCompletionRequest {
        try ChatCompletionRequest.parse(JSONParser.parse(Array(json.utf8)), defaults: GenerationSettings(), limits: limits)
    }

    func assertBadRequest(_ json: String, mentions word: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try chat(json), file: file, line: line) { error in
            guard case .badRequest(let message)? = error as? ServerError else { return XCTFail("not a 400: \(error)", file: file, line: line) }
            XCTAssertTrue(message.contains(word), "\(message) does not mention \(word)", file: file, line: line)
            XCTAssertEqual((error as? ServerError)?.status, 400, file: file, line: line)
        }
    }

    let hi = #""messages":[{"role":"user","content":"hi"}]"#

    func testValidChatRequest() throws {
        let r = try chat(#"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],"max_tokens":12,"temperature":0,"top_p":0.5,"top_k":3,"seed":7,"stop":["x","y"],"stream":true,"stream_options":{"include_usage":true},"unknown_field":{"x":1}}"#)
        XCTAssertEqual(r.messages.map(\.role), ["system", "user"])
        XCTAssertEqual(r.messages[1].content, "ab")
        XCTAssertEqual(r.settings.maxTokens, 12)
        XCTAssertEqual(r.settings.sampling.temperature, 0)
        XCTAssertEqual(r.settings.sampling.topP, 0.5)
        XCTAssertEqual(r.settings.sampling.topK, 3)
        XCTAssertEqual(r.settings.sampling.seed, 7)
        XCTAssertEqual(r.settings.stopStrings, ["x", "y"])
        XCTAssertTrue(r.settings.stream)
        XCTAssertTrue(r.settings.includeUsage)
        XCTAssertEqual(r.settings.model, "m")
    }

    func testStopAsOneString() throws {
        XCTAssertEqual(try chat("{\(hi),\"stop\":\"END\"}").settings.stopStrings, ["END"])
        XCTAssertEqual(try chat("{\(hi),\"stop\":null}").settings.stopStrings, [])
    }

    func testOutOfRangeAndWrongTypes() {
        assertBadRequest("{\(hi),\"max_tokens\":-5}", mentions: "max_tokens")
        assertBadRequest("{\(hi),\"max_tokens\":1e12}", mentions: "max_tokens")
        assertBadRequest("{\(hi),\"max_tokens\":2.5}", mentions: "max_tokens")
        assertBadRequest("{\(hi),\"max_tokens\":\"10\"}", mentions: "integer")
        assertBadRequest("{\(hi),\"top_p\":2}", mentions: "top_p")
        assertBadRequest("{\(hi),\"temperature\":\"hot\"}", mentions: "temperature")
        assertBadRequest("{\(hi),\"temperature\":-1}", mentions: "temperature")
        assertBadRequest("{\(hi),\"stream\":\"yes\"}", mentions: "stream")
        assertBadRequest("{\(hi),\"n\":3}", mentions: "'n'")
        assertBadRequest("{\(hi),\"stop\":[1]}", mentions: "stop")
        assertBadRequest("{\(hi),\"stream_options\":[]}", mentions: "object")
    }

    func testStopListLimits() {
        let many = "[" + (0..<17).map { "\"s\($0)\"" }.joined(separator: ",") + "]"
        assertBadRequest("{\(hi),\"stop\":\(many)}", mentions: "at most 16")
        let long = "\"" + String(repeating: "x", count: 513) + "\""
        assertBadRequest("{\(hi),\"stop\":[\(long)]}", mentions: "512")
    }

    func testMessageValidation() {
        assertBadRequest("{}", mentions: "'messages' is required")
        assertBadRequest(#"{"messages":"hi"}"#, mentions: "list")
        assertBadRequest(#"{"messages":[]}"#, mentions: "empty")
        assertBadRequest(#"{"messages":[{"role":"wizard","content":"x"}]}"#, mentions: "wizard")
        assertBadRequest(#"{"messages":[{"role":"user","content":5}]}"#, mentions: "content")
        assertBadRequest(#"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}"#, mentions: "image_url")
        assertBadRequest(#"{"messages":[1]}"#, mentions: "object")
        let thousands = "{\"messages\":[" + Array(repeating: #"{"role":"user","content":"x"}"#, count: 3000).joined(separator: ",") + "]}"
        assertBadRequest(thousands, mentions: "at most 1024")
    }

    func testNonObjectBody() {
        assertBadRequest("[1,2]", mentions: "JSON object")
        assertBadRequest("\"text\"", mentions: "JSON object")
    }

    func testCompletionPromptForms() throws {
        func prompt(_ json: String) throws -> PromptInput {
            try CompletionRequest.parse(JSONParser.parse(Array(json.utf8)), defaults: GenerationSettings(), limits: limits).prompt
        }
        XCTAssertEqual(try prompt(#"{"prompt":"abc"}"#), .text("abc"))
        XCTAssertEqual(try prompt(#"{"prompt":["abc"]}"#), .text("abc"))
        XCTAssertEqual(try prompt(#"{"prompt":[1,2,3]}"#), .tokens([1, 2, 3]))
        XCTAssertThrowsError(try prompt(#"{"prompt":{"a":1}}"#))
        XCTAssertThrowsError(try prompt(#"{"prompt":[1,"a"]}"#))
        XCTAssertThrowsError(try prompt(#"{}"#))
        let n = try CompletionRequest.parse(JSONParser.parse(Array(#"{"prompt":"a","n_predict":7}"#.utf8)), defaults: GenerationSettings(), limits: limits)
        XCTAssertEqual(n.settings.maxTokens, 7)
    }

    func testErrorEnvelope() {
        XCTAssertEqual(ServerError.badRequest("nope").envelope.serialized,
                       #"{"error":{"code":400,"message":"nope","type":"invalid_request_error"}}"#)
        XCTAssertEqual(ServerError.contextExceeded(promptTokens: 10, contextLength: 5).type, "exceed_context_size_error")
        XCTAssertEqual(ServerError.unauthorized.status, 401)
        XCTAssertEqual(ServerError.unavailable("busy", retryAfterSeconds: 1).type, "unavailable_error")
    }
}
