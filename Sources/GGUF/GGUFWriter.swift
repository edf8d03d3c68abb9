/// Builds GGUF bytes (version 3). Used by tests, tools and the bad-input generator; the runner never writes GGUF.
public struct GGUFWriter {
    public struct Tensor { public var name: String; public var dimensions: [Int]; public var type: TensorType; public var data: [UInt8] }
    public var metadata: [(String, GGUFValue)] = []
    public var tensors: [Tensor] = []
    public var alignment: Int = GGUFFile.defaultAlignment
    public var version: UInt32 = 3

    public init() {}

    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = metadata.firstIndex(where: { $0.0 == key }) { metadata[i].1 = value } else { metadata.append((key, value)) }
    }

    public mutating func addTensor(_ name: String, dimensions: [Int], type: TensorType, data: [UInt8]) {
        tensors.append(Tensor(name: name, dimensions: dimensions, type: type, data: data))
    }

    public func bytes() -> [UInt8] {
        var out: [UInt8] = []
        out.append(contentsOf: Array("GGUF".utf8))
        Self.put(version, &out)
        Self.put(UInt64(tensors.count), &out)
        Self.put(UInt64(metadata.count), &out)
        for (key, value) in metadata {
            Self.putString(key, &out)
            Self.put(value.type.rawValue, &out)
            Self.putValue(value, &out)
        }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        for (t, o) in zip(tensors, offsets) {
            Self.putString(t.name, &out)
            Self.put(UInt32(t.dimensions.count), &out)
            for d in t.dimensions { Self.put(UInt64(d), &out) }
            Self.put(t.type.rawValue, &out)
            Self.put(UInt64(o), &out)
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in tensors {
            out.append(contentsOf: t.data)
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    static func put<T: FixedWidthInteger>(_ v: T, _ out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    static func putString(_ s: String, _ out: inout [UInt8]) {
        put(UInt64(s.utf8.count), &out)
        out.append(contentsOf: Array(s.utf8))
    }

    static func putValue(_ value: GGUFValue, _ out: inout [UInt8]) {
        switch value {
        case .uint8(let v): put(v, &out)
        case .int8(let v): put(v, &out)
        case .uint16(let v): put(v, &out)
        case .int16(let v): put(v, &out)
        case .uint32(let v): put(v, &out)
        case .int32(let v): put(v, &out)
        case .float32(let v): put(v.bitPattern, &out)
        case .bool(let v): out.append(v ? 1 : 0)
        case .string(let s): putString(s, &out)
        case .uint64(let v): put(v, &out)
        case .int64(let v): put(v, &out)
        case .float64(let v): put(v.bitPattern, &out)
        case .array(let t, let values):
            put(t.rawValue, &out)
            put(UInt64(values.count), &out)
            for v in values { putValue(v, &out) }
        }
    }
}
