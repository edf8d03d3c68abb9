#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over POSIX calls that turn errno into ContainerError.
enum System {
    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }

    static func openForReading(_ path: String) throws -> Int32 {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            let code = errno
            if code == ENOENT { throw ContainerError.fileNotFound(path: path) }
            throw ContainerError.cannotOpen(path: path, reason: errorText(code))
        }
        return descriptor
    }

    /// The size of a regular file; anything else (directory, device) is refused.
    static func regularFileSize(_ descriptor: Int32, path: String) throws -> UInt64 {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw ContainerError.ioFailure(path: path, operation: "stat", reason: errorText(errno))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ContainerError.cannotOpen(path: path, reason: "not a regular file")
        }
        return UInt64(max(0, info.st_size))
    }

    static func fileExists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// Reads exactly `count` bytes at `offset` (short only at end of file, which it reports as an error).
    static func readFully(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64, path: String) throws {
        var done = 0
        while done < buffer.count {
            guard let base = buffer.baseAddress else { return }
            let result = pread(descriptor, base + done, buffer.count - done, off_t(offset) + off_t(done))
            if result < 0 {
                if errno == EINTR { continue }
                throw ContainerError.ioFailure(path: path, operation: "read", reason: errorText(errno))
            }
            if result == 0 {
                throw ContainerError.ioFailure(path: path, operation: "read", reason: "file shrank while being read (at offset \(offset + UInt64(done)))")
            }
            done += result
        }
    }

    static func writeFully(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, at offset: UInt64, path: String) throws {
        var done = 0
        while done < bytes.count {
            guard let base = bytes.baseAddress else { return }
            let result = pwrite(descriptor, base + done, bytes.count - done, off_t(offset) + off_t(done))
            if result < 0 {
                if errno == EINTR { continue }
                throw ContainerError.ioFailure(path: path, operation: "write", reason: errorText(errno))
            }
            done += result
        }
    }
}
