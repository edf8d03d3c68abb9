/// One step of the chain: narrows or reshapes the candidates.
public protocol Sampler {
    mutating func apply(_ candidates: inout Candidates, history: ArraySlice<Int>)
}

/// Repeat (llama.cpp style: divide positive logits, multiply negative ones), presence and frequency penalties
/// over the last `lastN` tokens.
public struct PenaltySampler: Sampler {
    public var repeatPenalty: Float, presencePenalty: Float, frequencyPenalty: Float, lastN: Int
    public func apply(_ c: inout Candidates, history: ArraySlice<Int>) {
        guard repeatPenalty != 1 || presencePenalty != 0 || frequencyPenalty != 0, lastN != 0 else { return }
        let window = lastN < 0 ? history : history.suffix(lastN)
        var counts: [Int: Int] = [:]
        for id in window { counts[id, default: 0] += 1 }
        guard !counts.isEmpty else { return }
        for i in c.ids.indices {
            guard let n = counts[c.ids[i]] else { continue }
            var l = c.logits[i]
            l = l > 0 ? l / repeatPenalty : l * repeatPenalty
            l -= Float(n) * frequencyPenalty + presencePenalty
            c.logits[i] = l
        }
        c.sorted = false
    }
}

/// Keeps the `k` most likely tokens (k ≤ 0: all).
public struct TopKSampler: Sampler {
    public var k: Int
    public func apply(_ c: inout Candidates, history: ArraySlice<Int>) {
        if k > 0 && k < c.count { c.sortDescending(keeping: k) } else if !c.sorted { c.sortDescending() }
    }
}

/// Keeps the smallest set of most likely tokens whose probability mass reaches `p` (at least `minKeep`).
public struct TopPSampler: Sampler {
    public var p: Float, minKeep = 1
    public func apply(_ c: inout Candidates, history: ArraySlice<Int>) {
        guard p < 1 else { return }
        if !c.sorted { c.sortDescending() }
        let probs = c.probabilities()
        var mass: Float = 0
        var keep = c.count
        for (i, q) in probs.enumerated() {
            mass += q
            if mass >= p && i + 1 >= minKeep { keep = i + 1; break }
        }
        c.keepFirst(keep)
    }
}

/// Drops tokens whose probability is below `p` times the most likely one's.
public struct MinPSampler: Sampler {
    public var p: Float, minKeep = 1
    public func apply(_ c: inout Candidates, history: ArraySlice<Int>) {
        guard p > 0, c.count > 1 else { return }
        if !c.sorted { c.sortDescending() }
        // p_i / p_max ≥ p  ⇔  logit_i ≥ logit_max + ln p
        let threshold = c.logits[0] + Float(logOf(Double(p)))
        var keep = 0
        while keep < c.count && c.logits[keep] >= threshold { keep += 1 }
        c.keepFirst(max(keep, minKeep))
    }
}

/// Divides logits by the temperature.
public struct TemperatureSampler: Sampler {
    public var temperature: Float
    public func apply(_ c: inout Candidates, history: ArraySlice<Int>) {
        guard temperature > 0, temperature != 1 else { return }
        for i in c.logits.indices { c.logits[i] /= temperature }
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func logOf(_ x: Double) -> Double { Glibc.log(x) }
#else
import Darwin
@inline(__always) func logOf(_ x: Double) -> Double { Darwin.log(x) }
#endif
