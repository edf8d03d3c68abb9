import Grammar
import Sampling
import Synchronization

/// Set by whoever waits for a generation (the HTTP connection) when it no longer wants it; the scheduler
/// checks it before every step, so generation stops within one token.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func cancel() { flag.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// Why a scheduled generation ended.
public enum FinishReason: Sendable, Equatable {
    case endOfGeneration          // the model emitted an end-of-generation token
    case stopString(String)       // a stop string matched (it is not part of the output)
    case length                   // max tokens reached
    case contextFull              // the slot's context has no room for another token
    case cancelled                // the requester went away
}

/// The end of one generation: why, counts and times, and which slot ran it.
public struct GenerationOutcome: Sendable {
    public var reason: FinishReason
    public var timings: GenerationTimings
    /// Prompt tokens whose keys and values were reused from the slot's cache (not evaluated again).
    public var cachedTokens: Int
    public var slot: Int
    public init(reason: FinishReason, timings: GenerationTimings, cachedTokens: Int, slot: Int) {
        self.reason = reason
        self.timings = timings
        self.cachedTokens = cachedTokens
        self.slot = slot
    }
}

/// What a generation reports to its requester, in order, from the compute thread.
public enum GenerationEvent: Sendable {
    /// Prompt evaluation moved on: `processed` of `total` prompt tokens are in the cache.
    case promptProgress(processed: Int, total: Int)
    /// Newly completed output text (complete UTF-8, stop strings held back) and the tokens it came from.
    case text(String, tokens: [Int])
    /// A sampled token's log-probabilities (only when the request asked), before that step's `.text`.
    case logprobs(TokenLogprobs)
    /// The last event of a successful (or cancelled) generation.
    case finished(GenerationOutcome)
    /// The last event when the engine failed (the message is for the client).
    case failed(String)
}

/// One request for the scheduler: a tokenized prompt and how to continue it.
public struct GenerationRequest: Sendable {
    public var prompt: [Int]
    /// Tokens to generate at most; negative: until end of generation or a full context.
    public var maxTokens: Int
    public var sampling: SamplingParameters
    public var stopStrings: [String]
    /// When set, every sampled token keeps the output within this grammar (see GrammarConstraint).
    public var grammar: Grammar?
    /// With `grammar`: it applies only from this trigger on (tool calls under `tool_choice: auto`).
    public var grammarTrigger: GrammarTrigger?
    /// Control tokens other than end of generation come out as their text (Llama 3.1's `<|python_tag|>`
    /// starts a built-in tool call).
    public var showsControlTokens = false
    /// When set, each sampled token's log-probability and this many alternatives come as `.logprobs` events.
    public var logprobs: Int?
    public let cancellation: CancellationFlag
    /// Called on the scheduler's thread; must return quickly (hand the work to another thread).
    public let onEvent: @Sendable (GenerationEvent) -> Void

    public init(prompt: [Int], maxTokens: Int, sampling: SamplingParameters, stopStrings: [String] = [],
                grammar: Grammar? = nil, grammarTrigger: GrammarTrigger? = nil, logprobs: Int? = nil, showsControlTokens: Bool = false, cancellation: CancellationFlag = CancellationFlag(),
                onEvent: @escaping @Sendable (GenerationEvent) -> Void) {
        self.prompt = prompt
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopStrings = stopStrings
        self.grammar = grammar
        self.grammarTrigger = grammarTrigger
        self.showsControlTokens = showsControlTokens
        self.logprobs = logprobs
        self.cancellation = cancellation
        self.onEvent = onEvent
    }
}

/// Why the scheduler refused a request before running it.
public enum SchedulerError: Error, Equatable, Sendable, CustomStringConvertible {
    case queueFull(capacity: Int)
    case emptyPrompt
    case promptTooLong(tokens: Int, context: Int)
    case badToken(id: Int, vocabularySize: Int)
    case stopped

    public var description: String {
        switch self {
        case .queueFull(let c): return "the server is busy: all slots are in use and \(c) requests are already waiting"
        case .emptyPrompt: return "the prompt is empty"
        case .promptTooLong(let t, let c): return "the prompt has \(t) tokens but the context of a slot holds \(c)"
        case .badToken(let id, let n): return "token id \(id) is outside the vocabulary (0..<\(n))"
        case .stopped: return "the server is shutting down"
        }
    }
}

/// Counters for /metrics and /props, a consistent snapshot.
public struct SchedulerMetrics: Sendable, Equatable {
    public var promptTokensTotal = 0
    public var promptMillisecondsTotal: Double = 0
    public var generatedTokensTotal = 0
    public var generationMillisecondsTotal: Double = 0
    public var forwardCallsTotal = 0
    public var requestsFinishedTotal = 0
    /// Tokens sampled for a request whose requester had already gone (its cancellation flag was set):
    /// a forward pass in flight when the client disconnects yields one; more would mean wasted work.
    public var tokensAfterCancelTotal = 0
    public var requestsProcessing = 0
    public var requestsWaiting = 0
    public init() {}
}

/// How an embedding is made of a sequence's hidden states (llama.cpp's pooling types; `none`, per-token
/// vectors, is not offered: OpenAI's API has one vector per input).
public enum Pooling: String, Sendable, CaseIterable {
    case mean, cls, last

    /// From GGUF `{arch}.pooling_type` (0 none, 1 mean, 2 cls, 3 last); nil for none, rank or unknown.
    public init?(ggufValue: Int) {
        switch ggufValue {
        case 1: self = .mean
        case 2: self = .cls
        case 3: self = .last
        default: return nil
        }
    }
}
