import Container
import GGUF
import Model

/// `--info`: what the weights are and where they came from.
enum InfoReport {
    /// `contextSize`: -c as given (nil: the default of every mode, min(8192, trained); 0: the trained length).
    static func render(_ w: LoadedWeights, contextSize: Int? = nil, cacheFormat: KVCache.Format = .f16) -> String {
        let g = w.gguf
        var lines: [String] = []
        lines.append("source:       \(w.resolved.origin)")
        lines.append("map time:     \(format(w.resolved.mapSeconds * 1000)) ms (+ \(format(w.parseMilliseconds)) ms to parse metadata)")
        lines.append("gguf version: \(g.version), \(g.metadata.count) metadata keys, \(g.tensors.count) tensors, alignment \(g.alignment)")
        let arch = (try? g.string("general.architecture")) ?? nil
        lines.append("architecture: \(arch ?? "(none)")")
        if let name = (try? g.string("general.name")) ?? nil { lines.append("name:         \(name)") }
        do {
            let h = try HyperParameters(gguf: g)
            lines.append("layers:       \(h.blockCount)")
            lines.append("embedding:    \(h.embeddingLength)")
            lines.append("feed-forward: \(h.feedForwardLength)")
            lines.append("heads:        \(h.headCount) (kv \(h.headCountKV), head dim \(h.headDimension))")
            lines.append("context:      \(h.contextLength) (trained)")
            let context = contextSize.map { $0 == 0 ? h.contextLength : $0 } ?? min(8192, h.contextLength)
            let perToken = cacheFormat.bytesPerToken(layers: h.blockCount, kvDimension: h.kvDimension).map(formatBytes) ?? "?"
            let total = KVCache.byteCount(layers: h.blockCount, sequences: 1, contextLength: context, kvDimension: h.kvDimension,
                                          format: cacheFormat).map(formatBytes) ?? "more than 2^63 bytes"
            let memory = ModelSession.physicalMemoryBytes().map { ", this machine has \(formatBytes($0))" } ?? ""
            lines.append("kv cache:     \(total) for \(context) tokens (-c; \(perToken) per token, \(cacheFormat)\(memory))")
            lines.append("rope:         base \(h.ropeFreqBase), \(h.ropeDimensionCount) dims\(g.tensor(named: "rope_freqs.weight") != nil ? ", rope_freqs scaling" : "")")
            lines.append("rms epsilon:  \(h.rmsEpsilon)")
            lines.append("vocabulary:   \(h.vocabularySize)")
        } catch {
            lines.append("hyper-parameters: \(error)")
        }
        if let model = (try? g.string("tokenizer.ggml.model")) ?? nil {
            let pre = ((try? g.string("tokenizer.ggml.pre")) ?? nil) ?? "-"
            lines.append("tokenizer:    \(model) (pre: \(pre))")
        }
        var byType: [String: (count: Int, bytes: Int)] = [:]
        for t in g.tensors { byType[t.type.name, default: (0, 0)].count += 1; byType[t.type.name, default: (0, 0)].bytes += t.byteCount }
        let types = byType.sorted { $0.value.bytes > $1.value.bytes }.map { "\($0.key) × \($0.value.count) (\(formatBytes($0.value.bytes)))" }
        lines.append("tensor types: \(types.joined(separator: ", "))")
        lines.append("weights:      \(g.tensorBytes) bytes (\(formatBytes(g.tensorBytes))), file \(g.byteCount) bytes")
        return lines.joined(separator: "\n") + "\n"
    }

    static func format(_ ms: Double) -> String { String(Double(Int(ms * 1000)) / 1000) }
}
