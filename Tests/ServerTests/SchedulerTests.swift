import Dispatch
import Foundation
import GGUF
import Model
import Sampling
import Synchronization
import Tokenizer
import XCTest
@testable import Engine

/// The scheduler on a tiny synthetic Llama 3 model from the shared test data.
final class SchedulerTests: XCTestCase {
    /// Keeps the model file's bytes alive for the GGUF views.
    final class FileBytes: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
        let count: Int
        init(_ data: Data) {
            count = data.count
            pointer = .allocate(byteCount: max(count, 1), alignment: 64)
            data.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: count) }
        }
        deinit { pointer.deallocate() }
    }

    static func testDataFolder() -> URL {
        if let env = ProcessInfo.processInfo.environment["SWIFTFILE_TESTDATA"] { return URL(fileURLWithPath: env) }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return packageRoot.appendingPathComponent("testdata")
    }

    func makeScheduler(slots: Int = 4, context: Int = 256, queue: Int = 8) throws -> (Scheduler, Tokenizer) {
        let url = Self.testDataFolder().appendingPathComponent("models/tiny-llama3-q8_0-q4emb.gguf")
        guard let data = try? Data(contentsOf: url) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: url.path, NSLocalizedDescriptionKey: "test model missing at \(url.path): run `make models` (make test does)"])
        }
        let bytes = FileBytes(data)
        let gguf = try GGUFFile(bytes: UnsafeRawBufferPointer(start: bytes.pointer, count: bytes.count), owner: bytes)
        let tokenizer = try Tokenizer(gguf: gguf)
        let model = try TransformerModel(gguf: gguf)
        let inference = InferenceContext(model: model, contextLength: context, sequences: slots, maxBatch: 64, threads: 2)
        let scheduler = Scheduler(context: inference, tokenizer: tokenizer, queueCapacity: queue, prefillChunkWhileDecoding: 16)
        scheduler.start()
        addTeardownBlock { scheduler.stop() }
        return (scheduler, tokenizer)
    }

    /// Collects one request's events and waits for its end.
    final class Collector: Sendable {
        struct State: Sendable { var text = ""; var tokens: [Int] = []; var outcome: GenerationOutcome?; var failure: String?; var textEvents = 0 }
        let state = Mutex(State())
        let done = DispatchSemaphore(value: 0)
        let onText: (@Sendable (Int) -> Void)?
        init(onText: (@Sendable (Int) -> Void)? = nil) { self.onText = onText }

        func handle(_ event: GenerationEvent) {
            switch event {
            case .promptProgress, .logprobs: break
            case .text(let t, let ids):
                let count = state.withLock { $0.text += t; $0.tokens += ids; $0.textEvents += 1; return $0.textEvents }
                onText?(count)
            case .finished(let o): state.withLock { $0.outcome = o }; done.signal()
            case .failed(let m): state.withLock { $0.failure = m }; done.signal()
            }
        }
        func wait() -> State {
            _ = done.wait(timeout: .now() + 600)  // debug builds on a loaded 2-core machine are slow
            return state.withLock { $0 }
        }
    }

    func greedy() -> SamplingParameters {
        var p = SamplingParameters()
        p.temperature = 0
        return p
    }

    func run(_ scheduler: Scheduler, _ prompt: [Int], maxTokens: Int, stops: [String] = [], sampling: SamplingParameters? = nil) throws -> Collector.State {
        let collector = Collector()
        try scheduler.submit(GenerationRequest(prompt: prompt, maxTokens: maxTokens, sampling: sampling ?? greedy(), stopStrings: stops) { collector.handle($0) })
        return collector.wait()
    }

    func testConcurrentSlotsMatchOneAtATime() throws {
        let (scheduler, tokenizer) = try makeScheduler()
        let prompts = ["The capital of France is", "Once upon a time, there was a little robot who", "def add(a, b):", "1, 2, 3,"]
            .map { tokenizer.encode($0, addBOS: true, parseSpecial: false) }
        let alone = try prompts.map { try run(scheduler, $0, maxTokens: 8).tokens }
        let collectors = prompts.map { _ in Collector() }
        for (prompt, collector) in zip(prompts, collectors) {
            try scheduler.submit(GenerationRequest(prompt: prompt, maxTokens: 8, sampling: greedy()) { collector.handle($0) })
        }
        let together = collectors.map { $0.wait() }
        XCTAssertEqual(together.map(\.tokens), alone)
        XCTAssertTrue(together.allSatisfy { $0.outcome?.reason == .length && $0.outcome?.timings.generatedTokens == 8 })
        XCTAssertEqual(Set(together.compactMap { $0.outcome?.slot }).count, 4, "each request ran in its own slot")
    }

    func testSeededSamplingIsPerSlotAndReproducible() throws {
        let (scheduler, tokenizer) = try makeScheduler()
        var p = SamplingParameters()
        p.temperature = 1.0
        p.seed = 1234
        let prompt = tokenizer.encode("Once upon a time", addBOS: true, parseSpecial: false)
        let first = try run(scheduler, prompt, maxTokens: 8, sampling: p).tokens
        let collectors = (0..<3).map { _ in Collector() }
        for c in collectors { try scheduler.submit(GenerationRequest(prompt: prompt, maxTokens: 8, sampling: p) { c.handle($0) }) }
        for c in collectors { XCTAssertEqual(c.wait().tokens, first) }
    }

    func testPrefixReuse() throws {
        let (scheduler, tokenizer) = try makeScheduler()
        let prompt = tokenizer.encode("The capital of France is a city with a long history and", addBOS: true, parseSpecial: false)
        let first = try run(scheduler, prompt, maxTokens: 4)
        XCTAssertEqual(first.outcome?.cachedTokens, 0)
        XCTAssertEqual(first.outcome?.timings.promptTokens, prompt.count)
        let second = try run(scheduler, prompt, maxTokens: 4)
        XCTAssertEqual(second.outcome?.cachedTokens, prompt.count - 1)
        XCTAssertEqual(second.outcome?.timings.promptTokens, 1)
        XCTAssertEqual(second.tokens, first.tokens, "reused cache gives the same continuation")
        let extended = try run(scheduler, prompt + first.tokens, maxTokens: 2)
        XCTAssertEqual(extended.outcome?.cachedTokens, prompt.count + first.tokens.count - 1)
    }

    func testStopStringEndsGenerationAndIsNotEmitted() throws {
        let (scheduler, tokenizer) = try makeScheduler()
        let prompt = tokenizer.encode("Once upon a time, there was a little robot who", addBOS: true, parseSpecial: false)
        let full = try run(scheduler, prompt, maxTokens: 24).text
        let chars = Array(full)
        guard chars.count > 12 else { return XCTFail("too little text: \(full.debugDescription)") }
        let stop = String(chars[6..<10])
        let cut = try run(scheduler, prompt, maxTokens: 24, stops: [stop])
        let expected = String(full[..<full.range(of: stop)!.lowerBound])
        XCTAssertEqual(cut.text, expected)
        XCTAssertEqual(cut.outcome?.reason, .stopString(stop))
    }

    func testCancellationStopsWithinOneToken() throws {
        let (scheduler, tokenizer) = try makeScheduler()
        let flag = CancellationFlag()
        let collector = Collector(onText: { count in if count == 3 { flag.cancel() } })
        try scheduler.submit(GenerationRequest(prompt: tokenizer.encode("Hello", addBOS: true, parseSpecial: false), maxTokens: 200,
                                               sampling: greedy(), cancellation: flag) { collector.handle($0) })
        let state = collector.wait()
        XCTAssertEqual(state.outcome?.reason, .cancelled)
        XCTAssertLessThanOrEqual(state.outcome?.timings.generatedTokens ?? 99, 4)
        XCTAssertEqual(scheduler.metrics.requestsProcessing, 0)
    }

    func testContextFullAndMaxTokensZero() throws {
        let (scheduler, tokenizer) = try makeScheduler(context: 16)
        let prompt = tokenizer.encode("The capital of France is", addBOS: true, parseSpecial: false)
        let state = try run(scheduler, prompt, maxTokens: -1)
        XCTAssertEqual(state.outcome?.reason, .contextFull)
        XCTAssertEqual(prompt.count + (state.outcome?.timings.generatedTokens ?? 0), 17, "fills all 16 positions, the last sampled token has none")
        let zero = try run(scheduler, prompt, maxTokens: 0)
        XCTAssertEqual(zero.outcome?.reason, .length)
        XCTAssertEqual(zero.outcome?.timings.generatedTokens, 0)
        XCTAssertEqual(zero.text, "")
    }

    func testRefusals() throws {
        let (scheduler, _) = try makeScheduler(slots: 1, context: 16, queue: 0)
        let never: @Sendable (GenerationEvent) -> Void = { _ in }
        XCTAssertThrowsError(try scheduler.submit(GenerationRequest(prompt: [], maxTokens: 1, sampling: greedy(), onEvent: never))) {
            XCTAssertEqual($0 as? SchedulerError, .emptyPrompt)
        }
        XCTAssertThrowsError(try scheduler.submit(GenerationRequest(prompt: Array(repeating: 1, count: 17), maxTokens: 1, sampling: greedy(), onEvent: never))) {
            XCTAssertEqual($0 as? SchedulerError, .promptTooLong(tokens: 17, context: 16))
        }
        XCTAssertThrowsError(try scheduler.submit(GenerationRequest(prompt: [1, -1], maxTokens: 1, sampling: greedy(), onEvent: never))) {
            XCTAssertEqual($0 as? SchedulerError, .badToken(id: -1, vocabularySize: 128_256))
        }
        // The only slot stays busy: its first event holds the compute thread until the queue check is done
        // (on a fast machine a free-running 10-token answer could finish before the second submit).
        let long = Collector()
        let started = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        try scheduler.submit(GenerationRequest(prompt: [1, 2], maxTokens: 10, sampling: greedy()) { event in
            started.signal()
            release.wait()
            release.signal()
            long.handle(event)
        })
        started.wait()
        XCTAssertThrowsError(try scheduler.submit(GenerationRequest(prompt: [1, 2], maxTokens: 1, sampling: greedy(), onEvent: never))) {
            XCTAssertEqual($0 as? SchedulerError, .queueFull(capacity: 0))
        }
        release.signal()
        _ = long.wait()
    }
}
