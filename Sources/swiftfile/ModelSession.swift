import Chat
import Engine
import GGUF
import Model
import Tensors
import Tokenizer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One setup path for every mode (completion, terminal chat, server, bench): from the resolved and parsed
/// weights (Runner.load) to the tokenizer, the hyper-parameters, the chat template and the inference context
/// sized for the mode's sequences. Modes differ only in the sizing they ask for.
struct ModelSession {
    let weights: LoadedWeights
    let tokenizer: Tokenizer
    let hyper: HyperParameters
    let inference: InferenceContext

    /// What a mode asks of the inference context.
    struct Sizing {
        /// Positions for all sequences together (-c): nil is min(8192, trained), 0 is the trained length.
        var totalContext: Int?
        var sequences = 1
        var maxBatch: Int
        var threads: Int?
        var threadsBatch: Int?
        var cacheFormat: KVCache.Format = .f16
        var gpu: GPURequest = .cpuOnly
        var interleave = true

        /// The runner's flags (-c, -b, -t, -tb, -ctk/-ctv, -ngl/--gpu, --no-repack) for `sequences` slots.
        init(_ options: RunnerOptions, sequences: Int = 1) {
            totalContext = options.contextSize
            self.sequences = max(1, sequences)
            maxBatch = max(options.batchSize, self.sequences)
            threads = options.threads
            threadsBatch = options.threadsBatch
            cacheFormat = options.cacheFormat
            gpu = options.gpuRequest
            interleave = !options.noRepack
        }

        init(totalContext: Int, maxBatch: Int, threads: Int?, gpu: GPURequest, interleave: Bool) {
            self.totalContext = totalContext
            self.maxBatch = maxBatch
            self.threads = threads
            self.gpu = gpu
            self.interleave = interleave
        }
    }

    /// Positions per sequence.
    var contextLength: Int { inference.contextLength }

    static func open(_ weights: LoadedWeights, _ sizing: Sizing, note: (String) -> Void) throws -> ModelSession {
        let tokenizer = try Tokenizer(gguf: weights.gguf)
        let hyper = try HyperParameters(gguf: weights.gguf)
        var total = sizing.totalContext ?? min(8192, hyper.contextLength)
        if total == 0 { total = hyper.contextLength }
        let perSequence = max(1, total / sizing.sequences)
        if perSequence > hyper.contextLength {
            note("context \(perSequence) exceeds the model's trained length \(hyper.contextLength); quality may degrade")
        }
        if let why = sizing.cacheFormat.unsupportedReason(headDimension: hyper.headDimension) { throw RunnerError(why) }
        let threads = sizing.threads ?? physicalCoreCount()
        // The host holds the cache of the layers that stay on the CPU (a GPU holds its layers'), checked
        // once it is known which those are.
        let inference = try GPUSetup.inference(request: sizing.gpu, weights: weights, interleave: sizing.interleave,
                                               contextLength: perSequence, sequences: sizing.sequences, maxBatch: sizing.maxBatch,
                                               threads: max(threads, sizing.threadsBatch ?? threads), cacheFormat: sizing.cacheFormat,
                                               note: note) { cpuLayers in
            try checkCacheFits(hyper, total: total, perSequence: perSequence, sequences: sizing.sequences,
                               cacheFormat: sizing.cacheFormat, layers: cpuLayers)
        }
        return ModelSession(weights: weights, tokenizer: tokenizer, hyper: hyper, inference: inference)
    }

    /// The KV cache is allocated up front but touched as positions fill, so a context that can never fit would
    /// start fine and fail hours later: refuse it now, with the numbers.
    /// `layers`: those whose cache the host keeps (the first ones; a GPU keeps the others').
    static func checkCacheFits(_ hyper: HyperParameters, total: Int, perSequence: Int, sequences: Int,
                               cacheFormat: KVCache.Format, layers: Int) throws {
        if let why = cacheFormat.unsupportedReason(headDimension: hyper.headDimension) { throw RunnerError(why) }
        let memory = physicalMemoryBytes()
        let bytes = KVCache.byteCount(layers: layers, sequences: sequences, contextLength: perSequence,
                                      kvDimension: hyper.kvDimension, format: cacheFormat)
        if let bytes, memory.map({ bytes <= $0 }) ?? true { return }
        let perToken = max(1, cacheFormat.bytesPerToken(layers: layers, kvDimension: hyper.kvDimension) ?? Int.max)
        let fits = memory.map { String($0 / max(1, perToken)) } ?? "?"
        let which = layers < hyper.blockCount ? "the KV cache of the \(layers) layers on the CPU" : "the KV cache"
        throw RunnerError("-c \(total): \(which) would take \(bytes.map(formatBytes) ?? "more than 2^63 bytes") "
            + "(\(formatBytes(perToken)) per token, \(cacheFormat)), more than this machine's "
            + "\(memory.map(formatBytes) ?? "?") of memory; at most about \(fits) tokens fit")
    }

    /// Bytes of physical memory (nil where the system does not say).
    static func physicalMemoryBytes() -> Int? {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return nil }
        let (bytes, overflow) = pages.multipliedReportingOverflow(by: size)
        return overflow ? nil : bytes
    }

    /// --chat-template NAME|FILE, else the model's own template, else a built-in guessed from its tokens.
    func chatTemplate(_ options: RunnerOptions, note: (String) -> Void) throws -> ChatTemplate {
        if let choice = options.serverOptions.chatTemplate {
            if let builtin = ChatTemplate.builtin(choice) { return builtin }
            let source = try Completion.readText(choice)
            do { return try ChatTemplate(source: source) } catch {
                throw RunnerError("chat template \(choice): \(error) (built-in names: \(ChatTemplate.builtinNames.joined(separator: ", ")))")
            }
        }
        // A file without a template: the format its marker tokens belong to.
        let fallbackName = tokenizer.tokenId(forText: "<|start_header_id|>") != nil ? "llama3"
            : tokenizer.tokenId(forText: "<start_of_turn>") != nil ? "gemma" : "chatml"
        if let source = (try? weights.gguf.string("tokenizer.chat_template")) ?? nil {
            do { return try ChatTemplate(source: source) } catch {
                let name = ChatTemplate.detectBuiltinName(source: source) ?? fallbackName
                note("the model's chat template cannot be used (\(error)); using the built-in \(name) format")
                if let builtin = ChatTemplate.builtin(name) { return builtin }
            }
        }
        guard let builtin = ChatTemplate.builtin(fallbackName) else { throw RunnerError("no built-in chat template \(fallbackName)") }
        return builtin
    }
}
