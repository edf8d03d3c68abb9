import XCTest
@testable import Sampling

final class SamplingTests: XCTestCase {
    private func sample(_ logits: [Float], _ p: SamplingParameters, history: [Int] = []) -> Int {
        var chain = SamplerChain(p)
        return logits.withUnsafeBufferPointer { chain.sample(logits: $0, history: history[...]) }
    }

    func testGreedyPicksArgmaxAndLowestIdOnTies() {
        var p = SamplingParameters(); p.temperature = 0
        XCTAssertEqual(sample([0.1, 3, -1, 3, 2], p), 1)
        XCTAssertEqual(sample([-5, -5, -5], p), 0)
        XCTAssertEqual(sample([.nan, 1, 0.5], p), 1, "NaN never wins")
    }

    func testRepeatPenaltyChangesGreedyChoice() {
        var p = SamplingParameters(); p.temperature = 0; p.repeatPenalty = 2
        // 4/2 = 2 < 3: the repeated token loses.
        XCTAssertEqual(sample([4, 3, 0], p, history: [0]), 1)
        // Negative logits are multiplied: -1 * 2 = -2 < -1.5.
        XCTAssertEqual(sample([-1, -1.5], p, history: [0]), 1)
    }

    func testPresenceAndFrequencyPenalties() {
        var c = Candidates(ids: [0, 1, 2], logits: [1, 1, 1])
        PenaltySampler(repeatPenalty: 1, presencePenalty: 0.5, frequencyPenalty: 0.25, lastN: 64).apply(&c, history: [1, 1, 2])
        XCTAssertEqual(c.logits, [1, 1 - 0.5 - 0.5, 1 - 0.25 - 0.5])
    }

    func testTopKKeepsBestInOrder() {
        var c = Candidates(ids: Array(0..<6), logits: [0, 5, 3, 5, 1, 4])
        TopKSampler(k: 3).apply(&c, history: [])
        XCTAssertEqual(c.ids, [1, 3, 5])
        XCTAssertTrue(c.sorted)
    }

    func testTopPKeepsSmallestSetReachingMass() {
        // Probabilities ≈ [0.665, 0.245, 0.090] for logits [2, 1, 0].
        var c = Candidates(ids: [0, 1, 2], logits: [2, 1, 0])
        TopPSampler(p: 0.8).apply(&c, history: [])
        XCTAssertEqual(c.ids, [0, 1])
        var d = Candidates(ids: [0, 1, 2], logits: [2, 1, 0])
        TopPSampler(p: 0.5).apply(&d, history: [])
        XCTAssertEqual(d.ids, [0])
    }

    func testMinPDropsUnlikelyTokens() {
        // p1/p0 = e^-1 ≈ 0.37, p2/p0 = e^-3 ≈ 0.05
        var c = Candidates(ids: [0, 1, 2], logits: [3, 2, 0])
        MinPSampler(p: 0.1).apply(&c, history: [])
        XCTAssertEqual(c.ids, [0, 1])
    }

    func testSameSeedSameSequenceDifferentSeedDiffers() {
        var p = SamplingParameters(); p.temperature = 1.5; p.topK = 0; p.topP = 1; p.minP = 0; p.seed = 42
        let logits: [Float] = (0..<50).map { Float($0 % 7) * 0.3 }
        func run(_ seed: UInt64) -> [Int] {
            p.seed = seed
            var chain = SamplerChain(p)
            return (0..<40).map { _ in logits.withUnsafeBufferPointer { chain.sample(logits: $0, history: []) } }
        }
        XCTAssertEqual(run(42), run(42))
        XCTAssertNotEqual(run(42), run(43))
    }

    func testDrawFollowsDistribution() {
        var p = SamplingParameters(); p.temperature = 1; p.topK = 0; p.topP = 1; p.minP = 0; p.seed = 7
        var chain = SamplerChain(p)
        let logits: [Float] = [logf(0.7), logf(0.2), logf(0.1)]
        var counts = [0, 0, 0]
        for _ in 0..<20000 { counts[logits.withUnsafeBufferPointer { chain.sample(logits: $0, history: []) }] += 1 }
        XCTAssertEqual(Double(counts[0]) / 20000, 0.7, accuracy: 0.02)
        XCTAssertEqual(Double(counts[1]) / 20000, 0.2, accuracy: 0.02)
        XCTAssertEqual(Double(counts[2]) / 20000, 0.1, accuracy: 0.02)
    }

    func testPartialSelectionMatchesFullSort() {
        var rng = SplitMix64(seed: 1)
        let logits = (0..<5000).map { _ in Float(rng.nextUnit() * 10).rounded() }  // many ties
        var a = Candidates(ids: Array(0..<5000), logits: logits)
        var b = a
        a.sortDescending(keeping: 40)
        b.sortDescending()
        XCTAssertEqual(a.ids, Array(b.ids.prefix(40)))
    }
}
