// Scalar dequantizers, one block at a time, in the plain loops of BlockLayouts.swift.
// Each writes type.blockSize floats to `y` from the block at `x`.

enum Dequantize {
    static func q4_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = x.half(0)
        for j in 0..<16 {
            let byte = x.byte(2 + j)
            y[j] = d * Float(Int32(byte & 0x0F) - 8)
            y[j + 16] = d * Float(Int32(byte >> 4) - 8)
        }
    }

    static func q4_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = x.half(0), m = x.half(2)
        for j in 0..<16 {
            let byte = x.byte(4 + j)
            y[j] = d * Float(byte & 0x0F) + m
            y[j + 16] = d * Float(byte >> 4) + m
        }
    }

    static func q5_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = x.half(0), high = x.uint32(2)
        for j in 0..<16 {
            let byte = UInt32(x.byte(6 + j))
            let low = (byte & 0x0F) | (((high >> j) & 1) << 4)
            let upper = (byte >> 4) | (((high >> (j + 16)) & 1) << 4)
            y[j] = d * Float(Int32(low) - 16)
            y[j + 16] = d * Float(Int32(upper) - 16)
        }
    }

    static func q5_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = x.half(0), m = x.half(2), high = x.uint32(4)
        for j in 0..<16 {
            let byte = UInt32(x.byte(8 + j))
            let low = (byte & 0x0F) | (((high >> j) & 1) << 4)
            let upper = (byte >> 4) | (((high >> (j + 16)) & 1) << 4)
            y[j] = d * Float(low) + m
            y[j + 16] = d * Float(upper) + m
        }
    }

    static func q8_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = x.half(0)
        for j in 0..<32 { y[j] = d * Float(x.signedByte(2 + j)) }
    }

    static func q8_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = x.float(0)
        for j in 0..<32 { y[j] = d * Float(x.signedByte(8 + j)) }
    }

    static func iq4_nl(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = x.half(0)
        for j in 0..<16 {
            let byte = x.byte(2 + j)
            y[j] = d * Float(iq4Levels[Int(byte & 0x0F)])
            y[j + 16] = d * Float(iq4Levels[Int(byte >> 4)])
        }
    }

    static func q2_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = x.half(80), dmin = x.half(82)
        var out = 0
        for half in 0..<2 {
            let qs = 16 + 32 * half
            for shift in 0..<4 {
                for group in 0..<2 {  // two 16-element groups share each 2-bit plane of 32 bytes
                    let scaleByte = x.byte(8 * half + 2 * shift + group)
                    let scale = d * Float(scaleByte & 0x0F), min = dmin * Float(scaleByte >> 4)
                    for l in 0..<16 {
                        let q = (x.byte(qs + 16 * group + l) >> (2 * UInt8(shift))) & 3
                        y[out] = scale * Float(q) - min
                        out += 1
                    }
                }
            }
        }
    }

    static func q3_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = x.half(108), scales = x + 96
        var out = 0
        for half in 0..<2 {
            let qs = 32 + 32 * half
            for shift in 0..<4 {
                let maskBit = UInt8(1) << UInt8(4 * half + shift)
                for group in 0..<2 {
                    let scale = d * Float(scaleQ3K(scales, 8 * half + 2 * shift + group))
                    for l in 0..<16 {
                        let index = 16 * group + l
                        let low = Int32((x.byte(qs + index) >> (2 * UInt8(shift))) & 3)
                        let q = low - (x.byte(index) & maskBit != 0 ? 0 : 4)
                        y[out] = scale * Float(q)
                        out += 1
                    }
                }
            }
        }
    }

    static func q4_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = x.half(0), dmin = x.half(2), scales = x + 4
        for chunk in 0..<4 {
            let (scaleLow, minLow) = scaleAndMinK4(scales, 2 * chunk)
            let (scaleHigh, minHigh) = scaleAndMinK4(scales, 2 * chunk + 1)
            let d1 = d * Float(scaleLow), m1 = dmin * Float(minLow)
            let d2 = d * Float(scaleHigh), m2 = dmin * Float(minHigh)
            let qs = 16 + 32 * chunk, out = 64 * chunk
            for l in 0..<32 {
                let byte = x.byte(qs + l)
                y[out + l] = d1 * Float(byte & 0x0F) - m1
                y[out + 32 + l] = d2 * Float(byte >> 4) - m2
            }
        }
    }

    static func q5_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = x.half(0), dmin = x.half(2), scales = x + 4
        for chunk in 0..<4 {
            let (scaleLow, minLow) = scaleAndMinK4(scales, 2 * chunk)
            let (scaleHigh, minHigh) = scaleAndMinK4(scales, 2 * chunk + 1)
            let d1 = d * Float(scaleLow), m1 = dmin * Float(minLow)
            let d2 = d * Float(scaleHigh), m2 = dmin * Float(minHigh)
            let qs = 48 + 32 * chunk, out = 64 * chunk
            let lowBit = UInt8(1) << UInt8(2 * chunk), highBit = UInt8(2) << UInt8(2 * chunk)
            for l in 0..<32 {
                let byte = x.byte(qs + l), high = x.byte(16 + l)
                let q1 = (byte & 0x0F) + (high & lowBit != 0 ? 16 : 0)
                let q2 = (byte >> 4) + (high & highBit != 0 ? 16 : 0)
                y[out + l] = d1 * Float(q1) - m1
                y[out + 32 + l] = d2 * Float(q2) - m2
            }
        }
    }

    static func q6_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = x.half(208)
        for half in 0..<2 {
            let ql = 64 * half, qh = 128 + 32 * half, sc = 192 + 8 * half, out = 128 * half
            for l in 0..<32 {
                let group = l / 16
                let low = x.byte(ql + l), lowNext = x.byte(ql + l + 32), high = x.byte(qh + l)
                let q1 = Int32((low & 0x0F) | ((high & 3) << 4)) - 32
                let q2 = Int32((lowNext & 0x0F) | (((high >> 2) & 3) << 4)) - 32
                let q3 = Int32((low >> 4) | (((high >> 4) & 3) << 4)) - 32
                let q4 = Int32((lowNext >> 4) | (((high >> 6) & 3) << 4)) - 32
                y[out + l] = d * Float(x.signedByte(sc + group)) * Float(q1)
                y[out + l + 32] = d * Float(x.signedByte(sc + group + 2)) * Float(q2)
                y[out + l + 64] = d * Float(x.signedByte(sc + group + 4)) * Float(q3)
                y[out + l + 96] = d * Float(x.signedByte(sc + group + 6)) * Float(q4)
            }
        }
    }

    static func q8_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = x.float(0)
        for j in 0..<256 { y[j] = d * Float(x.signedByte(4 + j)) }
    }

    static func iq4_xs(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = x.half(0)
        for sub in 0..<8 {
            let scale = d * Float(scaleIQ4XS(x, sub))
            let qs = 8 + 16 * sub, out = 32 * sub
            for j in 0..<16 {
                let byte = x.byte(qs + j)
                y[out + j] = scale * Float(iq4Levels[Int(byte & 0x0F)])
                y[out + j + 16] = scale * Float(iq4Levels[Int(byte >> 4)])
            }
        }
    }
}
