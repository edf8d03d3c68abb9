import Model
import Sampling
import Synchronization
import Tokenizer
#if canImport(Glibc)
import Glibc
#endif

/// Runs many generations at once on one `InferenceContext`: one dedicated compute thread owns the context;
/// every step builds one batch with a decode entry per generating slot plus a chunk of prompt tokens for slots
/// still prefilling, calls `forward` once, and samples each slot with its own chain.
///
/// Requests wait in a bounded queue until a slot is free. A free slot is chosen by the longest common prefix
/// of its cached tokens with the new prompt, and those tokens are not evaluated again.
public final class Scheduler: @unchecked Sendable {
    public let context: InferenceContext
    public let tokenizer: Tokenizer
    public let slotCount: Int
    public let queueCapacity: Int
    /// Most prompt tokens evaluated in a step while other slots are decoding (keeps their token rate steady).
    public let prefillChunkWhileDecoding: Int

    private let lock = SchedulerLock()
    // Guarded by `lock`.
    private var queue: [GenerationRequest] = []
    private var stopping = false
    /// Set by endRunningGenerations: the compute loop finishes every active slot with `.length`.
    private var endRunning = false
    /// Work for the compute thread between two steps (performOnComputeThread).
    private var computeTasks: [@Sendable () -> Void] = []
    private var counters = SchedulerMetrics()
    // Compute thread only.
    private var slots: [Slot]
    private var useClock: UInt64 = 0
    /// The vocabulary for grammar masks, built at the first constrained request.
    private var pieces: TokenPieces?

    public init(context: InferenceContext, tokenizer: Tokenizer, queueCapacity: Int = 32, prefillChunkWhileDecoding: Int = 128) {
        self.context = context
        self.tokenizer = tokenizer
        slotCount = context.cache.sequenceCount
        self.queueCapacity = max(0, queueCapacity)
        self.prefillChunkWhileDecoding = max(1, prefillChunkWhileDecoding)
        slots = (0..<context.cache.sequenceCount).map { Slot(index: $0) }
    }

    /// Starts the compute thread.
    public func start() {
        startThread { [self] in run() }
    }

    /// Ends the compute thread after the current step; running and queued requests finish as cancelled.
    public func stop() {
        lock.withLock { stopping = true; lock.signal() }
    }

    /// Runs `body` on the compute thread between two steps and returns when it has run (for what must happen on
    /// that very thread, such as restricting it; the thread pool's workers are reachable from there).
    public func performOnComputeThread(_ body: @escaping @Sendable () -> Void) {
        final class Done: Sendable { let flag = Atomic<Bool>(false) }
        let done = Done()
        lock.withLock {
            computeTasks.append { body(); done.flag.store(true, ordering: .releasing) }
            lock.signal()
        }
        while !done.flag.load(ordering: .acquiring) { usleep(1000) }
    }

    /// Ends every running generation after the current step as if its token limit were reached (a shutdown
    /// whose grace period ran out: clients still get a finish reason and the end of the stream).
    public func endRunningGenerations() {
        lock.withLock { endRunning = true; lock.signal() }
    }

    /// Queues a request. Throws when it can never run or the queue is full; otherwise every outcome arrives
    /// through `request.onEvent`, ending with `.finished` or `.failed`.
    public func submit(_ request: GenerationRequest) throws(SchedulerError) {
        let vocabulary = context.model.hyper.vocabularySize
        guard !request.prompt.isEmpty else { throw .emptyPrompt }
        guard request.prompt.count <= context.contextLength else { throw .promptTooLong(tokens: request.prompt.count, context: context.contextLength) }
        if let bad = request.prompt.first(where: { !(0..<vocabulary).contains($0) }) { throw .badToken(id: bad, vocabularySize: vocabulary) }
        let error: SchedulerError? = lock.withLock {
            if stopping { return .stopped }
            // Waiting requests beyond the free slots count against the queue's capacity.
            let free = slotCount - counters.requestsProcessing
            if queue.count >= free + queueCapacity { return .queueFull(capacity: queueCapacity) }
            queue.append(request)
            counters.requestsWaiting = queue.count
            lock.signal()
            return nil
        }
        if let error { throw error }
    }

    /// A consistent snapshot of the counters.
    public var metrics: SchedulerMetrics { lock.withLock { counters } }

    // MARK: - Compute thread

    private func run() {
        while true {
            var admitted: [GenerationRequest] = []
            var quit = false
            lock.withLock {
                while !stopping && queue.isEmpty && computeTasks.isEmpty && !slots.contains(where: { $0.active != nil }) { lock.wait() }
                if stopping { quit = true; admitted = queue; queue.removeAll(); return }
                let free = slots.filter { $0.active == nil }.count
                admitted = Array(queue.prefix(free))
                queue.removeFirst(admitted.count)
                counters.requestsWaiting = queue.count
            }
            for task in lock.withLock({ () -> [@Sendable () -> Void] in defer { computeTasks.removeAll() }; return computeTasks }) { task() }
            if quit {
                for request in admitted { request.onEvent(.finished(GenerationOutcome(reason: .cancelled, timings: GenerationTimings(), cachedTokens: 0, slot: -1))) }
                for index in slots.indices where slots[index].active != nil { finish(index, .cancelled) }
                return
            }
            for request in admitted { admit(request) }
            for index in slots.indices where slots[index].active?.request.cancellation.isCancelled == true { finish(index, .cancelled) }
            if lock.withLock({ endRunning }) {
                for index in slots.indices where slots[index].active != nil { finish(index, .length) }
            }
            step()
        }
    }

    /// Puts a request into the free slot whose cache shares the longest prefix with its prompt.
    private func admit(_ request: GenerationRequest) {
        if request.cancellation.isCancelled {
            request.onEvent(.finished(GenerationOutcome(reason: .cancelled, timings: GenerationTimings(), cachedTokens: 0, slot: -1)))
            return
        }
        var best: (index: Int, shared: Int, lastUsed: UInt64)?
        for slot in slots where slot.active == nil {
            let shared = Self.commonPrefixLength(slot.cached, request.prompt, limit: request.prompt.count - 1)
            if best.map({ shared > $0.shared || (shared == $0.shared && slot.lastUsed < $0.lastUsed) }) ?? true {
                best = (slot.index, shared, slot.lastUsed)
            }
        }
        guard let best else { return }  // unreachable: admission takes no more requests than free slots
        slots[best.index].cached.removeLast(slots[best.index].cached.count - best.shared)
        if request.grammar != nil && pieces == nil { pieces = TokenPieces(tokenizer: tokenizer) }
        slots[best.index].active = ActiveGeneration(request: request, reused: best.shared, tokenizer: tokenizer,
                                                   pieces: pieces, start: monotonicMilliseconds())
        lock.withLock { counters.requestsProcessing += 1 }
    }

    static func commonPrefixLength(_ a: [Int], _ b: [Int], limit: Int) -> Int {
        var n = 0
        let end = min(a.count, b.count, max(0, limit))
        while n < end && a[n] == b[n] { n += 1 }
        return n
    }

    /// One batched forward pass over every active slot.
    private func step() {
        var batch: [BatchEntry] = []
        var rowOwners: [Int] = []                      // slot index per logits row, in row order
        var prefillChunks: [(slot: Int, count: Int)] = []
        for slot in slots {
            guard let active = slot.active, let token = active.pending, batch.count < context.maxBatch else { continue }
            batch.append(BatchEntry(token: token, position: slot.cached.count, sequence: slot.index, wantsLogits: true))
            rowOwners.append(slot.index)
        }
        var budget = context.maxBatch - batch.count
        if !batch.isEmpty { budget = min(budget, prefillChunkWhileDecoding) }
        // Oldest prefilling request first, so a long prompt cannot be overtaken forever.
        let prefilling = slots.filter { $0.active != nil && $0.active?.pending == nil }.sorted { ($0.active?.start ?? 0) < ($1.active?.start ?? 0) }
        for slot in prefilling where budget > 0 {
            guard let active = slot.active else { continue }
            let prompt = active.request.prompt
            let begin = slot.cached.count
            let count = min(budget, prompt.count - begin)
            guard count > 0 else { continue }
            for position in begin..<(begin + count) {
                let last = position == prompt.count - 1
                batch.append(BatchEntry(token: prompt[position], position: position, sequence: slot.index, wantsLogits: last))
                if last { rowOwners.append(slot.index) }
            }
            prefillChunks.append((slot.index, count))
            budget -= count
        }
        guard !batch.isEmpty else { return }

        let logits: UnsafeBufferPointer<Float>
        let epoch = context.cacheEpoch
        do {
            logits = try context.forward(batch)
        } catch {
            // A lost GPU takes every slot's cached keys and values with it, not only this batch's.
            let involved = context.cacheEpoch != epoch ? Set(slots.indices) : Set(batch.map(\.sequence))
            for index in involved {
                slots[index].cached.removeAll()
                guard let active = slots[index].active else { continue }
                active.request.onEvent(.failed("the engine failed: \(error)"))
                slots[index].active = nil
                lock.withLock { counters.requestsProcessing -= 1 }
            }
            return
        }

        // Bring each slot's cached tokens up to date before sampling.
        for index in rowOwners where slots[index].active?.pending != nil {
            if let token = slots[index].active?.pending { slots[index].cached.append(token) }
            slots[index].active?.pending = nil
        }
        var promptTokens = 0
        for (index, count) in prefillChunks {
            guard let active = slots[index].active else { continue }
            let begin = slots[index].cached.count
            slots[index].cached.append(contentsOf: active.request.prompt[begin..<(begin + count)])
            promptTokens += count
            active.request.onEvent(.promptProgress(processed: slots[index].cached.count, total: active.request.prompt.count))
        }

        let vocabulary = context.model.hyper.vocabularySize
        var generated = 0, generatedAfterCancel = 0
        for (row, index) in rowOwners.enumerated() {
            let rowLogits = UnsafeBufferPointer(rebasing: logits[(row * vocabulary)..<((row + 1) * vocabulary)])
            if var active = slots[index].active, active.generated == 0 {
                // First sample: the prompt is done.
                let now = monotonicMilliseconds()
                active.timings.promptMilliseconds = now - active.start
                active.decodeStart = now
                slots[index].active = active
            }
            generated += 1
            if slots[index].active?.request.cancellation.isCancelled == true { generatedAfterCancel += 1 }
            sampleAndEmit(index, logits: rowLogits)
        }
        lock.withLock {
            counters.forwardCallsTotal += 1
            counters.promptTokensTotal += promptTokens
            counters.generatedTokensTotal += generated
            counters.tokensAfterCancelTotal += generatedAfterCancel
        }
    }

    private func sampleAndEmit(_ index: Int, logits: UnsafeBufferPointer<Float>) {
        guard var active = slots[index].active else { return }
        if active.request.maxTokens == 0 {
            finish(index, .length)  // prompt evaluation only (llama.cpp's n_predict 0 caches a prompt)
            return
        }
        let id: Int
        if var constraint = active.constraint {
            do {
                id = try constraint.sample(&active.chain, logits: logits, history: active.history[...])
                try constraint.commit(id)
            } catch {
                fail(index, "constrained output: \(error)")
                return
            }
            active.constraint = constraint
        } else {
            id = active.chain.sample(logits: logits, history: active.history[...])
        }
        if let count = active.request.logprobs, !tokenizer.isEndOfGeneration(id) {
            active.request.onEvent(.logprobs(TokenLogprobs(logits: logits, chosen: id, count: count) {
                self.tokenizer.piece($0, includeSpecial: true)
            }))
        }
        active.generated += 1
        active.history.append(id)
        var reason: FinishReason?
        var text: String
        if tokenizer.isEndOfGeneration(id) {
            text = active.stops.push(active.decoder.finish()) + active.stops.flush()
            reason = .endOfGeneration
        } else {
            text = active.stops.push(active.decoder.append(id))
            if active.stops.matched == nil {
                if active.request.maxTokens >= 0 && active.generated >= active.request.maxTokens {
                    reason = .length
                } else if slots[index].cached.count >= context.contextLength {
                    reason = .contextFull  // no position left for this token's keys and values
                }
                if reason != nil { text += active.stops.push(active.decoder.finish()) + active.stops.flush() }
            }
        }
        if let stop = active.stops.matched { reason = .stopString(stop) }
        if !text.isEmpty { active.request.onEvent(.text(text, tokens: [id])) }
        if let reason {
            slots[index].active = active
            finish(index, reason)
        } else {
            active.pending = id
            slots[index].active = active
        }
    }

    // MARK: - Embeddings

    /// Embeds each token list (pooled, L2-normalised) on the compute thread, between generation steps, in a
    /// slot that is free (waiting for one when all generate); `onDone` runs on the compute thread.
    public func embed(_ inputs: [[Int]], pooling: Pooling, onDone: @escaping @Sendable (Result<[[Float]], Error>) -> Void) {
        lock.withLock {
            computeTasks.append { [self] in runEmbedding(inputs, pooling: pooling, onDone: onDone) }
            lock.signal()
        }
    }

    private func runEmbedding(_ inputs: [[Int]], pooling: Pooling, onDone: @escaping @Sendable (Result<[[Float]], Error>) -> Void) {
        guard let slot = slots.filter({ $0.active == nil }).min(by: { $0.lastUsed < $1.lastUsed })?.index else {
            let requeued = lock.withLock { () -> Bool in
                guard !stopping else { return false }
                computeTasks.append { [self] in runEmbedding(inputs, pooling: pooling, onDone: onDone) }
                return true
            }
            if !requeued { onDone(.failure(SchedulerError.stopped)) }
            return
        }
        let epoch = context.cacheEpoch
        slots[slot].cached.removeAll()  // its positions are about to be overwritten
        let width = context.model.hyper.embeddingLength
        var vectors: [[Float]] = []
        do {
            for input in inputs {
                guard !input.isEmpty else { throw SchedulerError.emptyPrompt }
                guard input.count <= context.contextLength else { throw SchedulerError.promptTooLong(tokens: input.count, context: context.contextLength) }
                var sum = [Double](repeating: 0, count: width)
                var position = 0
                while position < input.count {
                    let end = min(input.count, position + context.maxBatch)
                    let rows = try context.forward((position..<end).map {
                        BatchEntry(token: input[$0], position: $0, sequence: slot, wantsLogits: false)
                    }, hidden: true)
                    for (row, p) in (position..<end).enumerated() {
                        let take: Bool
                        switch pooling {
                        case .mean: take = true
                        case .cls: take = p == 0
                        case .last: take = p == input.count - 1
                        }
                        if take { for d in 0..<width { sum[d] += Double(rows[row * width + d]) } }
                    }
                    position = end
                }
                if pooling == .mean { for d in 0..<width { sum[d] /= Double(input.count) } }
                let norm = sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
                vectors.append(sum.map { Float(norm > 0 ? $0 / norm : 0) })
            }
            onDone(.success(vectors))
        } catch {
            onDone(.failure(error))
            if context.cacheEpoch != epoch {
                // A lost GPU took every slot's keys and values: the generations on them end as in `step`.
                for index in slots.indices {
                    slots[index].cached.removeAll()
                    guard let active = slots[index].active else { continue }
                    active.request.onEvent(.failed("the engine failed: \(error)"))
                    slots[index].active = nil
                    lock.withLock { counters.requestsProcessing -= 1 }
                }
            }
        }
        useClock += 1
        slots[slot].lastUsed = useClock
    }

    /// Ends the slot's generation with an error for its requester (the cache stays usable).
    private func fail(_ index: Int, _ message: String) {
        guard let active = slots[index].active else { return }
        useClock += 1
        slots[index].lastUsed = useClock
        slots[index].active = nil
        lock.withLock {
            counters.requestsProcessing -= 1
            counters.requestsFinishedTotal += 1
        }
        active.request.onEvent(.failed(message))
    }

    private func finish(_ index: Int, _ reason: FinishReason) {
        guard var active = slots[index].active else { return }
        let now = monotonicMilliseconds()
        if active.generated == 0 {
            active.timings.promptMilliseconds = now - active.start
        } else {
            active.timings.generationMilliseconds = now - active.decodeStart
        }
        active.timings.generatedTokens = active.generated
        active.timings.promptTokens = min(slots[index].cached.count, active.request.prompt.count) - active.reused
        useClock += 1
        slots[index].lastUsed = useClock
        slots[index].active = nil
        let timings = active.timings
        lock.withLock {
            counters.requestsProcessing -= 1
            counters.requestsFinishedTotal += 1
            counters.promptMillisecondsTotal += timings.promptMilliseconds
            counters.generationMillisecondsTotal += timings.generationMilliseconds
        }
        active.request.onEvent(.finished(GenerationOutcome(reason: reason, timings: timings, cachedTokens: active.reused, slot: index)))
    }
}

/// A sequence of the KV cache and the generation using it (if any).
struct Slot {
    let index: Int
    /// Tokens whose keys and values are in this sequence of the cache, in order.
    var cached: [Int] = []
    var lastUsed: UInt64 = 0
    var active: ActiveGeneration?
    init(index: Int) { self.index = index }
}

/// The per-request state of a slot that is prefilling or generating.
struct ActiveGeneration {
    let request: GenerationRequest
    let reused: Int
    let start: Double
    var decodeStart: Double = 0
    /// The last sampled token: its keys and values go into the cache with the next step.
    var pending: Int?
    var generated = 0
    var history: [Int]
    var chain: SamplerChain
    var constraint: GrammarConstraint?
    var decoder: StreamingDecoder
    var stops: StopStringMatcher
    var timings = GenerationTimings()

    init(request: GenerationRequest, reused: Int, tokenizer: Tokenizer, pieces: TokenPieces?, start: Double) {
        self.request = request
        self.reused = reused
        self.start = start
        history = request.prompt
        chain = SamplerChain(request.sampling)
        if let grammar = request.grammar, let pieces {
            constraint = GrammarConstraint(grammar: grammar, pieces: pieces, tokenizer: tokenizer, trigger: request.grammarTrigger)
        }
        decoder = StreamingDecoder(tokenizer: tokenizer, includeSpecial: request.showsControlTokens)
        stops = StopStringMatcher(request.stopStrings)
    }
}
