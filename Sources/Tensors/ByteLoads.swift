import GGUF

// Block fields sit at odd offsets inside packed structs (an 18-byte Q4_0 block puts its f16 at
// every 18th byte), so every multi-byte field is read unaligned. GGUF is little-endian, as are the
// hosts we build for (x86-64, arm64).

extension UnsafeRawPointer {
    @inline(__always)
    func byte(_ offset: Int) -> UInt8 {
        load(fromByteOffset: offset, as: UInt8.self)
    }

    @inline(__always)
    func signedByte(_ offset: Int) -> Int8 {
        load(fromByteOffset: offset, as: Int8.self)
    }

    /// An IEEE half stored at `offset`, widened exactly.
    @inline(__always)
    func half(_ offset: Int) -> Float {
        halfToFloat(loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// A bfloat16 stored at `offset`: the high half of a float32, widened exactly.
    @inline(__always)
    func brainFloat(_ offset: Int) -> Float {
        Float(bitPattern: UInt32(loadUnaligned(fromByteOffset: offset, as: UInt16.self)) << 16)
    }

    @inline(__always)
    func float(_ offset: Int) -> Float {
        loadUnaligned(fromByteOffset: offset, as: Float.self)
    }

    @inline(__always)
    func uint32(_ offset: Int) -> UInt32 {
        loadUnaligned(fromByteOffset: offset, as: UInt32.self)
    }

    @inline(__always)
    func uint16(_ offset: Int) -> UInt16 {
        loadUnaligned(fromByteOffset: offset, as: UInt16.self)
    }

    @inline(__always)
    func int16(_ offset: Int) -> Int16 {
        loadUnaligned(fromByteOffset: offset, as: Int16.self)
    }
}

/// Float to bfloat16 bits as ggml rounds it: to nearest, ties to even; NaN stays a quiet NaN.
@inline(__always)
func brainFloatBits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if bits & 0x7fff_ffff > 0x7f80_0000 {
        return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40)
    }
    let rounded = bits &+ (0x7fff &+ ((bits >> 16) & 1))
    return UInt16(truncatingIfNeeded: rounded >> 16)
}

/// An already rounded float as Int8, clamped; NaN (from a corrupt model) becomes 0 instead of trapping.
@inline(__always)
func saturatingInt8(_ value: Float) -> Int8 {
    if value >= 127 { return 127 }
    if value <= -128 { return -128 }
    if value.isNaN { return 0 }
    return Int8(value)
}

/// IEEE half bits to float, exactly. On x86-64 in integer operations: Float(Float16) compiles to a
/// library call without F16C (the baseline x86-64 target), 30× slower.
@inline(__always)
func halfToFloat(_ bits: UInt16) -> Float {
    #if arch(arm64)
    return Float(Float16(bitPattern: bits))  // one instruction there
    #else
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x03FF)
    if exponent == 0x1F {  // infinity or NaN (payload kept)
        return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
    }
    if exponent == 0 {  // zero or subnormal: mantissa · 2^-24, exact in float
        let magnitude = Float(mantissa) * 0x1p-24
        return Float(bitPattern: sign | magnitude.bitPattern)
    }
    return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    #endif
}
