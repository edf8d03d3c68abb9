// libFuzzer entry point for the GGUF reader. Built by Tools/fuzz.sh together with Sources/GGUF/*.swift:
//   swiftc -sanitize=fuzzer,address -parse-as-library -O Sources/GGUF/*.swift Fuzz/FuzzGGUF.swift -o .build-fuzz/fuzz-gguf
// Any input must either parse or throw a GGUFError; every accessor of a parsed file must be safe to call.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // Copy into owned memory of exactly `size` bytes so AddressSanitizer sees any read past the end.
    let bytes = OwnedBytes(count: size)
    bytes.pointer.copyMemory(from: data, byteCount: size)
    guard let file = try? GGUFFile(bytes: bytes.buffer, owner: bytes) else { return 0 }
    touchEverything(file)
    return 0
}

/// Calls every public accessor and reads the first and last byte of every tensor's data.
private func touchEverything(_ file: GGUFFile) {
    var checksum = 0
    for key in file.keys {
        guard let value = file.metadata[key] else { continue }
        checksum &+= value.summary.utf8.count &+ (value.integer ?? 0) &+ Int(value.floatingPoint?.isNaN == true ? 1 : 0)
        _ = try? file.string(key)
        _ = try? file.integer(key)
        _ = try? file.float(key)
        _ = try? file.bool(key)
        checksum &+= (try? file.stringArray(key))?.count ?? 0
        checksum &+= (try? file.floatArray(key))?.count ?? 0
        checksum &+= (try? file.integerArray(key))?.count ?? 0
    }
    for info in file.tensors {
        guard let same = file.tensor(named: info.name), same == info else { fatalError("tensor index disagrees for \(info.name)") }
        let pointer = file.tensorData(info)
        checksum &+= Int(pointer.load(as: UInt8.self)) &+ Int(pointer.load(fromByteOffset: info.byteCount - 1, as: UInt8.self))
        checksum &+= info.elementCount &+ info.type.blockBytes &+ info.dimensions.count
    }
    checksum &+= file.tensorBytes &+ file.alignment &+ file.dataOffset
    // Invariants the reader promises: the data section and every tensor lie inside the buffer.
    if !file.tensors.isEmpty && file.dataOffset > file.byteCount { fatalError("data section past the end") }
    for info in file.tensors where file.dataOffset + info.offset + info.byteCount > file.byteCount {
        fatalError("tensor \(info.name) past the end")
    }
    withExtendedLifetime(checksum) {}
}
