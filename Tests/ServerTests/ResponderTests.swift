import XCTest
@testable import Engine
@testable import Server

final class ResponderTests: XCTestCase {
    let identity = ResponseIdentity(id: "chatcmpl-test", created: 1700000000, model: "m")

    func outcome(_ reason: FinishReason, generated: Int = 2) -> GenerationOutcome {
        var t = GenerationTimings()
        t.promptTokens = 5; t.promptMilliseconds = 10; t.generatedTokens = generated; t.generationMilliseconds = 20
        return GenerationOutcome(reason: reason, timings: t, cachedTokens: 1, slot: 0)
    }

    func testServerSentEventFraming() {
        XCTAssertEqual(ServerSentEvents.event(.object([("a", "b\nc")])), "data: {\"a\":\"b\\nc\"}\n\n")
        XCTAssertEqual(ServerSentEvents.done, "data: [DONE]\n\n")
    }

    func testChatStreamChunks() throws {
        var settings = GenerationSettings()
        settings.stream = true
        settings.includeUsage = true
        let writer = RecordingWriter()
        let responder = GenerationResponder(shape: .chatCompletion, identity: identity, settings: settings, promptTokenCount: 6, writer: writer)
        responder.handle(.promptProgress(processed: 6, total: 6))
        responder.handle(.text("Hel", tokens: [1]))
        responder.handle(.text("lo", tokens: [2]))
        responder.handle(.finished(outcome(.endOfGeneration)))
        let r = writer.recorded
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(writer.header("Content-Type"), "text/event-stream")
        XCTAssertTrue(r.ended)
        let events = r.body.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        XCTAssertTrue(events.allSatisfy { $0.hasPrefix("data: ") && !$0.contains("\n") })
        XCTAssertEqual(events.last, "data: [DONE]")
        let chunks = try events.dropLast().map { try JSONParser.parse(Array($0.dropFirst(6).utf8)) }
        XCTAssertEqual(chunks.count, 5)  // role, 2 contents, finish, usage
        XCTAssertEqual(chunks[0].serialized,
            #"{"id":"chatcmpl-test","object":"chat.completion.chunk","created":1700000000,"model":"m","system_fingerprint":"swiftfile","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#)
        XCTAssertEqual(chunks[1]["choices"], .array([.object([("index", 0), ("delta", .object([("content", "Hel")])), ("logprobs", .null), ("finish_reason", .null)])]))
        guard case .array(let finish)? = chunks[3]["choices"] else { return XCTFail() }
        XCTAssertEqual(finish.first?["finish_reason"], "stop")
        XCTAssertEqual(chunks[3]["timings"]?["predicted_n"], 2)
        XCTAssertEqual(chunks[3]["timings"]?["prompt_n"], 5)
        XCTAssertEqual(chunks[4]["choices"], .array([]))
        XCTAssertEqual(chunks[4]["usage"], .object([("completion_tokens", 2), ("prompt_tokens", 6), ("total_tokens", 8)]))
        for chunk in chunks { XCTAssertEqual(chunk["id"], "chatcmpl-test"); XCTAssertEqual(chunk["created"], 1700000000) }
    }

    func testChatNonStreamResponse() throws {
        let writer = RecordingWriter()
        let responder = GenerationResponder(shape: .chatCompletion, identity: identity, settings: GenerationSettings(), promptTokenCount: 6, writer: writer)
        responder.handle(.text("Paris", tokens: [9]))
        responder.handle(.finished(outcome(.length, generated: 1)))
        let json = try XCTUnwrap(writer.json)
        XCTAssertEqual(writer.recorded.status, 200)
        XCTAssertEqual(json["object"], "chat.completion")
        guard case .array(let choices)? = json["choices"] else { return XCTFail() }
        XCTAssertEqual(choices[0]["message"], .object([("role", "assistant"), ("content", "Paris")]))
        XCTAssertEqual(choices[0]["finish_reason"], "length")
        XCTAssertEqual(json["usage"]?["total_tokens"], 7)
        XCTAssertEqual(writer.header("Content-Length"), String(writer.recorded.body.utf8.count))
    }

    func testNativeCompletionStopWord() throws {
        let writer = RecordingWriter()
        let responder = GenerationResponder(shape: .native, identity: identity, settings: GenerationSettings(), promptTokenCount: 3, writer: writer)
        responder.handle(.text("abc", tokens: [4, 5]))
        responder.handle(.finished(outcome(.stopString("END"))))
        let json = try XCTUnwrap(writer.json)
        XCTAssertEqual(json["content"], "abc")
        XCTAssertEqual(json["stop"], true)
        XCTAssertEqual(json["stop_type"], "word")
        XCTAssertEqual(json["stopping_word"], "END")
        XCTAssertEqual(json["tokens_predicted"], 2)
        XCTAssertEqual(json["tokens_evaluated"], 3)
        XCTAssertEqual(json["tokens"], [4, 5])
    }

    func testNativeStreamHasNoDoneMarker() {
        var settings = GenerationSettings()
        settings.stream = true
        let writer = RecordingWriter()
        let responder = GenerationResponder(shape: .native, identity: identity, settings: settings, promptTokenCount: 3, writer: writer)
        responder.handle(.text("a", tokens: [1]))
        responder.handle(.finished(outcome(.endOfGeneration)))
        XCTAssertFalse(writer.recorded.body.contains("[DONE]"))
        XCTAssertTrue(writer.recorded.body.hasPrefix(#"data: {"content":"a","tokens":[1],"stop":false"#))
    }

    func testFailureBeforeAndAfterHead() {
        let writer = RecordingWriter()
        GenerationResponder(shape: .chatCompletion, identity: identity, settings: GenerationSettings(), promptTokenCount: 1, writer: writer)
            .handle(.failed("boom"))
        XCTAssertEqual(writer.recorded.status, 500)
        XCTAssertEqual(writer.json?["error"]?["message"], "boom")
    }
}
