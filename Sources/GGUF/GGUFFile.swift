/// A tensor's entry in the GGUF tensor table, validated against the file.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Dimensions, innermost (contiguous) first, as in the file.
    public let dimensions: [Int]
    public let type: TensorType
    /// Offset of the data relative to the data section.
    public let offset: Int
    public let byteCount: Int
    public var elementCount: Int { dimensions.reduce(1, *) }
}

/// A parsed GGUF: header, metadata and tensor table over bytes owned by someone else (usually a mapping).
/// Nothing is copied out of the tensor data; `tensorData` hands out pointers into the buffer.
public struct GGUFFile: @unchecked Sendable {
    public let version: UInt32
    /// Metadata in file order.
    public let keys: [String]
    public let metadata: [String: GGUFValue]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Offset of the data section from the start of the buffer.
    public let dataOffset: Int
    /// Start of the buffer the file was parsed from; valid while `owner` (or the caller's mapping) lives.
    public let base: UnsafeRawPointer
    public let byteCount: Int
    /// Keeps the memory alive when the file owns it (tests, tools); nil for caller-owned mappings.
    public let owner: AnyObject?
    /// True when the bytes are a read-only file mapping: pages may be dropped from memory and are read back
    /// from the file on the next touch. Never true for heap buffers (dropping those pages would zero them).
    public let pagesReloadable: Bool
    private let tensorIndex: [String: Int]

    public static let defaultAlignment = 32
    /// Generous upper bound: larger alignments are not produced by any known writer and only waste space.
    static let maximumAlignment = 1 << 20
    /// Limits on counts whose entries cost many times their file size in memory (a u8 array element
    /// becomes a 24-byte GGUFValue), so a small hostile file cannot make the reader allocate gigabytes.
    /// Real models stay far below: ~100 keys, a few thousand tensors, under a million array elements
    /// (Llama 3: 128,256 tokens + 128,256 token types + 280,147 merges).
    public static let maximumKeyCount = 1 << 16
    public static let maximumTensorCount = 1 << 18
    public static let maximumArrayElements = 1 << 22

    public init(bytes: UnsafeRawBufferPointer, owner: AnyObject? = nil, pagesReloadable: Bool = false) throws {
        var cursor = ByteCursor(bytes)
        guard bytes.count >= 4 else { throw GGUFError.truncated(what: "magic", offset: 0) }
        let magic = try cursor.read(UInt32.self, "magic")
        guard magic == 0x4655_4747 else {  // "GGUF" little-endian
            let shown = withUnsafeBytes(of: magic.littleEndian) { raw in
                raw.map { (32..<127).contains($0) ? String(UnicodeScalar($0)) : String(format2hex: $0) }.joined()
            }
            throw GGUFError.badMagic(found: "\"\(shown)\"")
        }
        let version = try cursor.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(version) }
        let tensorCount = try cursor.read(UInt64.self, "tensor count")
        let kvCount = try cursor.read(UInt64.self, "metadata count")
        // A key/value needs at least 8 (key length) + 4 (type) + 1 bytes; a tensor info at least 8+4+8+4+8.
        guard kvCount <= UInt64(cursor.remaining / 13) else { throw GGUFError.countTooLarge(what: "metadata count", count: kvCount) }
        guard tensorCount <= UInt64(cursor.remaining / 32) else { throw GGUFError.countTooLarge(what: "tensor count", count: tensorCount) }
        guard kvCount <= UInt64(Self.maximumKeyCount) else {
            throw GGUFError.countOverLimit(what: "metadata count", count: kvCount, limit: Self.maximumKeyCount)
        }
        guard tensorCount <= UInt64(Self.maximumTensorCount) else {
            throw GGUFError.countOverLimit(what: "tensor count", count: tensorCount, limit: Self.maximumTensorCount)
        }

        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        keys.reserveCapacity(Int(kvCount))
        var arrayElementsLeft = Self.maximumArrayElements
        for index in 0..<Int(kvCount) {
            let key = try cursor.readString("metadata key #\(index)")
            guard !key.isEmpty else { throw GGUFError.emptyKey(index: index) }
            guard metadata[key] == nil else { throw GGUFError.duplicateKey(key) }
            let rawType = try cursor.read(UInt32.self, "type of \(key)")
            guard let type = GGUFValueType(rawValue: rawType) else { throw GGUFError.badValueType(key: key, type: rawType) }
            metadata[key] = try Self.readValue(type, key: key, cursor: &cursor, arrayElementsLeft: &arrayElementsLeft)
            keys.append(key)
        }

        var alignment = Self.defaultAlignment
        if let value = metadata["general.alignment"] {
            guard case .uint32(let a) = value else {
                throw GGUFError.badAlignment("expected u32, found \(value.type)")
            }
            guard a > 0, a & (a - 1) == 0, Int(a) <= Self.maximumAlignment else {
                throw GGUFError.badAlignment("\(a) is not a power of two between 1 and \(Self.maximumAlignment)")
            }
            alignment = Int(a)
        }

        struct RawInfo { let name: String; let dims: [Int]; let type: TensorType; let offset: UInt64 }
        var raw: [RawInfo] = []
        raw.reserveCapacity(Int(tensorCount))
        var seen = Set<String>()
        for index in 0..<Int(tensorCount) {
            let name = try cursor.readString("tensor name #\(index)")
            guard seen.insert(name).inserted else { throw GGUFError.duplicateTensor(name) }
            let nDims = try cursor.read(UInt32.self, "dimension count of \(name)")
            guard (1...4).contains(nDims) else {
                throw GGUFError.badTensor(name: name, reason: "dimension count \(nDims) (must be 1...4)")
            }
            var dims: [Int] = []
            var elements = 1
            for d in 0..<Int(nDims) {
                let dim = try cursor.read(UInt64.self, "dimension \(d) of \(name)")
                guard dim > 0, let size = Int(exactly: dim) else {
                    throw GGUFError.badTensor(name: name, reason: "dimension \(d) is \(dim)")
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: size)
                guard !overflow else { throw GGUFError.badTensor(name: name, reason: "element count overflows") }
                elements = product
                dims.append(size)
            }
            let rawType = try cursor.read(UInt32.self, "type of \(name)")
            guard let type = TensorType(rawValue: rawType) else { throw GGUFError.unknownTensorType(name: name, type: rawType) }
            let offset = try cursor.read(UInt64.self, "offset of \(name)")
            raw.append(RawInfo(name: name, dims: dims, type: type, offset: offset))
        }

        // The data section starts at the next multiple of the alignment.
        let afterInfos = cursor.position
        let (padded, overflow) = afterInfos.addingReportingOverflow(alignment - 1)
        guard !overflow else { throw GGUFError.truncated(what: "data section", offset: afterInfos) }
        let dataOffset = padded / alignment * alignment
        let dataBytes = bytes.count - min(dataOffset, bytes.count)
        if !raw.isEmpty && dataOffset > bytes.count {
            throw GGUFError.truncated(what: "data section", offset: dataOffset)
        }

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(raw.count)
        for info in raw {
            guard info.dims[0] % info.type.blockSize == 0 else {
                throw GGUFError.badTensor(name: info.name, reason: "row length \(info.dims[0]) is not a multiple of the \(info.type) block size \(info.type.blockSize)")
            }
            let elements = info.dims.reduce(1, *)  // overflow already excluded above
            guard let size = info.type.byteCount(elements: elements) else {
                throw GGUFError.badTensor(name: info.name, reason: "byte size overflows")
            }
            guard info.offset % UInt64(alignment) == 0 else {
                throw GGUFError.badTensor(name: info.name, reason: "offset \(info.offset) is not a multiple of the alignment \(alignment)")
            }
            guard info.offset <= UInt64(dataBytes), size <= dataBytes - Int(info.offset) else {
                throw GGUFError.badTensor(name: info.name, reason: "data (offset \(info.offset), \(size) bytes) runs past the end of the file (data section holds \(dataBytes) bytes)")
            }
            tensors.append(GGUFTensorInfo(name: info.name, dimensions: info.dims, type: info.type, offset: Int(info.offset), byteCount: size))
        }
        // Overlapping tensors mean a corrupt table (or one crafted to alias data).
        let byOffset = tensors.sorted { $0.offset < $1.offset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.offset + a.byteCount > b.offset {
            throw GGUFError.badTensor(name: b.name, reason: "data overlaps tensor \"\(a.name)\"")
        }

        self.version = version
        self.keys = keys
        self.metadata = metadata
        self.tensors = tensors
        self.alignment = alignment
        self.dataOffset = dataOffset
        self.base = cursor.base
        self.byteCount = bytes.count
        self.owner = owner
        self.pagesReloadable = pagesReloadable
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        self.tensorIndex = index
    }

    private static func readValue(_ type: GGUFValueType, key: String, cursor: inout ByteCursor,
                                  arrayElementsLeft: inout Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try cursor.read(UInt8.self, key))
        case .int8: return .int8(try cursor.read(Int8.self, key))
        case .uint16: return .uint16(try cursor.read(UInt16.self, key))
        case .int16: return .int16(try cursor.read(Int16.self, key))
        case .uint32: return .uint32(try cursor.read(UInt32.self, key))
        case .int32: return .int32(try cursor.read(Int32.self, key))
        case .float32: return .float32(Float(bitPattern: try cursor.read(UInt32.self, key)))
        case .bool:
            let b = try cursor.read(UInt8.self, key)
            guard b <= 1 else { throw GGUFError.wrongType(key: key, expected: "bool 0 or 1", found: "\(b)") }
            return .bool(b == 1)
        case .string: return .string(try cursor.readString(key))
        case .uint64: return .uint64(try cursor.read(UInt64.self, key))
        case .int64: return .int64(try cursor.read(Int64.self, key))
        case .float64: return .float64(Double(bitPattern: try cursor.read(UInt64.self, key)))
        case .array:
            let rawElement = try cursor.read(UInt32.self, "element type of \(key)")
            guard let element = GGUFValueType(rawValue: rawElement) else { throw GGUFError.badValueType(key: key, type: rawElement) }
            guard element != .array else { throw GGUFError.nestedArray(key: key) }
            let count = try cursor.read(UInt64.self, "element count of \(key)")
            let minimum = element.fixedSize ?? 8  // a string is at least its length field
            guard count <= UInt64(cursor.remaining / minimum) else {
                throw GGUFError.countTooLarge(what: "array length of \(key)", count: count)
            }
            guard count <= UInt64(arrayElementsLeft) else {
                let total = UInt64(maximumArrayElements - arrayElementsLeft) + count
                throw GGUFError.countOverLimit(what: "total array length (through \(key))", count: total, limit: maximumArrayElements)
            }
            arrayElementsLeft -= Int(count)
            var values: [GGUFValue] = []
            values.reserveCapacity(Int(count))
            for _ in 0..<Int(count) {
                values.append(try readValue(element, key: key, cursor: &cursor, arrayElementsLeft: &arrayElementsLeft))
            }
            return .array(element, values)
        }
    }

    // MARK: - Tensors

    public func tensor(named name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// Pointer to a tensor's first byte. The info was validated to lie inside the buffer.
    public func tensorData(_ info: GGUFTensorInfo) -> UnsafeRawPointer { base + dataOffset + info.offset }

    /// Total bytes of tensor data.
    public var tensorBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }

    // MARK: - Typed metadata access: absent → nil, present with the wrong type → error naming the key.

    public func string(_ key: String) throws -> String? {
        guard let value = metadata[key] else { return nil }
        guard case .string(let s) = value else { throw GGUFError.wrongType(key: key, expected: "string", found: value.type.description) }
        return s
    }

    public func integer(_ key: String) throws -> Int? {
        guard let value = metadata[key] else { return nil }
        guard let v = value.integer else { throw GGUFError.wrongType(key: key, expected: "integer", found: value.summary) }
        return v
    }

    public func float(_ key: String) throws -> Double? {
        guard let value = metadata[key] else { return nil }
        guard let v = value.floatingPoint else { throw GGUFError.wrongType(key: key, expected: "number", found: value.type.description) }
        return v
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let value = metadata[key] else { return nil }
        guard case .bool(let b) = value else { throw GGUFError.wrongType(key: key, expected: "bool", found: value.type.description) }
        return b
    }

    private func array(_ key: String) -> [GGUFValue]? {
        if case .array(_, let values) = metadata[key] { return values }
        return nil
    }

    public func stringArray(_ key: String) throws -> [String]? {
        guard let value = metadata[key] else { return nil }
        guard case .array(.string, let values) = value else { throw GGUFError.wrongType(key: key, expected: "array of strings", found: value.summary) }
        return values.map { if case .string(let s) = $0 { return s } else { return "" } }
    }

    public func floatArray(_ key: String) throws -> [Float]? {
        guard let value = metadata[key] else { return nil }
        guard case .array(let t, let values) = value, t == .float32 || t == .float64 else {
            throw GGUFError.wrongType(key: key, expected: "array of floats", found: value.summary)
        }
        return values.map { Float($0.floatingPoint ?? 0) }
    }

    public func integerArray(_ key: String) throws -> [Int]? {
        guard let value = metadata[key] else { return nil }
        guard case .array(let t, let values) = value, t != .string, t != .float32, t != .float64, t != .bool else {
            throw GGUFError.wrongType(key: key, expected: "array of integers", found: value.summary)
        }
        var out: [Int] = []
        out.reserveCapacity(values.count)
        for v in values {
            guard let i = v.integer else { throw GGUFError.wrongType(key: key, expected: "array of integers", found: "a value out of range") }
            out.append(i)
        }
        return out
    }
}

extension String {
    init(format2hex byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 15)])
    }
}
