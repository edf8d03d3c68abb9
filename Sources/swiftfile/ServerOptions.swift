import ArgumentParser
import Engine

/// Flags of the HTTP server mode (owned by the server work; RunnerOptions includes them as an option group).
struct ServerOptions: ParsableArguments {
    @Option(name: [.customLong("np", withSingleDash: true), .customLong("parallel")], help: "Concurrent request slots (the context is split among them, as llama.cpp does).")
    var parallel: Int = 4

    @Option(name: .customLong("api-key-file"), help: "Read the API key from a file.")
    var apiKeyFile: String?

    @Option(name: .customLong("cors-origin"), help: "Extra origin allowed by CORS (default: same origin only; repeatable; * allows all).")
    var corsOrigins: [String] = []

    @Flag(name: .customLong("metrics"), help: "Serve Prometheus metrics at /metrics.")
    var metrics = false

    @Option(name: .customLong("chat-template"), help: "Chat template: a built-in name (llama3, chatml) or a file.")
    var chatTemplate: String?

    @Option(name: .customLong("alias"), help: "Model name reported by /v1/models (default: the weights' file name).")
    var alias: String?

    @Option(name: .customLong("max-queue"), help: "Requests that may wait for a free slot; more get 503 with Retry-After.")
    var maxQueue: Int = 32

    @Option(name: .customLong("max-body"), help: "Largest request body in bytes.")
    var maxBodyBytes: Int = 8 << 20

    @Flag(name: [.customLong("embeddings"), .customLong("embedding")], help: "Accepted as llama.cpp spells it: /v1/embeddings and /embedding are always served.")
    var embeddings = false

    @Option(name: .customLong("pooling"), help: "Embedding pooling: mean, cls or last (default: the GGUF's pooling_type, else mean).")
    var pooling: String?

    mutating func validate() throws {
        guard (1...256).contains(parallel) else { throw ValidationError("-np/--parallel must be between 1 and 256, got \(parallel)") }
        guard (0...100_000).contains(maxQueue) else { throw ValidationError("--max-queue must be between 0 and 100000, got \(maxQueue)") }
        guard (1024...(1 << 30)).contains(maxBodyBytes) else { throw ValidationError("--max-body must be between 1024 and 1073741824 bytes") }
        if let pooling, Pooling(rawValue: pooling) == nil {
            throw ValidationError("--pooling must be mean, cls or last (per-token vectors, 'none', are not offered), got \(pooling)")
        }
    }
}
