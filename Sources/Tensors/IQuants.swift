import GGUF
import TensorsGrids

// The grid I-quants (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S), portable side.
//
// Every one of them is, per super-block of 256 values, a float d', one small odd integer scale per 16
// values and 256 small signed integers v, with y = d'·s·v (layouts in BlockLayouts.swift). The integers
// come from grid entries (8 or 4 values each), one sign bit per value (IQ2/IQ3), or a ±1/8 shift per
// group (IQ1, written here as 8·g ± 1 with d' = d/8 so it stays an integer). `decode` produces that form;
// dequantization and the reference dot are written over it, and the AVX2 kernels produce the same bytes.

enum IQuants {
    /// Whether `type` is one of the grid I-quants.
    static func isGridFormat(_ type: TensorType) -> Bool {
        switch type {
        case .iq1_s, .iq1_m, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s: return true
        default: return false
        }
    }

    /// The 7-bit sign index of IQ2_XXS/IQ2_XS/IQ3_XXS as 8 sign bits: the eighth makes the count even.
    @inline(__always)
    static func evenSigns(_ index: UInt32) -> UInt8 {
        let seven = UInt8(truncatingIfNeeded: index & 127)
        return seven | UInt8(seven.nonzeroBitCount & 1) << 7
    }

    /// One super-block at `x` into 256 integers, 16 scales (per 16 values) and d'. Unknown types: d' = NaN.
    static func decode(_ type: TensorType, _ x: UnsafeRawPointer, _ v: UnsafeMutablePointer<Int8>,
                       _ s: UnsafeMutablePointer<Int16>) -> Float {
        @inline(__always) func put8(_ entry: UInt64, signs: UInt8, at out: Int) {
            for k in 0..<8 {
                let value = Int8(truncatingIfNeeded: entry >> (8 * UInt64(k)))
                v[out + k] = signs >> UInt8(k) & 1 != 0 ? -value : value
            }
        }
        @inline(__always) func put4(_ entry: UInt32, signs: UInt8, at out: Int) {
            for k in 0..<4 {
                let value = Int8(truncatingIfNeeded: entry >> (8 * UInt32(k)))
                v[out + k] = signs >> UInt8(k) & 1 != 0 ? -value : value
            }
        }
        @inline(__always) func scalePair(_ sub: Int, _ first: Int, _ second: Int) {
            s[2 * sub] = Int16(2 * first + 1)
            s[2 * sub + 1] = Int16(2 * second + 1)
        }
        switch type {
        case .iq2_xxs:
            for sub in 0..<8 {
                let at = 2 + 8 * sub, signWord = x.uint32(at + 4)
                let scale = Int(signWord >> 28)
                scalePair(sub, scale, scale)
                for l in 0..<4 {
                    put8(IQuantGrids.iq2xxs[Int(x.byte(at + l))], signs: evenSigns(signWord >> (7 * UInt32(l))),
                         at: 32 * sub + 8 * l)
                }
            }
            return x.half(0) * 0.125
        case .iq2_xs:
            for sub in 0..<8 {
                let scales = x.byte(66 + sub)
                scalePair(sub, Int(scales & 15), Int(scales >> 4))
                for l in 0..<4 {
                    let q = UInt32(x.uint16(2 + 2 * (4 * sub + l)))
                    put8(IQuantGrids.iq2xs[Int(q & 511)], signs: evenSigns(q >> 9), at: 32 * sub + 8 * l)
                }
            }
            return x.half(0) * 0.125
        case .iq2_s:
            for sub in 0..<8 {
                let scales = x.byte(74 + sub), high = Int(x.byte(66 + sub))
                scalePair(sub, Int(scales & 15), Int(scales >> 4))
                for l in 0..<4 {
                    let index = Int(x.byte(2 + 4 * sub + l)) | (high >> (2 * l) & 3) << 8
                    put8(IQuantGrids.iq2s[index], signs: x.byte(34 + 4 * sub + l), at: 32 * sub + 8 * l)
                }
            }
            return x.half(0) * 0.125
        case .iq3_xxs:
            for sub in 0..<8 {
                let signWord = x.uint32(66 + 4 * sub)
                let scale = Int(signWord >> 28)
                scalePair(sub, scale, scale)
                for l in 0..<4 {
                    let signs = evenSigns(signWord >> (7 * UInt32(l)))
                    put4(IQuantGrids.iq3xxs[Int(x.byte(2 + 8 * sub + 2 * l))], signs: signs, at: 32 * sub + 8 * l)
                    put4(IQuantGrids.iq3xxs[Int(x.byte(3 + 8 * sub + 2 * l))], signs: signs >> 4, at: 32 * sub + 8 * l + 4)
                }
            }
            return x.half(0) * 0.25
        case .iq3_s:
            for sub in 0..<8 {
                let scale = Int(x.byte(106 + sub / 2) >> (4 * UInt8(sub % 2)) & 15), high = Int(x.byte(66 + sub))
                scalePair(sub, scale, scale)
                for k in 0..<8 {
                    let index = Int(x.byte(2 + 8 * sub + k)) | (high >> k & 1) << 8
                    let signs = x.byte(74 + 4 * sub + k / 2) >> (4 * UInt8(k % 2))
                    put4(IQuantGrids.iq3s[index], signs: signs, at: 32 * sub + 4 * k)
                }
            }
            return x.half(0)
        case .iq1_s:
            for sub in 0..<8 {
                let high = Int(x.uint16(34 + 2 * sub))
                let scale = high >> 12 & 7
                scalePair(sub, scale, scale)
                let shift: Int8 = high & 0x8000 != 0 ? -1 : 1
                for l in 0..<4 {
                    let entry = IQuantGrids.iq1s[Int(x.byte(2 + 4 * sub + l)) | (high >> (3 * l) & 7) << 8]
                    for k in 0..<8 {
                        v[32 * sub + 8 * l + k] = 8 &* Int8(truncatingIfNeeded: entry >> (8 * UInt64(k))) &+ shift
                    }
                }
            }
            return x.half(0) * 0.125
        case .iq1_m:
            @inline(__always) func word(_ i: Int) -> Int { Int(x.uint16(48 + 2 * i)) }
            for sub in 0..<8 {
                let first = 2 * sub, second = 2 * sub + 1
                scalePair(sub, word(first / 4) >> (3 * (first % 4)) & 7, word(second / 4) >> (3 * (second % 4)) & 7)
                for l in 0..<4 {
                    let q = 4 * sub + l
                    let nibble = Int(x.byte(32 + q / 2) >> (4 * UInt8(q % 2)) & 15)
                    let entry = IQuantGrids.iq1s[Int(x.byte(q)) | (nibble & 7) << 8]
                    let shift: Int8 = nibble & 8 != 0 ? -1 : 1
                    for k in 0..<8 {
                        v[8 * q + k] = 8 &* Int8(truncatingIfNeeded: entry >> (8 * UInt64(k))) &+ shift
                    }
                }
            }
            let bits = word(0) >> 12 | word(1) >> 8 & 0x00F0 | word(2) >> 4 & 0x0F00 | word(3) & 0xF000
            return halfToFloat(UInt16(bits)) * 0.125
        default:
            v.update(repeating: 0, count: 256)
            s.update(repeating: 0, count: 16)
            return .nan
        }
    }

    /// y = d'·s·v for each of the `blocks` super-blocks.
    static func dequantize(_ type: TensorType, _ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, blocks: Int) {
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { v in
            withUnsafeTemporaryAllocation(of: Int16.self, capacity: 16) { s in
                for b in 0..<blocks {
                    let d = decode(type, x + b * type.blockBytes, v.baseAddress!, s.baseAddress!)
                    for i in 0..<256 { y[256 * b + i] = d * Float(s[i / 16]) * Float(v[i]) }
                }
            }
        }
    }

    /// Σ over super-blocks of d'·dy·Σ_j s_j·Σ_{i∈j} v_i·a_i, against Q8_K activations.
    static func referenceDot(_ type: TensorType, _ x: UnsafeRawPointer, _ y: UnsafeRawPointer, blocks: Int) -> Float {
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { v in
            withUnsafeTemporaryAllocation(of: Int16.self, capacity: 16) { s in
                var sum: Float = 0
                for b in 0..<blocks {
                    let yb = y + 292 * b
                    let d = decode(type, x + b * type.blockBytes, v.baseAddress!, s.baseAddress!)
                    var integer: Int32 = 0
                    for j in 0..<16 {
                        var products: Int32 = 0
                        for i in (16 * j)..<(16 * j + 16) { products += Int32(v[i]) * Int32(yb.signedByte(4 + i)) }
                        integer += Int32(s[j]) * products
                    }
                    sum += (d * yb.float(0)) * Float(integer)
                }
                return sum
            }
        }
    }
}
