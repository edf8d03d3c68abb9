import Foundation
import XCTest
@testable import Sampling

/// The chain draws from the distribution it should: over 2,000 seeds the first token's frequencies match
/// softmax(logits / T) over what top-k, then top-p, then min-p keep (computed here in Double, independently of
/// the samplers), by a chi-square test at p = 0.001. Tokens outside the kept set must never come out.
final class SamplerDistributionTests: XCTestCase {
    /// A realistic spread: a few strong candidates, then a long Zipf-like tail, in a shuffled id order.
    static let logits: [Float] = {
        var generator = SplitMix64(seed: 99)
        var values: [Float] = []
        for rank in 0..<500 { values.append(Float(5 - 1.1 * log(Double(rank + 1)) + 0.2 * generator.nextUnit())) }
        var order = Array(values.indices)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(generator.next() % UInt64(i + 1))) }
        return order.map { values[$0] }
    }()

    /// The chain's target distribution, from its definition.
    static func expected(_ logits: [Float], _ p: SamplingParameters) -> [Int: Double] {
        var ranked = logits.indices.sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if p.topK > 0 { ranked = Array(ranked.prefix(p.topK)) }
        func softmax(_ ids: [Int], _ t: Double) -> [Double] {
            let top = Double(logits[ids[0]]) / t
            let e = ids.map { exp(Double(logits[$0]) / t - top) }
            let sum = e.reduce(0, +)
            return e.map { $0 / sum }
        }
        if p.topP < 1 {
            var mass = 0.0
            for (i, q) in softmax(ranked, 1).enumerated() {
                mass += q
                if mass >= Double(p.topP) { ranked = Array(ranked.prefix(i + 1)); break }
            }
        }
        if p.minP > 0 {
            let floor = softmax(ranked, 1)[0] * Double(p.minP)
            let probabilities = softmax(ranked, 1)
            ranked = Array(ranked.prefix(max(1, probabilities.filter { $0 >= floor }.count)))
        }
        return Dictionary(uniqueKeysWithValues: zip(ranked, softmax(ranked, Double(p.temperature))))
    }

    /// The chi-square quantile (Wilson–Hilferty), accurate to a few percent for df ≥ 3.
    static func chiSquareCritical(df: Int, z: Double = 3.09) -> Double {
        let d = Double(df)
        let a = 2 / (9 * d)
        return d * pow(1 - a + z * a.squareRoot(), 3)
    }

    func check(temperature: Float, topK: Int, topP: Float, minP: Float, file: StaticString = #filePath, line: UInt = #line) {
        var p = SamplingParameters()
        (p.temperature, p.topK, p.topP, p.minP) = (temperature, topK, topP, minP)
        let expected = Self.expected(Self.logits, p)
        let draws = 2000
        var counts: [Int: Int] = [:]
        for seed in 0..<draws {
            p.seed = UInt64(seed)
            var chain = SamplerChain(p)
            let id = Self.logits.withUnsafeBufferPointer { chain.sample(logits: $0, history: []) }
            counts[id, default: 0] += 1
        }
        let outside = counts.keys.filter { expected[$0] == nil }
        XCTAssertTrue(outside.isEmpty, "drew tokens the chain should have removed: \(outside)", file: file, line: line)
        // Bins with an expected count of at least 5; the rest pooled into one.
        var statistic = 0.0, bins = 0, pooledExpected = 0.0, pooledObserved = 0
        for (id, q) in expected {
            let e = q * Double(draws), o = Double(counts[id] ?? 0)
            if e >= 5 { statistic += (o - e) * (o - e) / e; bins += 1 } else { pooledExpected += e; pooledObserved += Int(o) }
        }
        if pooledExpected >= 5 {
            statistic += (Double(pooledObserved) - pooledExpected) * (Double(pooledObserved) - pooledExpected) / pooledExpected
            bins += 1
        }
        XCTAssertGreaterThanOrEqual(bins, 4, "too few bins to test", file: file, line: line)
        let critical = Self.chiSquareCritical(df: bins - 1)
        XCTAssertLessThan(statistic, critical, "χ² \(statistic) over \(bins) bins (critical \(critical)): T \(temperature) k \(topK) p \(topP) min-p \(minP)",
                          file: file, line: line)
    }

    /// A grammar's mask: drawing among the allowed ids gives what drawing from logits with the rest at −∞ gives.
    func testAllowedSubsetEqualsMaskedLogits() {
        let allowed = Array(stride(from: 3, to: Self.logits.count, by: 7))
        var masked = [Float](repeating: -.infinity, count: Self.logits.count)
        for id in allowed { masked[id] = Self.logits[id] }
        for (temperature, topK) in [(Float(0), 40), (0.7, 40), (1.0, 0)] {
            for seed in 0..<200 {
                var p = SamplingParameters()
                (p.temperature, p.topK, p.seed) = (temperature, topK, UInt64(seed))
                var a = SamplerChain(p), b = SamplerChain(p)
                let x = Self.logits.withUnsafeBufferPointer { a.sample(allowed: allowed, logits: $0, history: []) }
                let y = masked.withUnsafeBufferPointer { b.sample(logits: $0, history: []) }
                XCTAssertEqual(x, y, "T \(temperature) k \(topK) seed \(seed)")
                XCTAssertTrue(allowed.contains(x))
            }
        }
    }

    /// The web UI's defaults (temperature 0.7, top-p 0.95) with the server's top-k 40 and min-p 0.05.
    func testWebUIDefaults() { check(temperature: 0.7, topK: 40, topP: 0.95, minP: 0.05) }

    /// llama.cpp's CLI defaults.
    func testLlamaCppDefaults() { check(temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05) }

    /// No truncation at all: the whole softmax.
    func testPlainSoftmax() { check(temperature: 1, topK: 0, topP: 1, minP: 0) }

    /// Hot and tightly truncated.
    func testHotAndTruncated() { check(temperature: 1.5, topK: 10, topP: 0.8, minP: 0.1) }
}
