#if canImport(Glibc)
import Glibc
#endif

/// A sampled token's log-probability and the most likely alternatives, from the model's own distribution:
/// log-softmax of the raw logits, before penalties, temperature and truncation (what llama.cpp reports).
public struct TokenLogprobs: Sendable {
    public struct Entry: Sendable, Equatable {
        public let id: Int
        public let logprob: Float
        /// The token's bytes (control tokens: their text).
        public let bytes: [UInt8]
    }

    public let chosen: Entry
    /// The `count` most likely tokens, best first (ties to the lower id).
    public let top: [Entry]

    public init(logits: UnsafeBufferPointer<Float>, chosen: Int, count: Int, piece: (Int) -> [UInt8]) {
        // log Σ exp(l) in double, around the maximum.
        var maximum = -Float.infinity
        for l in logits where l > maximum { maximum = l }
        var sum = 0.0
        for l in logits where l > -.infinity { sum += exp(Double(l - maximum)) }
        let logSum = Double(maximum) + log(sum)
        func logprob(_ l: Float) -> Float { Float(Double(l) - logSum) }
        self.chosen = Entry(id: chosen, logprob: logits.indices.contains(chosen) ? logprob(logits[chosen]) : -.infinity,
                            bytes: piece(chosen))
        // The best `count` by a bounded insertion (count ≤ 20).
        var best: [(id: Int, logit: Float)] = []
        if count > 0 {
            for (i, l) in logits.enumerated() where best.count < count || l > best[best.count - 1].logit {
                var at = best.count
                while at > 0 && l > best[at - 1].logit { at -= 1 }
                best.insert((i, l), at: at)
                if best.count > count { best.removeLast() }
            }
        }
        top = best.map { Entry(id: $0.id, logprob: logprob($0.logit), bytes: piece($0.id)) }
    }
}
