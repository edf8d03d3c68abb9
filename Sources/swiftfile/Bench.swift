import ArgumentParser
import Container
import Engine
import GGUF
import Grammar
import Model
import Sampling
import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// `swiftfile --bench`: llama-bench-style throughput tests (prompt processing ppN, text generation tgN).
struct BenchOptions: ParsableCommand {
    static var configuration: CommandConfiguration { CommandConfiguration(commandName: invokedName + " --bench") }

    @Flag(name: .customLong("bench")) var bench = false
    @Option(name: [.customShort("m"), .customLong("model")]) var model: String?
    @Option(name: [.customShort("p"), .customLong("n-prompt")], help: "Prompt tokens per pp test (0: skip).") var prompt: Int = 128
    @Option(name: [.customShort("n"), .customLong("n-gen")], help: "Generated tokens per tg test (0: skip).") var generate: Int = 32
    @Option(name: [.customShort("t"), .customLong("threads")]) var threads: Int?
    @Option(name: [.customShort("b"), .customLong("batch-size")]) var batch: Int = 512
    @Option(name: [.customShort("r"), .customLong("repetitions")]) var repetitions: Int = 3
    @Option(name: [.customShort("d"), .customLong("n-depth")], help: "Tokens already in the context before each test (llama-bench -d).") var depth: Int = 0
    @Option(name: [.customShort("o"), .customLong("output")], help: "md (table) or json.") var output: String = "md"
    @Flag(name: .customLong("no-repack"), help: "Weights in place (no copies at load).") var noRepack = false
    @OptionGroup(title: "GPU offload") var gpuOptions: GPUOptions
    /// With a grammar or schema: also sampled generation with and without it (the constraint's cost).
    @OptionGroup(title: "Constrained output") var constraintOptions: ConstraintOptions

    mutating func validate() throws {
        guard (0...65536).contains(prompt), (0...65536).contains(generate) else { throw ValidationError("-p and -n must be between 0 and 65536") }
        guard (0...1_048_576).contains(depth) else { throw ValidationError("-d must be between 0 and 1048576") }
        guard (1...1000).contains(repetitions) else { throw ValidationError("-r must be between 1 and 1000") }
        if let t = threads, !(1...1024).contains(t) { throw ValidationError("-t must be between 1 and 1024") }
        guard (1...65536).contains(batch) else { throw ValidationError("-b must be between 1 and 65536") }
        guard output == "md" || output == "json" else { throw ValidationError("-o must be md or json") }
    }
}

enum Bench {
    struct Result {
        var test: String, prompt: Int, generate: Int, samples: [Double]  // tokens/s per repetition
        var meanNanoseconds: Double, stddevNanoseconds: Double
    }

    static func run(_ o: BenchOptions) throws -> Int32 {
        let loadStart = monotonicMilliseconds()
        let weights = try Runner.load(modelArgument: o.model)
        let request = o.gpuOptions.checkedRequest
        let grammar = try o.constraintOptions.load()
        let sizing = ModelSession.Sizing(totalContext: o.depth + max(o.prompt + o.generate, 1) + 1 + (grammar != nil ? 64 : 0), maxBatch: max(1, min(o.batch, max(o.prompt, 1))),
                                         threads: o.threads, gpu: request, interleave: !o.noRepack)
        let session = try ModelSession.open(weights, sizing, note: { Output.err("note: \($0)\n") })
        let context = session.inference, gguf = weights.gguf, threads = o.threads ?? physicalCoreCount()
        let model = context.model
        let loadMilliseconds = monotonicMilliseconds() - loadStart
        let vocabulary = model.hyper.vocabularySize
        var random = UInt64(0x5EED)
        func randomToken() -> Int {
            random = random &* 6364136223846793005 &+ 1442695040888963407
            return Int((random >> 33) % UInt64(vocabulary))
        }

        // Positions from `start`: with -d, the first `depth` positions hold a context filled once (untimed);
        // each test rewrites only the positions after it.
        func prefill(_ n: Int, from start: Int = 0) throws {
            var position = start
            while position < start + n {
                let end = min(start + n, position + context.maxBatch)
                _ = try context.forward((position..<end).map { BatchEntry(token: randomToken(), position: $0, wantsLogits: $0 == start + n - 1) })
                position = end
            }
        }
        func decode(_ n: Int, from start: Int = 0) throws {
            for position in start..<(start + n) { _ = try context.forward([BatchEntry(token: randomToken(), position: position, wantsLogits: true)]) }
        }
        func measure(_ body: () throws -> Void) rethrows -> Double {
            let start = monotonicMilliseconds(); try body(); return monotonicMilliseconds() - start
        }

        var results: [Result] = []
        var ttft = 0.0
        let depth = o.depth, suffix = depth > 0 ? " @ d\(depth)" : ""
        if depth > 0 { try prefill(depth) }
        if o.prompt > 0 {
            try prefill(min(o.prompt, 16), from: depth)  // warm-up: page in weights, spin up threads
            let times = try (0..<o.repetitions).map { _ in try measure { try prefill(o.prompt, from: depth) } }
            results.append(summary("pp\(o.prompt)" + suffix, prompt: o.prompt, generate: 0, tokens: o.prompt, milliseconds: times))
            ttft = median(times) + (try measure { try decode(1, from: depth + o.prompt) })
        }
        if o.generate > 0 {
            try decode(1, from: depth)
            let times = try (0..<o.repetitions).map { _ in try measure { try decode(o.generate, from: depth) } }
            results.append(summary("tg\(o.generate)" + suffix, prompt: 0, generate: o.generate, tokens: o.generate, milliseconds: times))
        }
        if let grammar, o.generate > 0 {
            results += try constrainedCost(session, grammar: grammar, tokens: o.generate, repetitions: o.repetitions)
        }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let peak = Int(usage.ru_maxrss) * 1024
        let name = ((try? gguf.string("general.name")) ?? nil) ?? (o.model ?? "embedded")
        let type = "\(model.hyper.architecture) \(model.hyper.blockCount)L \(dominantType(gguf))"
        if o.output == "json" {
            let objects = results.map { r -> String in
                let fields: [String] = [
                    "\"model_filename\": \(jsonString(o.model ?? "embedded"))", "\"model_type\": \(jsonString(type))",
                    "\"model_name\": \(jsonString(name))", "\"model_size\": \(gguf.tensorBytes)",
                    "\"n_batch\": \(context.maxBatch)", "\"n_threads\": \(threads)",
                    "\"n_prompt\": \(r.prompt)", "\"n_gen\": \(r.generate)", "\"n_depth\": \(o.depth)", "\"test\": \(jsonString(r.test))",
                    "\"avg_ns\": \(Int(r.meanNanoseconds))", "\"stddev_ns\": \(Int(r.stddevNanoseconds))",
                    "\"avg_ts\": \(mean(r.samples))", "\"stddev_ts\": \(stddev(r.samples))",
                    "\"samples_ts\": [\(r.samples.map { "\($0)" }.joined(separator: ", "))]",
                    "\"load_ms\": \(loadMilliseconds)", "\"ttft_ms\": \(ttft)", "\"peak_rss_bytes\": \(peak)",
                ]
                return "  {" + fields.joined(separator: ", ") + "}"
            }
            Output.out("[\n" + objects.joined(separator: ",\n") + "\n]\n")
        } else {
            Output.out("| model | size | threads | test | t/s |\n| --- | ---: | ---: | --- | ---: |\n")
            for r in results {
                Output.out("| \(name) \(type) | \(formatBytes(gguf.tensorBytes)) | \(threads) | \(r.test) | \(round2(mean(r.samples))) ± \(round2(stddev(r.samples))) |\n")
            }
            Output.out("load \(round2(loadMilliseconds)) ms, time to first token (pp\(o.prompt)) \(round2(ttft)) ms, peak RSS \(formatBytes(peak))\n")
        }
        return 0
    }

    /// Sampled generation (llama.cpp's default chain, fixed seeds) from a short instruction, without and with the
    /// grammar, interleaved: tokens per second of the decode phase (a grammar may end generation early).
    static func constrainedCost(_ session: ModelSession, grammar: Grammar, tokens: Int, repetitions: Int) throws -> [Result] {
        let generator = Generator(context: session.inference, tokenizer: session.tokenizer)
        let prompt = session.tokenizer.encode("Describe a person as a JSON object:", addBOS: session.tokenizer.addBOS, parseSpecial: false)
        var free: [(Int, Double)] = [], constrained: [(Int, Double)] = []
        for round in 0..<(repetitions + 1) {
            var sampling = SamplingParameters()
            sampling.seed = UInt64(round)
            for (g, into) in [(nil as Grammar?, 0), (grammar, 1)] {
                let (_, t) = try generator.generate(prompt: prompt, maxTokens: tokens, sampling: sampling, grammar: g) { _ in true }
                if round > 0 {  // round 0 warms up (and builds the vocabulary table once)
                    if into == 0 { free.append((t.generatedTokens, t.generationMilliseconds)) } else { constrained.append((t.generatedTokens, t.generationMilliseconds)) }
                }
            }
        }
        func result(_ name: String, _ runs: [(Int, Double)]) -> Result {
            let ns = runs.map { $0.1 * 1_000_000 }
            return Result(test: name, prompt: prompt.count, generate: tokens, samples: runs.map { Double($0.0) * 1000 / max($0.1, 1e-9) },
                          meanNanoseconds: mean(ns), stddevNanoseconds: stddev(ns))
        }
        return [result("tg\(tokens) sampled", free), result("tg\(tokens) sampled+grammar", constrained)]
    }

    static func summary(_ test: String, prompt: Int, generate: Int, tokens: Int, milliseconds: [Double]) -> Result {
        let ns = milliseconds.map { $0 * 1_000_000 }
        return Result(test: test, prompt: prompt, generate: generate, samples: milliseconds.map { Double(tokens) * 1000 / $0 },
                      meanNanoseconds: mean(ns), stddevNanoseconds: stddev(ns))
    }

    /// The file's type as llama-bench names it: general.file_type (the quantization mixture, "Q4_K - Medium"),
    /// else the tensor type holding the most bytes.
    static func dominantType(_ g: GGUFFile) -> String {
        if let fileType = try? g.integer("general.file_type"), let name = mixtureNames[fileType] { return name }
        var bytes: [String: Int] = [:]
        for t in g.tensors { bytes[t.type.name, default: 0] += t.byteCount }
        return bytes.max { $0.value < $1.value }?.key ?? "?"
    }

    /// llama.cpp's names of its file types (llama_ftype), by value.
    static let mixtureNames: [Int: String] = [
        0: "all F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K - Medium",
        11: "Q3_K - Small", 12: "Q3_K - Medium", 13: "Q3_K - Large", 14: "Q4_K - Small", 15: "Q4_K - Medium",
        16: "Q5_K - Small", 17: "Q5_K - Medium", 18: "Q6_K", 19: "IQ2_XXS - 2.0625 bpw", 20: "IQ2_XS - 2.3125 bpw",
        21: "Q2_K - Small", 22: "IQ3_XS - 3.3 bpw", 23: "IQ3_XXS - 3.0625 bpw", 24: "IQ1_S - 1.5625 bpw",
        25: "IQ4_NL - 4.5 bpw", 26: "IQ3_S - 3.4375 bpw", 27: "IQ3_S mix - 3.66 bpw", 28: "IQ2_S - 2.5 bpw",
        29: "IQ2_M - 2.7 bpw", 30: "IQ4_XS - 4.25 bpw", 31: "IQ1_M - 1.75 bpw", 32: "BF16",
    ]

    static func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }
    static func stddev(_ v: [Double]) -> Double {
        guard v.count > 1 else { return 0 }
        let m = mean(v)
        return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
    }
    static func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.isEmpty ? 0 : s[s.count / 2] }
    static func round2(_ x: Double) -> Double { (x * 100).rounded() / 100 }
}
