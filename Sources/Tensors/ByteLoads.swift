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
        Float(Float16(bitPattern: loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
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

/// C's roundf: nearest integer, halves away from zero.
@inline(__always)
func roundHalfAwayFromZero(_ value: Float) -> Float {
    value.rounded(.toNearestOrAwayFromZero)
}

/// An already rounded float as Int8, clamped; NaN (from a corrupt model) becomes 0 instead of trapping.
@inline(__always)
func saturatingInt8(_ value: Float) -> Int8 {
    if value >= 127 { return 127 }
    if value <= -128 { return -128 }
    if value.isNaN { return 0 }
    return Int8(value)
}
