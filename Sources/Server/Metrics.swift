import Engine

/// Prometheus text exposition of the scheduler's counters (names as llama.cpp's server uses, so existing
/// dashboards work).
public enum Metrics {
    public static func prometheusText(_ m: SchedulerMetrics) -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ value: String, prefix: String = "llamacpp") {
            out += "# HELP \(prefix):\(name) \(help)\n# TYPE \(prefix):\(name) \(type)\n\(prefix):\(name) \(value)\n"
        }
        metric("prompt_tokens_total", "counter", "Number of prompt tokens processed.", String(m.promptTokensTotal))
        metric("prompt_seconds_total", "counter", "Prompt process time.", JSONValue.format(m.promptMillisecondsTotal / 1000))
        metric("tokens_predicted_total", "counter", "Number of generation tokens processed.", String(m.generatedTokensTotal))
        metric("tokens_predicted_seconds_total", "counter", "Predict process time.", JSONValue.format(m.generationMillisecondsTotal / 1000))
        metric("n_decode_total", "counter", "Total number of forward passes.", String(m.forwardCallsTotal))
        metric("requests_finished_total", "counter", "Requests finished.", String(m.requestsFinishedTotal))
        metric("requests_processing", "gauge", "Number of requests processing.", String(m.requestsProcessing))
        metric("requests_deferred", "gauge", "Number of requests deferred.", String(m.requestsWaiting))
        // Ours, not llama.cpp's: how promptly a disconnect stops generation (at most one token each).
        metric("tokens_after_disconnect_total", "counter", "Tokens sampled after the requester had gone.",
               String(m.tokensAfterCancelTotal), prefix: "swiftfile")
        return out
    }
}
