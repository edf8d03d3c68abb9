import GGUF
import Tensors

/// Random but well-formed weight rows: random bytes with every f16 scale field set to a small
/// positive (or, for the mins, any-sign) finite value, and float formats from a bell-shaped draw.
enum RandomBlocks {
    /// Byte offsets of the f16 scale fields inside one block (ggml struct layouts).
    static func halfFields(_ type: TensorType) -> [Int] {
        switch type {
        case .q4_0, .q5_0, .q8_0, .iq4_nl, .iq4_xs, .iq1_s, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s: return [0]
        case .q4_1, .q5_1, .q4_K, .q5_K: return [0, 2]
        case .q2_K: return [80, 82]
        case .q3_K: return [108]
        case .q6_K: return [208]
        default: return []
        }
    }

    static func weights(_ type: TensorType, count: Int, using generator: inout SeededGenerator) -> [UInt8] {
        switch type {
        case .f32, .f16, .bf16:
            let values = (0..<count).map { _ in generator.gaussianLike(0.05) }
            return BlockFormat.quantized(type, values)
        default:
            var bytes = (0..<type.byteCount(elements: count)!).map { _ in UInt8.random(in: 0...255, using: &generator) }
            for block in 0..<(count / type.blockSize) {
                for field in halfFields(type) {
                    let value = Float16(Float.random(in: 1e-3...2e-2, using: &generator))
                    let offset = block * type.blockBytes + field
                    bytes[offset] = UInt8(truncatingIfNeeded: value.bitPattern)
                    bytes[offset + 1] = UInt8(truncatingIfNeeded: value.bitPattern >> 8)
                }
                if type == .iq1_m {  // d is the top nibbles of the four scale words at 48…55, lowest first
                    let bits = Float16(Float.random(in: 1e-3...2e-2, using: &generator)).bitPattern
                    for k in 0..<4 {
                        let at = block * type.blockBytes + 49 + 2 * k
                        bytes[at] = bytes[at] & 0x0F | UInt8(truncatingIfNeeded: bits >> (4 * UInt16(k)) & 15) << 4
                    }
                }
            }
            return bytes
        }
    }

    static func activations(count: Int, using generator: inout SeededGenerator) -> [Float] {
        (0..<count).map { _ in generator.gaussianLike(1) }
    }
}
