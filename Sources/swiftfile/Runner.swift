import ArgumentParser
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

/// What the runner failed at, as one line for the user.
struct RunnerError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A model loaded from the resolved weights: the mapping, the parsed GGUF and where it came from.
struct LoadedWeights {
    let resolved: ResolvedWeights
    let gguf: GGUFFile
    let parseMilliseconds: Double
}

/// The runner's version (also in /props and --info).
let swiftfileVersion = "0.2.0"

enum Runner {
    static func run(_ given: [String]) -> Int32 {
        let arguments = GPUOptions.joiningFlashAttentionValue(given)
        if arguments.contains("--bench") {
            let bench: BenchOptions
            do { bench = try BenchOptions.parse(arguments) } catch {
                Output.err(BenchOptions.fullMessage(for: error) + "\n")
                return BenchOptions.exitCode(for: error).rawValue
            }
            if bench.gpuOptions.listDevices { Output.out(GPUSetup.deviceList() + "\n"); return 0 }
            if let line = bench.gpuOptions.flashAttentionNote { Output.err("note: \(line)\n") }
            do { return try Bench.run(bench) } catch { Output.err("error: \(error)\n"); return 1 }
        }
        let options: RunnerOptions
        do {
            options = try RunnerOptions.parse(arguments)
        } catch {
            let code = RunnerOptions.exitCode(for: error)
            let message = RunnerOptions.fullMessage(for: error)
            if code == .success { Output.out(message + "\n"); return 0 }
            // A usage error stays one line; --help text goes out whole.
            let firstLine = message.split(separator: "\n").first.map(String.init) ?? message
            Output.err(message.hasPrefix("Error:") ? "error:" + firstLine.dropFirst(6) + "\n" : message + "\n")
            return code.rawValue
        }
        if options.gpuOptions.listDevices {
            Output.out(GPUSetup.deviceList() + "\n")
            return 0
        }
        if options.version {
            Output.out("swiftfile \(swiftfileVersion) (kernels: \(CPUFeatures.current.kernelDescription))\n\(GPUSetup.deviceLines())\n")
            return 0
        }
        do {
            return try dispatch(options)
        } catch {
            Output.err("error: \(error)\n")
            return 1
        }
    }

    /// Resolves -m (or the own archive) and parses the GGUF: the first step of every mode (then ModelSession).
    static func load(modelArgument: String?) throws -> LoadedWeights {
        let resolved = try WeightsResolver.resolve(modelArgument: modelArgument)
        let start = monotonicMilliseconds()
        let gguf = try GGUFFile(bytes: UnsafeRawBufferPointer(start: resolved.region.base, count: resolved.region.count), owner: resolved.region,
                                pagesReloadable: true)
        return LoadedWeights(resolved: resolved, gguf: gguf, parseMilliseconds: monotonicMilliseconds() - start)
    }

    static func dispatch(_ options: RunnerOptions) throws -> Int32 {
        let note: (String) -> Void = { if !options.logDisable { Output.err("note: \($0)\n") } }
        if let line = options.gpuOptions.flashAttentionNote { note(line) }
        let weights = try load(modelArgument: options.model)
        if options.info {
            Output.out(InfoReport.render(weights, contextSize: options.contextSize, cacheFormat: options.cacheFormat) + GPUSetup.fitLine(weights, contextLength: options.contextSize, request: options.gpuRequest, cacheFormat: options.cacheFormat, maxBatch: options.batchSize) + "\n")
            return 0
        }
        let isCompletion = options.prompt != nil || options.file != nil || options.cli
        if isCompletion && !options.chat && !options.server {
            return try Completion.run(options, weights: weights, note: note)
        }
        if options.chat {
            return try ChatMode.run(options, weights: weights, note: note)
        }
        return try ServerMode.run(options, weights: weights, note: note)
    }
}

/// Entry point: merge the `.args` member of our own archive (before choosing the mode), then run.
@main
struct SwiftfileMain {
    static func main() {
        var user = Array(CommandLine.arguments.dropFirst())
        do {
            let defaults = try OwnArchive.defaultArguments()
            if !defaults.isEmpty { user = ArgsFile.merge(defaults: defaults, user: user) }
        } catch {
            Output.err("error: \(error)\n")
            exit(1)
        }
        exit(Runner.run(user))
    }
}
