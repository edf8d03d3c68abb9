import XCTest
@testable import Tensors

/// Attention's F16 dot products in llama.cpp's two orders: the AVX2 kernels, the scalar definition
/// (Attention.sum) and an independent one (FloatWeightsTests.chains16 / blocks64) agree bit for bit.
final class AttentionTests: XCTestCase {
    private func halves(_ count: Int, _ generator: inout SeededGenerator) -> [Float16] {
        (0..<count).map { _ in Float16(Float(Int(generator.next() % 2001) - 1000) / 397) }
    }

    /// The softmax weights' scale-and-round (vectorised) equals the scalar rounding of each product, bit for bit:
    /// normal values, ties, F16 subnormals, zero, and products beyond the F16 range.
    func testScaleRoundedToHalfMatchesScalar() {
        var generator = SeededGenerator(seed: 77)
        var values = (0..<1003).map { _ in Float.random(in: 0...1, using: &generator) }
        values += [0, 1e-8, 3e-5, 6.1e-5, 1.00048828125, 65519, 65520, 1e6, -2.5e-7, 0.3]
        for scale: Float in [1, 0.37, 1.0 / 3.0, 70000] {
            let expected = values.map { Attention.roundedToHalf($0 * scale) }
            var actual = values
            actual.withUnsafeMutableBufferPointer { Attention.scaleRoundedToHalf($0.baseAddress!, count: $0.count, scale: scale) }
            for i in values.indices {
                XCTAssertEqual(actual[i].bitPattern, expected[i].bitPattern, "value \(values[i]) × \(scale)")
            }
        }
    }

    func testScoresInBothOrders() {
        var generator = SeededGenerator(seed: 31)
        for headDim in [32, 64, 128, 80] {
            let length = 37, stride = headDim + 8
            let keys = halves(length * stride, &generator)
            let query = halves(headDim, &generator).map { Float($0) }
            let scale: Float = 0.125
            for order in [Attention.SummationOrder.chains16, .singleToken(headDim)] {
                var scores = [Float](repeating: .nan, count: length)
                keys.withUnsafeBufferPointer { k in
                    query.withUnsafeBufferPointer { q in
                        Attention.scores(q.baseAddress!, k.baseAddress!, stride: stride, length: length, headDim: headDim,
                                         order: order, scale: scale, into: &scores)
                    }
                }
                for t in 0..<length {
                    let terms = (0..<headDim).map { query[$0] * Float(keys[t * stride + $0]) }
                    let expected: Float
                    if case .chains16 = order { expected = FloatWeightsTests.chains16(terms) } else { expected = FloatWeightsTests.blocks64(terms) }
                    XCTAssertEqual(scores[t].bitPattern, (expected * scale).bitPattern, "head \(headDim) t \(t) \(order)")
                    XCTAssertEqual(Attention.sum(headDim, order) { terms[$0] }.bitPattern, expected.bitPattern)
                }
            }
        }
    }

    func testWeightedSumsInBothOrders() {
        var generator = SeededGenerator(seed: 32)
        let headDim = 64, stride = 72
        for length in [1, 15, 33, 64, 70, 130, 200] {
            let values = halves(length * stride, &generator)
            let weights = halves(length, &generator).map { abs(Float($0)) / 3 }
            let padded = max(32, (length + 31) / 32 * 32)
            for order in [Attention.SummationOrder.chains16, .singleToken(padded)] {
                var out = [Float](repeating: .nan, count: headDim)
                values.withUnsafeBufferPointer { v in
                    weights.withUnsafeBufferPointer { w in
                        Attention.weightedSum(w.baseAddress!, v.baseAddress!, stride: stride, length: length, headDim: headDim,
                                              order: order, into: &out)
                    }
                }
                for d in 0..<headDim {
                    let terms = (0..<length).map { weights[$0] * Float(values[$0 * stride + d]) }
                    let expected: Float
                    if case .chains16 = order {
                        expected = FloatWeightsTests.chains16(terms)
                    } else {
                        // The padded view's zeros fill the 64-term blocks: same as summing the real terms in them.
                        expected = FloatWeightsTests.blocks64(terms + [Float](repeating: 0, count: padded - length))
                    }
                    XCTAssertEqual(out[d].bitPattern, expected.bitPattern, "length \(length) d \(d) \(order)")
                    XCTAssertEqual(Attention.sum(length, order) { terms[$0] }.bitPattern, expected.bitPattern, "scalar length \(length)")
                }
            }
        }
    }

    /// A tile's weighted sums (value rows shared by several queries, transposed per chunk of 256 positions)
    /// equal each query's own sum in the batch order, bit for bit: lengths across chunk and 16-position step
    /// edges, and weights that are F16 values as the model's are.
    func testTiledWeightedSumsMatchEachQuerysOwn() {
        var generator = SeededGenerator(seed: 33)
        let lengths = [1, 15, 16, 17, 255, 256, 257, 600, 513]
        for headDim in [64, 24] {
            let stride = headDim + 8, longest = lengths.max()!
            let values = halves(longest * stride, &generator)
            let rowLength = longest + 16
            var weights = [Float](repeating: 0, count: lengths.count * rowLength)
            for (q, length) in lengths.enumerated() {
                for t in 0..<length { weights[q * rowLength + t] = Float(Float16(abs(Float(halves(1, &generator)[0])) / 3)) }
            }
            var outputs = [[Float]](repeating: [Float](repeating: .nan, count: headDim), count: lengths.count)
            let pointers = (0..<lengths.count).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: headDim) }
            defer { pointers.forEach { $0.deallocate() } }
            values.withUnsafeBufferPointer { v in
                Attention.weightedSums(weights, weightStride: rowLength, lengths: lengths, queries: lengths.count,
                                       v.baseAddress!, stride: stride, headDim: headDim, outputs: pointers)
            }
            for q in lengths.indices { outputs[q] = Array(UnsafeBufferPointer(start: pointers[q], count: headDim)) }
            for (q, length) in lengths.enumerated() {
                var own = [Float](repeating: .nan, count: headDim)
                values.withUnsafeBufferPointer { v in
                    weights.withUnsafeBufferPointer { w in
                        Attention.weightedSum(w.baseAddress! + q * rowLength, v.baseAddress!, stride: stride, length: length,
                                              headDim: headDim, order: .chains16, into: &own)
                    }
                }
                for d in 0..<headDim {
                    let terms = (0..<length).map { weights[q * rowLength + $0] * Float(values[$0 * stride + d]) }
                    XCTAssertEqual(outputs[q][d].bitPattern, own[d].bitPattern, "head \(headDim) length \(length) d \(d)")
                    XCTAssertEqual(outputs[q][d].bitPattern, FloatWeightsTests.chains16(terms).bitPattern, "head \(headDim) length \(length) d \(d)")
                }
            }
        }
    }

    /// Several queries' scores over shared keys equal each query's own scores in the batch order, bit for
    /// bit (heads of 64, 128 and 256 take the shared-key kernel; 32-wide ones the per-query loop).
    func testSharedKeyScoresMatchEachQuerysOwn() {
        var generator = SeededGenerator(seed: 34)
        let lengths = [1, 7, 300, 299, 64]
        for headDim in [64, 128, 256, 32] {
            let stride = headDim * 3, longest = lengths.max()!, rowStride = longest + 16
            let keys = halves(longest * stride, &generator)
            let queries = lengths.map { _ in halves(headDim, &generator).map { Float($0) } }
            var rows = [Float](repeating: .nan, count: lengths.count * rowStride)
            let pointers = queries.map { q -> UnsafeMutablePointer<Float> in
                let p = UnsafeMutablePointer<Float>.allocate(capacity: headDim)
                p.initialize(from: q, count: headDim)
                return p
            }
            defer { pointers.forEach { $0.deallocate() } }
            keys.withUnsafeBufferPointer { k in
                Attention.scores(pointers.map { UnsafePointer($0) }, lengths: lengths, count: lengths.count, k.baseAddress!,
                                 stride: stride, headDim: headDim, scale: 0.125, into: &rows, rowStride: rowStride)
            }
            for (q, length) in lengths.enumerated() {
                var own = [Float](repeating: .nan, count: length)
                keys.withUnsafeBufferPointer { k in
                    Attention.scores(pointers[q], k.baseAddress!, stride: stride, length: length, headDim: headDim,
                                     order: .chains16, scale: 0.125, into: &own)
                }
                for t in 0..<length {
                    XCTAssertEqual(rows[q * rowStride + t].bitPattern, own[t].bitPattern, "head \(headDim) query \(q) t \(t)")
                }
            }
        }
    }
}
