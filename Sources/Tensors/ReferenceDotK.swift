// Scalar reference dot products of 256-element super-block formats against Q8_K activations
// (d f32 @0 | qs[256] @4 | bsums[16] i16 @260). Mins are applied through the activation block's
// bsums, as llama.cpp does: Σ (d·sc·q − dmin·m)·y = d·Σ sc·Σq·y − dmin·Σ m·Σy.

extension ReferenceDot {
    static func q2_K(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 84 * b, yb = y + 292 * b
            var integer: Int32 = 0, mins: Int32 = 0
            for group in 0..<16 {
                let scaleByte = xb.byte(group)
                let half = group / 8, shift = UInt8(2 * ((group % 8) / 2)), offset = 16 * (group % 2)
                var products: Int32 = 0
                for l in 0..<16 {
                    let q = Int32((xb.byte(16 + 32 * half + offset + l) >> shift) & 3)
                    products += q * Int32(yb.signedByte(4 + 16 * group + l))
                }
                integer += Int32(scaleByte & 0x0F) * products
                mins += Int32(scaleByte >> 4) * Int32(yb.int16(260 + 2 * group))
            }
            let d = yb.float(0) * xb.half(80), dmin = yb.float(0) * xb.half(82)
            sum += d * Float(integer) - dmin * Float(mins)
        }
        return sum
    }

    static func q3_K(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 110 * b, yb = y + 292 * b
            var integer: Int32 = 0
            for group in 0..<16 {
                let half = group / 8, shift = UInt8(2 * ((group % 8) / 2)), offset = 16 * (group % 2)
                let maskBit = UInt8(1) << UInt8(group / 2)
                var products: Int32 = 0
                for l in 0..<16 {
                    let low = Int32((xb.byte(32 + 32 * half + offset + l) >> shift) & 3)
                    let q = low - (xb.byte(offset + l) & maskBit != 0 ? 0 : 4)
                    products += q * Int32(yb.signedByte(4 + 16 * group + l))
                }
                integer += scaleQ3K(xb + 96, group) * products
            }
            sum += (xb.half(108) * yb.float(0)) * Float(integer)
        }
        return sum
    }

    static func q4_K(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 144 * b, yb = y + 292 * b
            var integer: Int32 = 0, mins: Int32 = 0
            for sub in 0..<8 {
                let (scale, min) = scaleAndMinK4(xb + 4, sub)
                let qs = 16 + 32 * (sub / 2), shift = UInt8(4 * (sub % 2))
                var products: Int32 = 0
                for l in 0..<32 {
                    let q = Int32((xb.byte(qs + l) >> shift) & 0x0F)
                    products += q * Int32(yb.signedByte(4 + 32 * sub + l))
                }
                integer += scale * products
                mins += min * (Int32(yb.int16(260 + 4 * sub)) + Int32(yb.int16(262 + 4 * sub)))
            }
            let d = yb.float(0) * xb.half(0), dmin = yb.float(0) * xb.half(2)
            sum += d * Float(integer) - dmin * Float(mins)
        }
        return sum
    }

    static func q5_K(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 176 * b, yb = y + 292 * b
            var integer: Int32 = 0, mins: Int32 = 0
            for sub in 0..<8 {
                let (scale, min) = scaleAndMinK4(xb + 4, sub)
                let qs = 48 + 32 * (sub / 2), shift = UInt8(4 * (sub % 2)), highBit = UInt8(1) << UInt8(sub)
                var products: Int32 = 0
                for l in 0..<32 {
                    let q = Int32((xb.byte(qs + l) >> shift) & 0x0F) + (xb.byte(16 + l) & highBit != 0 ? 16 : 0)
                    products += q * Int32(yb.signedByte(4 + 32 * sub + l))
                }
                integer += scale * products
                mins += min * (Int32(yb.int16(260 + 4 * sub)) + Int32(yb.int16(262 + 4 * sub)))
            }
            let d = yb.float(0) * xb.half(0), dmin = yb.float(0) * xb.half(2)
            sum += d * Float(integer) - dmin * Float(mins)
        }
        return sum
    }

    static func q6_K(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 210 * b, yb = y + 292 * b
            var integer: Int32 = 0
            for half in 0..<2 {
                let ql = 64 * half, qh = 128 + 32 * half, sc = 192 + 8 * half, out = 4 + 128 * half
                // Quarter k of this half: low/high nibble of ql[l] or ql[l+32], qh bits 2k..2k+1.
                for quarter in 0..<4 {
                    let lowOffset = ql + 32 * (quarter % 2), nibbleShift = UInt8(4 * (quarter / 2))
                    let highShift = UInt8(2 * quarter)
                    for group in 0..<2 {
                        var products: Int32 = 0
                        for l in (16 * group)..<(16 * group + 16) {
                            let low = (xb.byte(lowOffset + l) >> nibbleShift) & 0x0F
                            let high = (xb.byte(qh + l) >> highShift) & 3
                            let q = Int32(low | (high << 4)) - 32
                            products += q * Int32(yb.signedByte(out + 32 * quarter + l))
                        }
                        integer += Int32(xb.signedByte(sc + 2 * quarter + group)) * products
                    }
                }
            }
            sum += (xb.half(208) * yb.float(0)) * Float(integer)
        }
        return sum
    }

    static func iq4_xs(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 136 * b, yb = y + 292 * b
            var integer: Int32 = 0
            for sub in 0..<8 {
                var products: Int32 = 0
                for j in 0..<16 {
                    let byte = xb.byte(8 + 16 * sub + j)
                    products += Int32(iq4Levels[Int(byte & 0x0F)]) * Int32(yb.signedByte(4 + 32 * sub + j))
                    products += Int32(iq4Levels[Int(byte >> 4)]) * Int32(yb.signedByte(20 + 32 * sub + j))
                }
                integer += scaleIQ4XS(xb, sub) * products
            }
            sum += (xb.half(0) * yb.float(0)) * Float(integer)
        }
        return sum
    }
}
