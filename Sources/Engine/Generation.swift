import Grammar
import Model
import Sampling
import Tokenizer
#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock milliseconds, monotonic.
public func monotonicMilliseconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1_000_000
}

/// Counts and times of one generation, the fields llama.cpp clients read as `timings`.
public struct GenerationTimings: Sendable, Equatable {
    public var promptTokens = 0
    public var promptMilliseconds: Double = 0
    public var generatedTokens = 0
    public var generationMilliseconds: Double = 0
    public var promptTokensPerSecond: Double { promptMilliseconds > 0 ? Double(promptTokens) * 1000 / promptMilliseconds : 0 }
    public var generationTokensPerSecond: Double { generationMilliseconds > 0 ? Double(generatedTokens) * 1000 / generationMilliseconds : 0 }
    public init() {}
}

/// Why generation ended.
public enum StopReason: String, Sendable {
    case endOfGeneration = "stop"   // the model emitted an end-of-generation token
    case length                     // max tokens reached
    case contextFull = "context"    // no room left in the context
    case cancelled                  // the caller asked to stop
}

/// One generated token as the caller sees it.
public struct GeneratedToken {
    public let id: Int
    /// Text completed by this token (complete UTF-8 only; may be empty while a character is split).
    public let text: String
    /// The logits this token was sampled from (valid only during the callback).
    public let logits: UnsafeBufferPointer<Float>
}

/// Runs prompt → prefill → decode for one sequence of an `InferenceContext`.
public final class Generator {
    public let context: InferenceContext
    public let tokenizer: Tokenizer
    /// Tokens currently in the cache for each sequence, to reuse a common prefix between requests.
    private var cached: [[Int]]
    /// The vocabulary for grammar masks, built at the first constrained generation.
    private var pieces: TokenPieces?
    /// Context shift (llama.cpp's --context-shift, --keep): when the cache fills during generation, keep the
    /// first `contextShiftKeep` prompt tokens (plus BOS where the model adds one; negative: the whole prompt),
    /// drop half of the rest and go on. nil: generation ends with `.contextFull`.
    public var contextShiftKeep: Int?
    /// The context shifts of the last `generate` call: how many, and tokens dropped in all.
    public private(set) var lastShifts = (count: 0, dropped: 0, kept: 0)

    public init(context: InferenceContext, tokenizer: Tokenizer) {
        self.context = context
        self.tokenizer = tokenizer
        cached = Array(repeating: [], count: context.cache.sequenceCount)
    }

    /// Evaluates `prompt` (reusing the cached common prefix), then samples up to `maxTokens` tokens
    /// (negative: until end of generation or a full context). `onPromptLogits`, when given, sees the logits
    /// at every evaluated prompt position (position, logits); `onToken` returns false to stop. With a
    /// `grammar`, every token keeps the output within it (GrammarConstraint; its errors are thrown).
    @discardableResult
    public func generate(prompt: [Int], maxTokens: Int, sampling: SamplingParameters, grammar: Grammar? = nil, sequence: Int = 0,
                         onPromptProgress: ((Int, Int) -> Void)? = nil,
                         onPromptLogits: ((Int, UnsafeBufferPointer<Float>) -> Void)? = nil,
                         onToken: (GeneratedToken) -> Bool) throws -> (StopReason, GenerationTimings) {
        var timings = GenerationTimings()
        let ctx = context.contextLength
        guard !prompt.isEmpty else { throw ModelError.badHyperParameter(key: "prompt", reason: "the prompt is empty") }
        guard prompt.count <= ctx else { throw ModelError.contextTooLong(prompt: prompt.count, context: ctx) }

        // Reuse what the cache already holds for this sequence (at least one token must be evaluated to get logits).
        var reuse = 0
        let previous = cached[sequence]
        while reuse < min(previous.count, prompt.count - 1) && previous[reuse] == prompt[reuse] { reuse += 1 }
        cached[sequence] = Array(prompt[..<reuse])

        let start = monotonicMilliseconds()
        var logits = UnsafeBufferPointer<Float>(start: nil, count: 0)
        var position = reuse
        while position < prompt.count {
            let end = min(prompt.count, position + context.maxBatch)
            let batch = (position..<end).map {
                BatchEntry(token: prompt[$0], position: $0, sequence: sequence,
                           wantsLogits: onPromptLogits != nil || $0 == prompt.count - 1)
            }
            let rows = try context.forward(batch)
            if let onPromptLogits {
                // One row of logits per position, in batch order; the last row is what sampling starts from.
                let vocabulary = rows.count / batch.count
                for (row, entry) in batch.enumerated() {
                    onPromptLogits(entry.position, UnsafeBufferPointer(rebasing: rows[(row * vocabulary)..<((row + 1) * vocabulary)]))
                }
                logits = UnsafeBufferPointer(rebasing: rows[((batch.count - 1) * vocabulary)...])
            } else {
                logits = rows
            }
            cached[sequence].append(contentsOf: prompt[position..<end])
            position = end
            onPromptProgress?(position, prompt.count)
        }
        timings.promptTokens = prompt.count - reuse
        timings.promptMilliseconds = monotonicMilliseconds() - start

        var chain = SamplerChain(sampling)
        var constraint: GrammarConstraint?
        if let grammar {
            let pieces = self.pieces ?? TokenPieces(tokenizer: tokenizer)
            self.pieces = pieces
            constraint = GrammarConstraint(grammar: grammar, pieces: pieces, tokenizer: tokenizer)
        }
        var history = prompt
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        let decodeStart = monotonicMilliseconds()
        defer { timings.generationMilliseconds = monotonicMilliseconds() - decodeStart }
        var reason = StopReason.length
        lastShifts = (0, 0, 0)
        while maxTokens < 0 || timings.generatedTokens < maxTokens {
            let id: Int
            if var c = constraint {
                id = try c.sample(&chain, logits: logits, history: history[...])
                try c.commit(id)
                constraint = c
            } else {
                id = chain.sample(logits: logits, history: history[...])
            }
            timings.generatedTokens += 1
            history.append(id)
            if tokenizer.isEndOfGeneration(id) {
                _ = onToken(GeneratedToken(id: id, text: decoder.finish(), logits: logits))
                reason = .endOfGeneration
                break
            }
            let text = decoder.append(id)
            if !onToken(GeneratedToken(id: id, text: text, logits: logits)) { reason = .cancelled; break }
            if maxTokens >= 0 && timings.generatedTokens >= maxTokens { reason = .length; break }
            // As llama.cpp, the last position stays free: a token is evaluated while one more would fit.
            if cached[sequence].count + 1 >= ctx {
                guard try shiftContext(sequence: sequence, promptCount: prompt.count) else { reason = .contextFull; break }
            }
            logits = try context.forward([BatchEntry(token: id, position: cached[sequence].count, sequence: sequence, wantsLogits: true)])
            cached[sequence].append(id)
        }
        let tail = decoder.finish()
        if !tail.isEmpty && reason != .endOfGeneration {
            _ = onToken(GeneratedToken(id: -1, text: tail, logits: UnsafeBufferPointer(start: nil, count: 0)))
        }
        timings.generationMilliseconds = monotonicMilliseconds() - decodeStart
        return (reason, timings)
    }

    /// Makes room in a full sequence as llama.cpp's context shift does (keep n_keep, discard half of the rest);
    /// false when context shift is off or nothing can be dropped.
    private func shiftContext(sequence: Int, promptCount: Int) throws -> Bool {
        guard let setting = contextShiftKeep else { return false }
        let filled = cached[sequence].count
        let keep = setting < 0 || setting > promptCount ? promptCount : min(promptCount, setting + (tokenizer.addBOS ? 1 : 0))
        let discard = (filled - keep) / 2
        guard discard > 0 else { return false }
        try context.shift(sequence: sequence, keep: keep, discard: discard, count: filled)
        cached[sequence].removeSubrange(keep..<(keep + discard))
        lastShifts = (lastShifts.count + 1, lastShifts.dropped + discard, keep)
        return true
    }
}
