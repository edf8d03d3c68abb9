// libFuzzer entry point for the ZIP reader and the small text parsers of the Container module.
// Built by Tools/fuzz.sh together with Sources/Container/*.swift as one module (no Crypto: the
// files that need it compile to nothing without it).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzContainer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    if let archive = try? ZipArchive(bytes: bytes, name: "fuzz") {
        // The reader's promise: every member it returns lies inside the buffer, before the directory.
        for entry in archive.entries {
            let (end, overflow) = entry.dataOffset.addingReportingOverflow(entry.compressedSize)
            if overflow || end > UInt64(size) || end > archive.centralDirectoryOffset {
                fatalError("member \(entry.name) escapes the buffer: \(entry.dataOffset) + \(entry.compressedSize)")
            }
        }
    }
    // The text parsers see the first 4 KiB: real .args and .sha256 members are small, and decoding
    // 64 KiB of random bytes as UTF-8 would dominate the time spent per input.
    let textBytes = UnsafeRawBufferPointer(rebasing: bytes.prefix(4096))
    if let arguments = try? ArgsFile.parse(bytes: textBytes) {
        _ = ArgsFile.merge(defaults: arguments, user: ["-p", "x"])
    }
    _ = try? ChecksumManifest.parse(String(decoding: textBytes, as: UTF8.self), archive: "fuzz")
    // Sizes and part names are short strings in practice.
    let head = String(decoding: bytes.prefix(64), as: UTF8.self)
    _ = ByteCount.parse(head)
    _ = SplitPartNames.splitPartIndex(of: head)
    return 0
}
