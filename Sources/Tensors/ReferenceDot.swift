// Scalar reference dot products: one weight row against activations already quantized to the
// paired format (BlockFormat.activationType). Integer sums within a block, combined in Float per
// block like llama.cpp's generic kernels; float formats accumulate in Double like ggml's scalar
// ggml_vec_dot_f16/f32. These are the numerics every fast kernel is tested against.

enum ReferenceDot {
    static func f32(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ count: Int) -> Float {
        var sum: Double = 0
        for i in 0..<count { sum += Double(x.float(4 * i) * y.float(4 * i)) }
        return Float(sum)
    }

    static func f16(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ count: Int) -> Float {
        var sum: Double = 0
        for i in 0..<count { sum += Double(x.half(2 * i) * y.half(2 * i)) }  // product exact in Float
        return Float(sum)
    }

    static func bf16(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ count: Int) -> Float {
        var sum: Double = 0
        for i in 0..<count { sum += Double(x.brainFloat(2 * i) * y.brainFloat(2 * i)) }
        return Float(sum)
    }

    static func q4_0(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 18 * b, yb = y + 34 * b
            var integer: Int32 = 0
            for j in 0..<16 {
                let byte = xb.byte(2 + j)
                integer += (Int32(byte & 0x0F) - 8) * Int32(yb.signedByte(2 + j))
                integer += (Int32(byte >> 4) - 8) * Int32(yb.signedByte(18 + j))
            }
            sum += Float(integer) * xb.half(0) * yb.half(0)
        }
        return sum
    }

    static func q4_1(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 20 * b, yb = y + 40 * b
            var integer: Int32 = 0
            for j in 0..<16 {
                let byte = xb.byte(4 + j)
                integer += Int32(byte & 0x0F) * Int32(yb.signedByte(8 + j))
                integer += Int32(byte >> 4) * Int32(yb.signedByte(24 + j))
            }
            sum += (xb.half(0) * yb.float(0)) * Float(integer) + xb.half(2) * yb.float(4)
        }
        return sum
    }

    static func q5_0(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 22 * b, yb = y + 34 * b
            let high = xb.uint32(2)
            var integer: Int32 = 0
            for j in 0..<16 {
                let byte = UInt32(xb.byte(6 + j))
                let low = Int32((byte & 0x0F) | (((high >> j) & 1) << 4)) - 16
                let upper = Int32((byte >> 4) | (((high >> (j + 16)) & 1) << 4)) - 16
                integer += low * Int32(yb.signedByte(2 + j)) + upper * Int32(yb.signedByte(18 + j))
            }
            sum += (xb.half(0) * yb.half(0)) * Float(integer)
        }
        return sum
    }

    static func q5_1(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 24 * b, yb = y + 40 * b
            let high = xb.uint32(4)
            var integer: Int32 = 0
            for j in 0..<16 {
                let byte = UInt32(xb.byte(8 + j))
                let low = Int32((byte & 0x0F) | (((high >> j) & 1) << 4))
                let upper = Int32((byte >> 4) | (((high >> (j + 16)) & 1) << 4))
                integer += low * Int32(yb.signedByte(8 + j)) + upper * Int32(yb.signedByte(24 + j))
            }
            sum += (xb.half(0) * yb.float(0)) * Float(integer) + xb.half(2) * yb.float(4)
        }
        return sum
    }

    static func q8_0(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 34 * b, yb = y + 34 * b
            var integer: Int32 = 0
            for j in 0..<32 { integer += Int32(xb.signedByte(2 + j)) * Int32(yb.signedByte(2 + j)) }
            sum += Float(integer) * (xb.half(0) * yb.half(0))
        }
        return sum
    }

    static func iq4_nl(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 18 * b, yb = y + 34 * b
            var integer: Int32 = 0
            for j in 0..<16 {
                let byte = xb.byte(2 + j)
                integer += Int32(iq4Levels[Int(byte & 0x0F)]) * Int32(yb.signedByte(2 + j))
                integer += Int32(iq4Levels[Int(byte >> 4)]) * Int32(yb.signedByte(18 + j))
            }
            sum += (xb.half(0) * yb.half(0)) * Float(integer)
        }
        return sum
    }
}
