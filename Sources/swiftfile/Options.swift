import ArgumentParser
import Model
import Sampling

/// The runner's flags, spelled the llama.cpp / llamafile way (single-dash multi-letter names included).
struct RunnerOptions: ParsableCommand {
    /// Usage lines name the program as it was invoked (a bundle's own name, or swiftfile).
    static var configuration: CommandConfiguration { CommandConfiguration(commandName: invokedName) }

    @Option(name: [.customShort("m"), .customLong("model")], help: "Weights: a GGUF, a llamafile/zip (its single .gguf), or ARCHIVE@MEMBER. Default: the weights inside this executable.")
    var model: String?

    @Option(name: [.customShort("p"), .customLong("prompt")], help: "Complete this text on stdout, then exit.")
    var prompt: String?

    @Option(name: [.customShort("f"), .customLong("file")], help: "Read the prompt from a file (/dev/stdin works).")
    var file: String?

    // `.unconditional` so that `-n -1` (llama.cpp's "until the end") is a value, not an unknown flag.
    @Option(name: [.customShort("n"), .customLong("n-predict")], parsing: .unconditional, help: "Tokens to generate (-1: until end of generation or a full context).")
    var nPredict: Int = -1

    @Option(name: [.customShort("c"), .customLong("ctx-size")], help: "Context size in tokens (0: the model's trained length; default min(8192, trained)).")
    var contextSize: Int?

    @Flag(name: .customLong("context-shift"), inversion: .prefixedNo,
          help: "When the context fills during -p or --chat generation, keep the first --keep tokens, drop half of the rest and go on (default: stop).")
    var contextShift = false

    @Option(name: .customLong("keep"), parsing: .unconditional, help: "Prompt tokens a context shift keeps, BOS aside (-1: the whole prompt).")
    var keep: Int = 0

    /// Generator.contextShiftKeep for these flags.
    var contextShiftKeep: Int? { contextShift ? keep : nil }

    @Option(name: [.customShort("t"), .customLong("threads")], help: "Threads for generation (default: physical cores).")
    var threads: Int?

    @Option(name: [.customLong("tb", withSingleDash: true), .customLong("threads-batch")], help: "Threads for prompt processing (default: same as --threads).")
    var threadsBatch: Int?

    @Option(name: [.customShort("b"), .customLong("batch-size")], help: "Prompt tokens evaluated per batch.")
    var batchSize: Int = 512

    @Option(name: [.customLong("ctk", withSingleDash: true), .customLong("cache-type-k")], help: "KV cache type for keys: f16 (default), f32, q8_0 or q4_0.")
    var cacheTypeK: String = "f16"

    @Option(name: [.customLong("ctv", withSingleDash: true), .customLong("cache-type-v")], help: "KV cache type for values: f16 (default), f32, q8_0 or q4_0.")
    var cacheTypeV: String = "f16"

    /// The KV cache's key and value types (validated: both flags name supported types).
    var cacheFormat: KVCache.Format {
        KVCache.Format(keys: KVCache.ElementType(rawValue: cacheTypeK.lowercased()) ?? .f16,
                       values: KVCache.ElementType(rawValue: cacheTypeV.lowercased()) ?? .f16)
    }

    @OptionGroup(title: "GPU offload") var gpuOptions: GPUOptions

    @Option(name: .customLong("temp"), help: "Temperature (0: greedy).")
    var temperature: Float = 0.8

    @Option(name: .customLong("top-k"), help: "Top-k (0: off).")
    var topK: Int = 40

    @Option(name: .customLong("top-p"), help: "Top-p (1: off).")
    var topP: Float = 0.95

    @Option(name: .customLong("min-p"), help: "Min-p (0: off).")
    var minP: Float = 0.05

    @Option(name: .customLong("repeat-penalty")) var repeatPenalty: Float = 1.0
    @Option(name: .customLong("repeat-last-n"), parsing: .unconditional) var repeatLastN: Int = 64
    @Option(name: .customLong("presence-penalty")) var presencePenalty: Float = 0
    @Option(name: .customLong("frequency-penalty")) var frequencyPenalty: Float = 0

    @Option(name: [.customShort("s"), .customLong("seed")], parsing: .unconditional, help: "Random seed (-1: random).")
    var seed: Int64 = -1

    @Flag(name: .customLong("chat"), help: "Terminal chat.") var chat = false
    @Flag(name: .customLong("server"), help: "HTTP server with the web UI, without opening a browser.") var server = false
    @Flag(name: .customLong("cli"), help: "Force command-line completion.") var cli = false
    @Option(name: .customLong("host")) var host: String = "127.0.0.1"
    @Option(name: .customLong("port")) var port: Int = 8080
    @Option(name: .customLong("api-key")) var apiKey: String?
    @Flag(name: .customLong("nobrowser")) var noBrowser = false

    @Flag(name: .customLong("unsecure"), help: "Do not confine the process (seccomp, Landlock) once the model is loaded.")
    var unsecure = false
    @Flag(name: .customLong("log-disable"), help: "No timings or notes on stderr.") var logDisable = false
    @Flag(name: .customLong("no-repack"), help: "Use the weights in place in the mapping instead of copying them at load (interleaved where the format has a layout, on 2 MiB pages): slower, less start-up work, pages shared with other processes.") var noRepack = false
    @Flag(name: .customLong("version"), help: "Print the version and the kernels this CPU gets, then exit.") var version = false
    @Flag(name: .customLong("verbose")) var verbose = false
    @Flag(name: .customLong("no-display-prompt"), help: "Do not echo the prompt before the completion.") var noDisplayPrompt = false
    @Flag(name: .customLong("info"), help: "Print the model's architecture, hyper-parameters and tensors, then exit.") var info = false
    @OptionGroup(title: "Server") var serverOptions: ServerOptions

    @OptionGroup(title: "Constrained output") var constraintOptions: ConstraintOptions

    @Option(name: .customLong("top-logits"), help: "Print JSON lines with the K largest logits of every step instead of text.")
    var topLogits: Int?

    @Flag(name: .customLong("prompt-logits"), help: "With --top-logits: also print the top logits at every prompt position.")
    var promptLogits = false

    mutating func validate() throws {
        guard nPredict >= -1 else { throw ValidationError("-n/--n-predict must be -1 or more, got \(nPredict)") }
        if let c = contextSize, c < 0 || c > 1 << 24 { throw ValidationError("-c/--ctx-size must be between 0 and 16777216, got \(c)") }
        if let t = threads, t < 1 || t > 1024 { throw ValidationError("-t/--threads must be between 1 and 1024, got \(t)") }
        if let t = threadsBatch, t < 1 || t > 1024 { throw ValidationError("-tb/--threads-batch must be between 1 and 1024, got \(t)") }
        guard keep >= -1 else { throw ValidationError("--keep must be -1 or more, got \(keep)") }
        guard (1...65536).contains(batchSize) else { throw ValidationError("-b/--batch-size must be between 1 and 65536, got \(batchSize)") }
        let cacheTypes = KVCache.ElementType.allCases.map(\.rawValue)
        for (flag, value) in [("-ctk", cacheTypeK), ("-ctv", cacheTypeV)] where !cacheTypes.contains(value.lowercased()) {
            throw ValidationError("\(flag): unsupported KV cache type '\(value)' (supported: \(cacheTypes.joined(separator: ", ")))")
        }
        guard temperature.isFinite, temperature >= 0 else { throw ValidationError("--temp must be a number ≥ 0") }
        guard topP.isFinite, (0...1).contains(topP) else { throw ValidationError("--top-p must be between 0 and 1") }
        guard minP.isFinite, (0...1).contains(minP) else { throw ValidationError("--min-p must be between 0 and 1") }
        guard repeatPenalty.isFinite, repeatPenalty > 0 else { throw ValidationError("--repeat-penalty must be > 0") }
        guard presencePenalty.isFinite, frequencyPenalty.isFinite else { throw ValidationError("penalties must be finite numbers") }
        if let k = topLogits, k < 1 || k > 1_000_000 { throw ValidationError("--top-logits must be between 1 and 1000000") }
        if promptLogits && topLogits == nil { throw ValidationError("--prompt-logits needs --top-logits K") }
        if prompt != nil && file != nil { throw ValidationError("give either -p or -f, not both") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
    }
}

extension RunnerOptions {
    var gpuRequest: GPURequest { gpuOptions.checkedRequest }

    /// The sampling flags as the sampler chain's settings (a negative seed means random).
    var samplingParameters: SamplingParameters {
        var sampling = SamplingParameters()
        sampling.temperature = temperature
        sampling.topK = topK
        sampling.topP = topP
        sampling.minP = minP
        sampling.repeatPenalty = repeatPenalty
        sampling.repeatLastN = repeatLastN
        sampling.presencePenalty = presencePenalty
        sampling.frequencyPenalty = frequencyPenalty
        sampling.seed = seed < 0 ? nil : UInt64(seed)
        return sampling
    }
}

/// The basename of the path this process was started as.
var invokedName: String {
    let path = CommandLine.arguments.first ?? "swiftfile"
    return path.split(separator: "/").last.map(String.init) ?? "swiftfile"
}
