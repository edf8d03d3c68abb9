#if canImport(Crypto)
import Crypto
#if canImport(Glibc)
import Glibc
#endif

/// A program shipped inside a bundle (the GPU worker), copied out to run it: the member must match the
/// bundle's `.sha256` manifest, the copy lives in a per-user directory (0700), and the caller gets an open
/// descriptor of the copy whose bytes were hashed, so what it starts is exactly what was checked.
public enum MemberExtraction {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// nil when `executable` has no archive or no member `name`.
    public static func verifiedCopy(of name: String, in executable: String) throws -> (path: String, fd: Int32)? {
        let archive: ZipArchive
        do {
            archive = try ZipArchive(path: executable, detectSplitParts: false)
        } catch ContainerError.notAnArchive, ContainerError.emptyFile {
            return nil
        }
        guard let entry = archive.entry(named: name) else { return nil }
        guard entry.isStored, !entry.isEncrypted else {
            throw ContainerError.compressedMember(archive: executable, member: name, method: entry.method)
        }
        guard let manifestEntry = archive.entry(named: ChecksumManifest.memberName), manifestEntry.isStored else {
            throw Failure(description: "\(executable): member \(name) has no SHA-256 manifest to check it against")
        }
        let file = try MappedFile(path: executable)
        let manifestText = try file.map(offset: manifestEntry.dataOffset, count: manifestEntry.compressedSize)
            .withBytes { String(decoding: $0, as: UTF8.self) }
        guard let expected = try ChecksumManifest.parse(manifestText, archive: executable).first(where: { $0.name == name })?.hexDigest else {
            throw Failure(description: "\(executable): member \(name) is not in its SHA-256 manifest")
        }
        let member = try file.map(offset: entry.dataOffset, count: entry.compressedSize)
        let actual = member.withBytes { ChecksumManifest.hex(SHA256.hash(data: $0)) }
        guard actual == expected else {
            throw Failure(description: "\(executable): member \(name) does not match its SHA-256 (tampered or damaged): refusing to run it")
        }

        let directory = cacheDirectory() + "/gpu-" + expected.prefix(16)
        try makeDirectory(directory)
        let path = directory + "/" + name
        if let fd = openMatching(path, digest: expected) { return (path, fd) }
        // Write a fresh copy beside it, then rename over: a reader never sees half a file.
        let temporary = path + ".tmp.\(getpid())"
        let out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o700)
        guard out >= 0 else { throw Failure(description: "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let written = member.withBytes { bytes -> Bool in
            var done = 0
            while done < bytes.count {
                let w = write(out, bytes.baseAddress! + done, bytes.count - done)
                if w < 0 && errno == EINTR { continue }
                if w <= 0 { return false }
                done += w
            }
            return true
        }
        close(out)
        guard written, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Failure(description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        guard let fd = openMatching(path, digest: expected) else {
            throw Failure(description: "\(path) changed while being written: refusing to run it")
        }
        return (path, fd)
    }

    /// $XDG_CACHE_HOME/swiftfile, ~/.cache/swiftfile, or a per-user directory under /tmp.
    static func cacheDirectory() -> String {
        if let xdg = getenv("XDG_CACHE_HOME"), xdg.pointee != 0 { return String(cString: xdg) + "/swiftfile" }
        if let home = getenv("HOME"), home.pointee != 0 { return String(cString: home) + "/.cache/swiftfile" }
        return "/tmp/swiftfile-\(getuid())"
    }

    private static func makeDirectory(_ path: String) throws {
        var prefix = ""
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw Failure(description: "cannot create \(prefix): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// An open descriptor of `path` if its contents hash to `digest`.
    private static func openMatching(_ path: String, digest: String) -> Int32? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { close(fd); return nil }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        guard ChecksumManifest.hex(hasher.finalize()) == digest else { close(fd); return nil }
        return fd
    }
}
#endif
