import Container
import Engine
import GGUF
import Model
import Sampling
import Tensors
import Tokenizer
#if canImport(Glibc)
import Glibc
#endif

/// `-p TEXT` / `-f FILE`: complete the prompt on stdout (or print logits as JSON lines with --top-logits).
/// At a full context generation stops with a note, or with --context-shift drops half of what follows the
/// first --keep tokens and goes on.
enum Completion {
    static func run(_ options: RunnerOptions, weights: LoadedWeights, note: (String) -> Void) throws -> Int32 {
        let loadStart = monotonicMilliseconds()
        let text: String
        if let file = options.file { text = try readText(file) } else { text = options.prompt ?? "" }

        let session = try ModelSession.open(weights, ModelSession.Sizing(options), note: note)
        let tokenizer = session.tokenizer, h = session.hyper, inference = session.inference, context = session.contextLength
        if options.verbose {
            note("KV cache: \(context) tokens × \(h.blockCount) layers × \(h.kvDimension) × (K, V) in \(inference.cache.format) = \(formatBytes(inference.cache.byteCount))")
        }
        let prompt = tokenizer.encode(text, addBOS: tokenizer.addBOS, parseSpecial: false)
        guard !prompt.isEmpty else { throw RunnerError("the prompt is empty (and this model adds no BOS token)") }
        guard prompt.count <= context else { throw ModelError.contextTooLong(prompt: prompt.count, context: context) }
        let loadMilliseconds = monotonicMilliseconds() - loadStart + weights.resolved.mapSeconds * 1000 + weights.parseMilliseconds

        let sampling = options.samplingParameters
        let grammar = try options.constraintOptions.load()

        let generator = Generator(context: inference, tokenizer: tokenizer)
        generator.contextShiftKeep = options.contextShiftKeep
        if !options.unsecure { Sandbox.enter(weights: weights.resolved.origin, pool: inference.pool, note: note) }
        let topK = options.topLogits
        if topK != nil {
            Output.out("{\"prompt\": [\(prompt.map(String.init).joined(separator: ", "))]}\n")
        } else if !options.noDisplayPrompt {
            Output.out(text)
        }
        // --prompt-logits: also the top logits at every prompt position (before the step lines).
        let onPromptLogits: ((Int, UnsafeBufferPointer<Float>) -> Void)? = topK.flatMap { k in
            options.promptLogits ? { position, logits in
                let top = topLogits(logits, k: k).map { "[\($0.0), \($0.1)]" }.joined(separator: ", ")
                Output.out("{\"pos\": \(position), \"top\": [\(top)]}\n")
            } : nil
        }
        let (reason, timings) = try generator.generate(prompt: prompt, maxTokens: options.nPredict, sampling: sampling,
                                                       grammar: grammar, onPromptLogits: onPromptLogits) { token in
            if let topK {
                guard token.id >= 0 else { return true }
                let top = topLogits(token.logits, k: topK).map { "[\($0.0), \($0.1)]" }.joined(separator: ", ")
                let piece = String(decoding: tokenizer.piece(token.id), as: UTF8.self)
                Output.out("{\"id\": \(token.id), \"piece\": \(jsonString(piece)), \"top\": [\(top)]}\n")
            } else {
                Output.out(token.text)
            }
            return true
        }
        if topK == nil { Output.out("\n") }
        if reason == .contextFull {
            note("stopped: the context of \(context) tokens is full (raise -c\(options.contextShift ? "" : ", or --context-shift to go on"))")
        }
        let shifts = generator.lastShifts
        if shifts.count > 0 {
            note("context shift: the context of \(context) tokens filled \(shifts.count) time\(shifts.count == 1 ? "" : "s"); "
                 + "kept the first \(shifts.kept) tokens each time and dropped \(shifts.dropped) after them in all")
        }
        if !options.logDisable {
            Output.err(String(format3: "load %.1f ms | prompt %d tokens %.1f ms (%.2f tok/s) | generated %d tokens %.1f ms (%.2f tok/s)\n",
                              loadMilliseconds, timings.promptTokens, timings.promptMilliseconds, timings.promptTokensPerSecond,
                              timings.generatedTokens, timings.generationMilliseconds, timings.generationTokensPerSecond))
        }
        return 0
    }

    /// The k largest logits, best first, ties to the lowest id.
    static func topLogits(_ logits: UnsafeBufferPointer<Float>, k: Int) -> [(Int, Float)] {
        var c = Candidates(logits: logits)
        c.sortDescending(keeping: k)
        return Array(zip(c.ids, c.logits))
    }

    static func readText(_ path: String) throws -> String {
        guard let file = fopen(path, "rb") else { throw RunnerError("cannot read prompt file \(path): \(String(cString: strerror(errno)))") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > 1 << 30 { throw RunnerError("prompt file \(path) is larger than 1 GiB") }
        }
        // Invalid UTF-8 becomes U+FFFD rather than an error: the prompt is text for the model.
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    /// printf-style formatting for the few numeric status lines (no Foundation needed).
    init(format3 format: String, _ args: CVarArg...) {
        var buffer = [CChar](repeating: 0, count: 512)
        _ = withVaList(args) { vsnprintf(&buffer, buffer.count, format, $0) }
        self = String(cString: buffer)
    }
}
