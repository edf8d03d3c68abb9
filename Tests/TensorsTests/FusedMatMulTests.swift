import GGUF
import Tensors
import XCTest

/// Several matrices reading one input (q, k, v; gate, up) multiplied in one job against each alone: the same
/// kernels on the same quantized activations, so every output agrees bit for bit. Shapes as under GQA (k and v a
/// quarter of q), row counts that do not fill a chunk, in place and interleaved, one token and a batch (which
/// goes one matrix after another), two threads.
final class FusedMatMulTests: XCTestCase {
    func testFusedMatchesOneAtATime() throws {
        var generator = SeededGenerator(seed: 31)
        let pool = ThreadPool(threads: 2)
        for type in [TensorType.q4_0, .q8_0, .q4_K, .q6_K, .iq4_xs, .iq2_xs, .f16] {
            let columns = 512
            let rowBytes = type.byteCount(elements: columns)!
            for interleave in [false, true] {
                let rowCounts = interleave ? [64, 16, 24] : [64, 16, 13]
                guard !interleave || InterleavedWeights.supports(type, rows: 16, columns: columns) else { continue }
                var storage: [UnsafeMutableRawPointer] = []
                defer { storage.forEach { $0.deallocate() } }
                var matrices: [WeightMatrix] = []
                for (i, rows) in rowCounts.enumerated() {
                    var bytes: [UInt8] = []
                    for _ in 0..<rows { bytes += RandomBlocks.weights(type, count: columns, using: &generator) }
                    let data = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
                    storage.append(data)
                    data.copyMemory(from: bytes, byteCount: bytes.count)
                    var matrix = WeightMatrix(name: "m\(i)", data: data, type: type, columns: columns, rows: rows, rowBytes: rowBytes)
                    if interleave {
                        let copy = UnsafeMutableRawPointer.allocate(byteCount: InterleavedWeights.byteCount(type, rows: rows, columns: columns), alignment: 64)
                        storage.append(copy)
                        InterleavedWeights.interleave(type, data, rowBytes: rowBytes, columns: columns, panels: 0..<(rows / 8), into: copy)
                        matrix.interleaved = UnsafeRawPointer(copy)
                    }
                    matrices.append(matrix)
                }
                for tokens in [1, 5] {
                    let input = (0..<tokens).flatMap { _ in RandomBlocks.activations(count: columns, using: &generator) }
                    let scratch = QuantizedActivations(capacity: 4 * columns * tokens, columns: columns, tokens: tokens, threads: 2)
                    defer { scratch.deallocate() }
                    var alone: [[Float]] = []
                    for (i, m) in matrices.enumerated() {
                        var out = [Float](repeating: .nan, count: m.rows * tokens)
                        input.withUnsafeBufferPointer { x in
                            out.withUnsafeMutableBufferPointer { y in
                                matmul(m, input: x.baseAddress!, output: y.baseAddress!, count: tokens, scratch: scratch, pool: pool,
                                       after: i > 0 ? matrices[i - 1] : nil)
                            }
                        }
                        alone.append(out)
                    }
                    let outputs = matrices.map { UnsafeMutablePointer<Float>.allocate(capacity: $0.rows * tokens) }
                    defer { outputs.forEach { $0.deallocate() } }
                    for (o, m) in zip(outputs, matrices) { o.update(repeating: .nan, count: m.rows * tokens) }
                    input.withUnsafeBufferPointer { x in
                        matmul(matrices, input: x.baseAddress!, outputs: outputs, count: tokens, scratch: scratch, pool: pool)
                    }
                    for (i, m) in matrices.enumerated() {
                        let fused = Array(UnsafeBufferPointer(start: outputs[i], count: m.rows * tokens))
                        XCTAssertFalse(fused.contains { $0.isNaN }, "\(type) interleaved=\(interleave) tokens=\(tokens) matrix \(i): rows left unwritten")
                        XCTAssertEqual(fused.map(\.bitPattern), alone[i].map(\.bitPattern),
                                       "\(type) interleaved=\(interleave) tokens=\(tokens) matrix \(i)")
                    }
                }
            }
        }
    }
}
