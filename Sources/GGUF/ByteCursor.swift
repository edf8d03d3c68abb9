/// A little-endian reader over a byte range that refuses to read past its end.
/// Every read is bounds-checked; positions are Ints that cannot overflow because they never exceed `count`.
struct ByteCursor {
    let base: UnsafeRawPointer
    let count: Int
    private(set) var position: Int = 0

    init(_ buffer: UnsafeRawBufferPointer) {
        // An empty buffer may have a nil base; any non-nil pointer works because nothing can be read.
        self.base = buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
        self.count = buffer.count
    }

    var remaining: Int { count - position }

    mutating func skip(_ n: Int, _ what: @autoclosure () -> String) throws {
        guard n >= 0, n <= remaining else { throw GGUFError.truncated(what: what(), offset: position) }
        position += n
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else { throw GGUFError.truncated(what: what(), offset: position) }
        let value = T(littleEndian: base.loadUnaligned(fromByteOffset: position, as: T.self))
        position += size
        return value
    }

    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let length = try read(UInt64.self, what())
        guard length <= UInt64(remaining) else {
            throw GGUFError.truncated(what: "\(what()) (string of \(length) bytes)", offset: position)
        }
        let n = Int(length)
        let bytes = UnsafeRawBufferPointer(start: base + position, count: n)
        position += n
        // Invalid UTF-8 is replaced rather than trusted: the metadata is text for humans and tokenizers.
        return String(decoding: bytes, as: UTF8.self)
    }
}
