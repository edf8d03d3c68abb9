import Foundation
import GGUF
import Tensors
import XCTest

/// The committed block fixtures written by Tools/make_block_fixtures.py.
enum Fixtures {
    static let elements = 2048

    /// Weight formats with fixtures, all of which BlockFormat must support.
    static let weightTypes: [TensorType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0,
                                            .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_nl, .iq4_xs,
                                            .iq1_s, .iq1_m, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s]

    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        let url = directory.appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw XCTSkip("missing fixture \(url.path): run .venv/bin/python Tools/make_block_fixtures.py")
        }
        return [UInt8](data)
    }

    static func floats(_ name: String) throws -> [Float] {
        let raw = try bytes(name)
        return stride(from: 0, to: raw.count - 3, by: 4).map { offset in
            Float(bitPattern: UInt32(raw[offset]) | UInt32(raw[offset + 1]) << 8
                | UInt32(raw[offset + 2]) << 16 | UInt32(raw[offset + 3]) << 24)
        }
    }

    static func weights(_ type: TensorType) throws -> [UInt8] { try bytes("\(type.name).bin") }
    static func expected(_ type: TensorType) throws -> [Float] { try floats("\(type.name).f32") }
    static func activations() throws -> [Float] { try floats("activations.f32") }
}

/// Σ (result − reference)² / Σ reference² over `rows` weight rows (rowBytes apart in `matrix`) times `tokens`
/// activation rows (activationStride apart), the reference being the scalar dot; results[t · rows + r].
func normalizedError(_ type: TensorType, matrix: [UInt8], rowBytes: Int, rows: Int, activations: [UInt8], activationStride: Int,
                     tokens: Int, columns: Int, results: [Float]) -> Double {
    let activationBytes = BlockFormat.activationType(for: type).byteCount(elements: columns) ?? 0
    var errorSum: Double = 0, referenceSum: Double = 0
    for t in 0..<tokens {
        let activation = Array(activations[(t * activationStride)..<(t * activationStride + activationBytes)])
        for r in 0..<rows {
            let reference = BlockFormat.dot(type, Array(matrix[(r * rowBytes)..<((r + 1) * rowBytes)]), activation,
                                            count: columns, reference: true)
            let value = results[t * rows + r]
            errorSum += Double(value - reference) * Double(value - reference)
            referenceSum += Double(reference) * Double(reference)
        }
    }
    return errorSum / max(referenceSum, 1e-30)
}

/// Deterministic pseudo-random numbers (SplitMix64) so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Roughly normal (sum of four uniforms), scaled.
    mutating func gaussianLike(_ scale: Float) -> Float {
        var sum: Float = 0
        for _ in 0..<4 { sum += Float.random(in: -1...1, using: &self) }
        return sum * scale * 0.87
    }
}

extension BlockFormat {
    static func dequantized(_ type: TensorType, _ bytes: [UInt8], count: Int) -> [Float] {
        var output = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { source in
            output.withUnsafeMutableBufferPointer { destination in
                dequantize(type, source.baseAddress!, destination.baseAddress!, count: count)
            }
        }
        return output
    }

    static func quantized(_ type: TensorType, _ values: [Float]) -> [UInt8] {
        var output = [UInt8](repeating: 0xAA, count: type.byteCount(elements: values.count)!)
        values.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBytes { destination in
                quantizeActivations(type, source.baseAddress!, destination.baseAddress!, count: values.count)
            }
        }
        return output
    }

    static func dot(_ type: TensorType, _ weights: [UInt8], _ activations: [UInt8], count: Int,
                    reference: Bool) -> Float {
        weights.withUnsafeBytes { w in
            activations.withUnsafeBytes { a in
                reference
                    ? referenceDot(type, w.baseAddress!, a.baseAddress!, count: count)
                    : dot(type, w.baseAddress!, a.baseAddress!, count: count)
            }
        }
    }
}
