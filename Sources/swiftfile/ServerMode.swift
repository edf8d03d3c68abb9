import Chat
import Engine
import GGUF
import Model
import Sampling
import Server
import Tensors
import Tokenizer
#if canImport(Glibc)
import Glibc
#endif

/// Server mode: listen first (so /health can answer 503 while loading), then load the model, then serve until
/// SIGTERM or SIGINT, which drains (ServerShutdown). The total context (-c) is split among the -np slots, as
/// llama.cpp does.
enum ServerMode {
    static func run(_ options: RunnerOptions, weights: LoadedWeights, note: @escaping (String) -> Void) throws -> Int32 {
        let serverOptions = options.serverOptions
        var configuration = ServerConfiguration()
        configuration.host = options.host
        configuration.port = options.port
        configuration.apiKey = try apiKey(options)
        configuration.corsOrigins = serverOptions.corsOrigins
        configuration.metricsEnabled = serverOptions.metrics
        configuration.limits.queueCapacity = serverOptions.maxQueue
        configuration.limits.maximumBodyBytes = serverOptions.maxBodyBytes

        let state = ServiceState()
        let router = Router(configuration: configuration, state: state, startTime: Int(time(nil)))
        ServerShutdown.blockSignals()  // before the event loops and the model's threads start
        let server = try HTTPServer.start(router: router)
        ServerShutdown.watch(server: server, state: state, note: note)
        let shownHost = options.host.contains(":") ? "[\(options.host)]" : (options.host == "0.0.0.0" ? "127.0.0.1" : options.host)
        Output.out("swiftfile: listening on http://\(shownHost):\(server.boundPort)/\n")
        if configuration.apiKey == nil && !SecurityPolicy.isLoopbackName(options.host) {
            note("listening on \(options.host) without --api-key: anyone who can reach this address can use the model")
        }

        let service = try load(options, weights: weights, note: note)
        service.scheduler.start()
        state.setReady(service)
        note("model loaded: \(service.modelName), \(service.scheduler.slotCount) slots × \(service.contextLength) tokens of context")
        if options.contextShift {
            note("--context-shift applies to -p and --chat; a server reply that fills its slot's context ends with finish_reason \"length\"")
        }
        BrowserLaunch.openIfWanted(url: "http://\(shownHost):\(server.boundPort)/", serverMode: options.server, noBrowser: options.noBrowser, note: note)
        if !options.unsecure {
            Sandbox.enter(weights: weights.resolved.origin, server: server, scheduler: service.scheduler,
                          pool: service.scheduler.context.pool, note: note)
        }
        Sandbox.probeIfAsked(server: server, note: note)
        try server.wait()
        return 0
    }

    static func apiKey(_ options: RunnerOptions) throws -> String? {
        if let key = options.apiKey {
            guard !key.isEmpty else { throw RunnerError("--api-key is empty") }
            return key
        }
        guard let file = options.serverOptions.apiKeyFile else { return nil }
        let key = try Completion.readText(file).trimming(characters: " \t\r\n")
        guard !key.isEmpty else { throw RunnerError("the API key file \(file) is empty") }
        return key
    }

    /// The model for -np slots: the total context (-c) is split among them, as llama.cpp does.
    static func load(_ options: RunnerOptions, weights: LoadedWeights, note: (String) -> Void) throws -> ModelService {
        let session = try ModelSession.open(weights, ModelSession.Sizing(options, sequences: options.serverOptions.parallel), note: note)
        let scheduler = Scheduler(context: session.inference, tokenizer: session.tokenizer, queueCapacity: options.serverOptions.maxQueue)

        var defaults = GenerationSettings(maxTokens: options.nPredict)
        defaults.sampling.temperature = options.temperature
        defaults.sampling.topK = options.topK
        defaults.sampling.topP = options.topP
        defaults.sampling.minP = options.minP
        defaults.sampling.repeatPenalty = options.repeatPenalty
        defaults.sampling.repeatLastN = options.repeatLastN
        defaults.sampling.presencePenalty = options.presencePenalty
        defaults.sampling.frequencyPenalty = options.frequencyPenalty
        defaults.sampling.seed = options.seed < 0 ? nil : UInt64(options.seed)

        let path = options.model ?? CommandLine.arguments.first ?? "swiftfile"
        let fileName = path.split(separator: "/").last.map(String.init) ?? path
        let architecture = session.hyper.architecture
        let pooling = options.serverOptions.pooling.flatMap(Pooling.init(rawValue:))
            ?? ((try? weights.gguf.integer("\(architecture).pooling_type")) ?? nil).flatMap { Pooling(ggufValue: $0) } ?? .mean
        return ModelService(tokenizer: session.tokenizer, scheduler: scheduler, template: try session.chatTemplate(options, note: note),
                            modelName: options.serverOptions.alias ?? fileName, modelPath: path, defaults: defaults, pooling: pooling)
    }
}

extension String {
    func trimming(characters set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
