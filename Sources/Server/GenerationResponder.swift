import Engine
#if canImport(Glibc)
import Glibc
#endif

/// Which API shape a generation answers in.
public enum ResponseShape: Sendable {
    case chatCompletion      // POST /v1/chat/completions
    case textCompletion      // POST /v1/completions
    case native              // POST /completion (llama.cpp)
}

/// The fields every chunk of one response repeats.
public struct ResponseIdentity: Sendable {
    public let id: String
    public let created: Int
    public let model: String

    public static func make(shape: ResponseShape, model: String) -> ResponseIdentity {
        let prefix = shape == .chatCompletion ? "chatcmpl-" : "cmpl-"
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        let suffix = String((0..<24).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
        return ResponseIdentity(id: prefix + suffix, created: Int(time(nil)), model: model)
    }
}

/// Turns the scheduler's events for one request into HTTP: SSE chunks or one JSON body. Events come in order
/// from the compute thread, so the mutable state needs no lock.
public final class GenerationResponder: @unchecked Sendable {
    let shape: ResponseShape
    let identity: ResponseIdentity
    let settings: GenerationSettings
    let promptTokenCount: Int
    let writer: any ResponseWriter
    let extraHeaders: [(String, String)]
    private var headSent = false
    private var text = ""
    private var tokens: [Int] = []
    /// Log-probabilities not yet sent (streaming: they go with the next chunk) or, unstreamed, all of them.
    private var logprobs: [TokenLogprobs] = []
    /// Bytes of text before each reported token (legacy completions' text_offset).
    private var textOffset = 0
    /// Chat with tools: how calls look, all text so far (streaming), how much of it went out as content, and
    /// whether a call has started (its text is held back and sent as tool_calls at the end).
    let tooling: PreparedChat.Tooling?
    private var toolText: [UInt8] = []
    private var toolSent = 0
    private var inCall = false

    public init(shape: ResponseShape, identity: ResponseIdentity, settings: GenerationSettings, promptTokenCount: Int,
                tooling: PreparedChat.Tooling? = nil, writer: any ResponseWriter, extraHeaders: [(String, String)] = []) {
        self.shape = shape
        self.identity = identity
        self.settings = settings
        self.promptTokenCount = promptTokenCount
        self.tooling = shape == .chatCompletion ? tooling : nil
        self.writer = writer
        self.extraHeaders = extraHeaders
    }

    public func handle(_ event: GenerationEvent) {
        switch event {
        case .promptProgress:
            if settings.stream { startStream() }
        case .logprobs(let entry):
            logprobs.append(entry)
        case .text(let piece, let ids):
            if settings.stream, tooling != nil {
                startStream()
                toolText += piece.utf8
                let content = releasableContent()
                if !content.isEmpty {
                    writer.writeBody(ServerSentEvents.event(deltaChunk(content, tokens: ids)))
                    logprobs.removeAll()
                }
            } else if settings.stream {
                startStream()
                writer.writeBody(ServerSentEvents.event(deltaChunk(piece, tokens: ids)))
                logprobs.removeAll()
            } else {
                text += piece
                tokens += ids
            }
        case .finished(let outcome):
            if outcome.reason == .cancelled {
                // The client is gone (or the server stops): nobody reads a body any more.
                if settings.stream && headSent { writer.end() }
                else if !settings.stream { writer.respond(error: .unavailable("generation was cancelled", retryAfterSeconds: nil), headers: extraHeaders) }
                else { writer.end() }
                return
            }
            if settings.stream {
                startStream()
                for event in finalStreamEvents(outcome) { writer.writeBody(event) }
                writer.end()
            } else {
                writer.respond(status: 200, json: fullResponse(outcome), headers: extraHeaders)
            }
        case .failed(let message):
            if headSent {
                writer.writeBody(ServerSentEvents.event(ServerError.internalFailure(message).envelope))
                writer.end()
            } else {
                writer.respond(error: .internalFailure(message), headers: extraHeaders)
            }
        }
    }

    private func startStream() {
        guard !headSent else { return }
        headSent = true
        writer.writeHead(status: 200, headers: ServerSentEvents.headers + extraHeaders)
        if shape == .chatCompletion {
            writer.writeBody(ServerSentEvents.event(chatChunk(delta: .object([("role", "assistant"), ("content", "")]), finishReason: .null)))
        }
    }

    // MARK: - Shapes

    private func chatChunk(delta: JSONValue, finishReason: JSONValue, logprobs: JSONValue = .null, extra: [(String, JSONValue)] = []) -> JSONValue {
        .object([
            ("id", .string(identity.id)), ("object", "chat.completion.chunk"), ("created", .integer(identity.created)),
            ("model", .string(identity.model)), ("system_fingerprint", .string(Self.fingerprint)),
            ("choices", [.object([("index", 0), ("delta", delta), ("logprobs", logprobs), ("finish_reason", finishReason)])]),
        ] + extra)
    }

    private func textChunk(_ piece: String, finishReason: JSONValue, logprobs: JSONValue = .null, extra: [(String, JSONValue)] = []) -> JSONValue {
        .object([
            ("id", .string(identity.id)), ("object", "text_completion"), ("created", .integer(identity.created)),
            ("model", .string(identity.model)), ("system_fingerprint", .string(Self.fingerprint)),
            ("choices", [.object([("text", .string(piece)), ("index", 0), ("logprobs", logprobs), ("finish_reason", finishReason)])]),
        ] + extra)
    }

    // MARK: - Log-probabilities

    private static func tokenText(_ e: TokenLogprobs.Entry) -> String { String(decoding: e.bytes, as: UTF8.self) }

    private static func bytesJSON(_ e: TokenLogprobs.Entry) -> JSONValue { .array(e.bytes.map { .integer(Int($0)) }) }

    /// OpenAI chat: {"content": [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}], "refusal": null}.
    private func chatLogprobs() -> JSONValue {
        guard settings.logprobs != nil, !logprobs.isEmpty else { return .null }
        func entry(_ e: TokenLogprobs.Entry) -> [(String, JSONValue)] {
            [("token", .string(Self.tokenText(e))), ("logprob", .number(Double(e.logprob))), ("bytes", Self.bytesJSON(e))]
        }
        let content = logprobs.map { lp in JSONValue.object(entry(lp.chosen) + [("top_logprobs", .array(lp.top.map { .object(entry($0)) }))]) }
        return .object([("content", .array(content)), ("refusal", .null)])
    }

    /// Legacy completions: {tokens, token_logprobs, top_logprobs: [{token: logprob}], text_offset}.
    private func legacyLogprobs() -> JSONValue {
        guard settings.logprobs != nil, !logprobs.isEmpty else { return .null }
        var offsets: [JSONValue] = []
        for lp in logprobs {
            offsets.append(.integer(textOffset))
            textOffset += lp.chosen.bytes.count
        }
        return .object([
            ("tokens", .array(logprobs.map { .string(Self.tokenText($0.chosen)) })),
            ("token_logprobs", .array(logprobs.map { .number(Double($0.chosen.logprob)) })),
            ("top_logprobs", .array(logprobs.map { lp in .object(lp.top.map { (Self.tokenText($0), .number(Double($0.logprob))) }) })),
            ("text_offset", .array(offsets)),
        ])
    }

    /// llama.cpp's /completion with n_probs: [{id, token, logprob, bytes, top_logprobs: [{id, token, logprob, bytes}]}].
    private func nativeProbabilities() -> [(String, JSONValue)] {
        guard settings.logprobs != nil else { return [] }
        func entry(_ e: TokenLogprobs.Entry) -> [(String, JSONValue)] {
            [("id", .integer(e.id)), ("token", .string(Self.tokenText(e))), ("logprob", .number(Double(e.logprob))), ("bytes", Self.bytesJSON(e))]
        }
        return [("completion_probabilities", .array(logprobs.map { lp in
            .object(entry(lp.chosen) + [("top_logprobs", .array(lp.top.map { .object(entry($0)) }))])
        }))]
    }

    private func deltaChunk(_ piece: String, tokens ids: [Int]) -> JSONValue {
        switch shape {
        case .chatCompletion: return chatChunk(delta: .object([("content", .string(piece))]), finishReason: .null, logprobs: chatLogprobs())
        case .textCompletion: return textChunk(piece, finishReason: .null, logprobs: legacyLogprobs())
        case .native:
            return .object([("content", .string(piece)), ("tokens", .array(ids.map { .integer($0) })), ("stop", false),
                            ("id_slot", -1), ("index", 0)] + nativeProbabilities())
        }
    }

    // MARK: - Tool calls

    /// Streaming with tools: the content that can go out now. Text that may be the start of a call is held back
    /// (a prefix of `<tool_call>`; for Llama 3, everything until the first non-blank character shows it is not `{`).
    private func releasableContent() -> String {
        guard let tooling, !inCall else { return "" }
        var end = toolText.count
        if tooling.format == .llama3 && toolSent == 0 {
            // A JSON call is the whole answer: decided by its first non-blank character.
            guard let first = toolText.firstIndex(where: { ![0x20, 0x0A, 0x09, 0x0D].contains($0) }) else { return "" }
            if toolText[first] == UInt8(ascii: "{") { inCall = true; return "" }
        }
        switch tooling.format {
        case .hermes, .llama3:
            let key = Array((tooling.format == .llama3 ? ToolCallParser.pythonTag : "<tool_call>").utf8)
            if let at = Self.find(key, in: toolText, from: toolSent) {
                inCall = true
                end = at
                while end > toolSent && [0x20, 0x0A, 0x09, 0x0D].contains(toolText[end - 1]) { end -= 1 }
            } else {
                // Hold the longest tail that could still grow into the trigger (ASCII, so a character boundary).
                var hold = min(key.count - 1, toolText.count - toolSent)
                while hold > 0 && Array(toolText.suffix(hold)) != Array(key.prefix(hold)) { hold -= 1 }
                end = toolText.count - hold
            }
        }
        guard end > toolSent else { return "" }
        let out = String(decoding: toolText[toolSent..<end], as: UTF8.self)
        toolSent = end
        return out
    }

    static func find(_ key: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= key.count, start <= bytes.count - key.count else { return nil }
        return (start...(bytes.count - key.count)).first { Array(bytes[$0..<($0 + key.count)]) == key }
    }

    /// The calls in the whole answer, if it made any (a call cut short by max_tokens is none: it stays text).
    private func parsedCalls(_ all: String, _ outcome: GenerationOutcome) -> (content: String, calls: [ParsedToolCall])? {
        guard let tooling, outcome.reason != .length, outcome.reason != .contextFull else { return nil }
        guard let parsed = ToolCallParser.parse(all, format: tooling.format, tools: tooling.tools), !parsed.calls.isEmpty else { return nil }
        return parsed
    }

    private static func toolCallsJSON(_ calls: [ParsedToolCall]) -> JSONValue {
        .array(calls.map { .object([("id", .string($0.id)), ("type", "function"),
                                    ("function", .object([("name", .string($0.name)), ("arguments", .string($0.arguments))]))]) })
    }

    /// Streamed calls as OpenAI sends them: per call a delta with index, id, type, name and empty arguments,
    /// then argument fragments with only the index.
    private func toolCallEvents(_ calls: [ParsedToolCall]) -> [String] {
        var events: [String] = []
        for (index, call) in calls.enumerated() {
            let head: JSONValue = .object([("index", .integer(index)), ("id", .string(call.id)), ("type", "function"),
                                           ("function", .object([("name", .string(call.name)), ("arguments", "")]))])
            events.append(ServerSentEvents.event(chatChunk(delta: .object([("tool_calls", [head])]), finishReason: .null)))
            var rest = Substring(call.arguments)
            while !rest.isEmpty {
                let fragment = rest.prefix(24)
                rest = rest.dropFirst(fragment.count)
                let part: JSONValue = .object([("index", .integer(index)), ("function", .object([("arguments", .string(String(fragment)))]))])
                events.append(ServerSentEvents.event(chatChunk(delta: .object([("tool_calls", [part])]), finishReason: .null)))
            }
        }
        return events
    }

    private func finalStreamEvents(_ outcome: GenerationOutcome) -> [String] {
        let timings = ("timings", Self.timingsJSON(outcome))
        switch shape {
        case .chatCompletion:
            var events: [String] = []
            var finish = Self.openAIFinishReason(outcome.reason)
            if tooling != nil {
                let all = String(decoding: toolText, as: UTF8.self)
                if let parsed = parsedCalls(all, outcome) {
                    // Content before the call that was held back (the blank or partial-trigger tail) goes first.
                    let unsent = String(decoding: toolText[toolSent...], as: UTF8.self)
                    if let cut = unsent.firstRange(of: tooling?.format == .llama3 ? ToolCallParser.pythonTag : "<tool_call>") {
                        let lead = String(unsent[..<cut.lowerBound]).trimmingTrailingWhitespace
                        if !lead.isEmpty {
                            events.append(ServerSentEvents.event(deltaChunk(lead, tokens: [])))
                            logprobs.removeAll()
                        }
                    }
                    events += toolCallEvents(parsed.calls)
                    finish = "tool_calls"
                } else if toolSent < toolText.count {
                    events.append(ServerSentEvents.event(deltaChunk(String(decoding: toolText[toolSent...], as: UTF8.self), tokens: [])))
                    logprobs.removeAll()
                }
            }
            events.append(ServerSentEvents.event(chatChunk(delta: .object([]), finishReason: .string(finish), logprobs: chatLogprobs(), extra: [timings])))
            if settings.includeUsage { events.append(ServerSentEvents.event(usageChunk(outcome, object: "chat.completion.chunk"))) }
            return events + [ServerSentEvents.done]
        case .textCompletion:
            var events = [ServerSentEvents.event(textChunk("", finishReason: .string(Self.openAIFinishReason(outcome.reason)), logprobs: legacyLogprobs(), extra: [timings]))]
            if settings.includeUsage { events.append(ServerSentEvents.event(usageChunk(outcome, object: "text_completion"))) }
            return events + [ServerSentEvents.done]
        case .native:
            return [ServerSentEvents.event(nativeFinal(outcome, content: ""))]
        }
    }

    private func usageChunk(_ outcome: GenerationOutcome, object: String) -> JSONValue {
        .object([
            ("id", .string(identity.id)), ("object", .string(object)), ("created", .integer(identity.created)),
            ("model", .string(identity.model)), ("system_fingerprint", .string(Self.fingerprint)),
            ("choices", []), ("usage", usage(outcome)),
        ])
    }

    private func usage(_ outcome: GenerationOutcome) -> JSONValue {
        let completion = outcome.timings.generatedTokens
        return .object([("completion_tokens", .integer(completion)), ("prompt_tokens", .integer(promptTokenCount)),
                        ("total_tokens", .integer(completion + promptTokenCount))])
    }

    private func fullResponse(_ outcome: GenerationOutcome) -> JSONValue {
        let finish = JSONValue.string(Self.openAIFinishReason(outcome.reason))
        switch shape {
        case .chatCompletion:
            var message: [(String, JSONValue)] = [("role", "assistant"), ("content", .string(text))]
            var finish = finish
            if let parsed = parsedCalls(text, outcome) {
                message = [("role", "assistant"), ("content", parsed.content.isEmpty ? .null : .string(parsed.content)),
                           ("tool_calls", Self.toolCallsJSON(parsed.calls))]
                finish = "tool_calls"
            }
            return .object([
                ("id", .string(identity.id)), ("object", "chat.completion"), ("created", .integer(identity.created)),
                ("model", .string(identity.model)), ("system_fingerprint", .string(Self.fingerprint)),
                ("choices", [.object([("index", 0), ("message", .object(message)),
                                      ("logprobs", chatLogprobs()), ("finish_reason", finish)])]),
                ("usage", usage(outcome)), ("timings", Self.timingsJSON(outcome)),
            ])
        case .textCompletion:
            return .object([
                ("id", .string(identity.id)), ("object", "text_completion"), ("created", .integer(identity.created)),
                ("model", .string(identity.model)), ("system_fingerprint", .string(Self.fingerprint)),
                ("choices", [.object([("text", .string(text)), ("index", 0), ("logprobs", legacyLogprobs()), ("finish_reason", finish)])]),
                ("usage", usage(outcome)), ("timings", Self.timingsJSON(outcome)),
            ])
        case .native:
            return nativeFinal(outcome, content: text)
        }
    }

    private func nativeFinal(_ outcome: GenerationOutcome, content: String) -> JSONValue {
        let stopType: String, word: String
        switch outcome.reason {
        case .endOfGeneration: stopType = "eos"; word = ""
        case .stopString(let s): stopType = "word"; word = s
        case .length, .contextFull: stopType = "limit"; word = ""
        case .cancelled: stopType = "none"; word = ""
        }
        return .object([
            ("content", .string(content)), ("tokens", settings.stream ? [] : .array(tokens.map { .integer($0) })),
            ("id_slot", .integer(outcome.slot)), ("stop", true), ("model", .string(identity.model)),
            ("tokens_predicted", .integer(outcome.timings.generatedTokens)), ("tokens_evaluated", .integer(promptTokenCount)),
            ("generation_settings", Self.settingsJSON(settings)),
            ("has_new_line", .bool(content.contains("\n"))), ("truncated", false),
            ("stop_type", .string(stopType)), ("stopping_word", .string(word)),
            ("tokens_cached", .integer(outcome.cachedTokens + outcome.timings.promptTokens + outcome.timings.generatedTokens)),
            ("timings", Self.timingsJSON(outcome)),
        ] + nativeProbabilities())
    }

    static let fingerprint = "swiftfile"

    static func openAIFinishReason(_ reason: FinishReason) -> String {
        switch reason {
        case .endOfGeneration, .stopString, .cancelled: return "stop"
        case .length, .contextFull: return "length"
        }
    }

    static func timingsJSON(_ outcome: GenerationOutcome) -> JSONValue {
        let t = outcome.timings
        func perToken(_ ms: Double, _ n: Int) -> Double { n > 0 ? ms / Double(n) : 0 }
        return .object([
            ("cache_n", .integer(outcome.cachedTokens)),
            ("prompt_n", .integer(t.promptTokens)), ("prompt_ms", .number(t.promptMilliseconds)),
            ("prompt_per_token_ms", .number(perToken(t.promptMilliseconds, t.promptTokens))),
            ("prompt_per_second", .number(t.promptTokensPerSecond)),
            ("predicted_n", .integer(t.generatedTokens)), ("predicted_ms", .number(t.generationMilliseconds)),
            ("predicted_per_token_ms", .number(perToken(t.generationMilliseconds, t.generatedTokens))),
            ("predicted_per_second", .number(t.generationTokensPerSecond)),
        ])
    }

    static func settingsJSON(_ s: GenerationSettings) -> JSONValue {
        .object([
            ("n_predict", .integer(s.maxTokens)), ("temperature", .number(Double(s.sampling.temperature))),
            ("top_k", .integer(s.sampling.topK)), ("top_p", .number(Double(s.sampling.topP))),
            ("min_p", .number(Double(s.sampling.minP))), ("repeat_penalty", .number(Double(s.sampling.repeatPenalty))),
            ("repeat_last_n", .integer(s.sampling.repeatLastN)),
            ("presence_penalty", .number(Double(s.sampling.presencePenalty))),
            ("frequency_penalty", .number(Double(s.sampling.frequencyPenalty))),
            ("seed", s.sampling.seed.map { .integer(Int(truncatingIfNeeded: $0)) } ?? .integer(-1)),
            ("stop", .array(s.stopStrings.map { .string($0) })), ("stream", .bool(s.stream)),
        ])
    }
}
