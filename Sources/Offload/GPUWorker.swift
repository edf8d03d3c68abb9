#if canImport(Glibc)
import Glibc
#endif

/// Why the GPU cannot be used, as one line for the user; `kind` tells fallback policy apart from bugs.
public struct GPUError: Error, CustomStringConvertible {
    public enum Kind: Sendable { case unavailable, noMemory, failed }
    public let kind: Kind
    public let description: String
    /// From a failed probe: how many GPUs the driver sees (0: none, or not known).
    public var deviceCount = 0
    public init(_ kind: Kind, _ description: String) { self.kind = kind; self.description = description }
}

/// The numbers of GPU/protocol.h (the worker's side of the protocol).
enum WorkerProtocol {
    static let magic: UInt32 = 0x3147_4653
    static let version: UInt32 = 2
    enum Op: UInt32 { case probe = 1, load = 2, forward = 3, quit = 4, shift = 5 }
    enum Status: Int32 { case ok = 0, noDevice = 1, noMemory = 2, badRequest = 3, failed = 4 }
    static let replyBytes = 256
    static let requestBytes = 16
    /// Header fields, in order (H_MAGIC … H_TENSORS).
    static let headerFields = 19
    enum Role: UInt32 { case attentionNorm = 0, query, key, value, attentionOutput, ffnNorm, gate, up, down, outputNorm, output }
    static let globalLayer: UInt32 = 0xFFFF_FFFF
    /// A forward request's payload asking for the last layer's output rather than logits (SFG_HIDDEN).
    static let hiddenPayload: UInt64 = 1 << 32
    static let tensorRecordBytes = 48

    struct Layout { var x = 0, rope = 0, info = 0, wanted = 0, out = 0, total = 0 }
    static func layout(embedding: Int, ropeDimension: Int, vocabulary: Int, maxBatch: Int) -> Layout {
        func align(_ v: Int) -> Int { (v + 4095) & ~4095 }
        var l = Layout()
        l.rope = align(maxBatch * embedding * 4)
        l.info = align(l.rope + maxBatch * ropeDimension * 4)
        l.wanted = align(l.info + maxBatch * 8)
        l.out = align(l.wanted + maxBatch * 4)
        l.total = align(l.out + maxBatch * max(vocabulary, embedding) * 4)
        return l
    }
}

/// One reply of the worker.
struct WorkerReply {
    var status: WorkerProtocol.Status
    var value: UInt32
    var freeBytes: UInt64
    var totalBytes: UInt64
    var text: String
}

/// The GPU worker process (GPU/worker.c) and the shared memory both map. One request at a time.
/// If the process dies, every later request fails with `.failed` (the runner decides what to do).
public final class GPUWorkerProcess: @unchecked Sendable {
    public let executable: String
    let shared: UnsafeMutableRawPointer
    let sharedBytes: Int
    private let requestFD: Int32
    private let replyFD: Int32
    private let pid: pid_t
    private var dead = false
    private var reaped = false

    /// Starts `executable` with `sharedBytes` of shared memory. `executableFD`, when given, is an open
    /// descriptor of the verified binary: the process is started from it (/proc/self/fd), so what runs is
    /// exactly what was checked even if the path is replaced meanwhile.
    public init(executable: String, executableFD: Int32? = nil, sharedBytes: Int) throws {
        self.executable = executable
        self.sharedBytes = sharedBytes
        // Shared memory: an unlinked file in /dev/shm (tmpfs), else in the temporary directory.
        var fd: Int32 = -1
        for dir in ["/dev/shm", (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp")] {
            var template = Array("\(dir)/swiftfile-gpu-XXXXXX".utf8CString)
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
                break
            }
        }
        guard fd >= 0 else { throw GPUError(.unavailable, "cannot create shared memory for the GPU worker: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard ftruncate(fd, off_t(sharedBytes)) == 0 else {
            throw GPUError(.unavailable, "cannot size \(sharedBytes >> 20) MiB of shared memory for the GPU worker")
        }
        guard let map = mmap(nil, sharedBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), map != MAP_FAILED else {
            throw GPUError(.unavailable, "cannot map shared memory for the GPU worker")
        }
        shared = map
        var request: [Int32] = [0, 0], reply: [Int32] = [0, 0]
        guard pipe(&request) == 0, pipe(&reply) == 0 else {
            munmap(map, sharedBytes)
            throw GPUError(.unavailable, "cannot create pipes for the GPU worker")
        }
        for f in request + reply { _ = fcntl(f, F_SETFD, FD_CLOEXEC) }
        // Move the child's ends above 100 first, so the dup2s onto 3, 4, 5 cannot overwrite each other.
        let childShared = fcntl(fd, F_DUPFD_CLOEXEC, 100), childRequest = fcntl(request[0], F_DUPFD_CLOEXEC, 100)
        let childReply = fcntl(reply[1], F_DUPFD_CLOEXEC, 100)
        defer { for f in [childShared, childRequest, childReply, request[0], reply[1]] where f >= 0 { close(f) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, childShared, 3)
        posix_spawn_file_actions_adddup2(&actions, childRequest, 4)
        posix_spawn_file_actions_adddup2(&actions, childReply, 5)
        // The executable's descriptor, too, must not sit on 3–5, which the dup2s above overwrite in the child.
        let programFD = executableFD.map { fcntl($0, F_DUPFD_CLOEXEC, 100) }
        defer { if let programFD, programFD >= 0 { close(programFD) } }
        let path = programFD.map { "/proc/self/fd/\($0)" } ?? executable
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(executable), nil]
        defer { for a in argv { free(a) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, path, &actions, nil, argv, environ)
        guard status == 0 else {
            munmap(map, sharedBytes)
            close(request[1]); close(reply[0])
            throw GPUError(.unavailable, "cannot start the GPU worker \(executable): \(String(cString: strerror(status)))")
        }
        pid = child
        requestFD = request[1]
        replyFD = reply[0]
        // A worker that dies must not kill us with SIGPIPE on the next request.
        signal(SIGPIPE, SIG_IGN)
    }

    deinit {
        if !dead {
            var quit = [UInt8](repeating: 0, count: WorkerProtocol.requestBytes)
            quit[0] = UInt8(WorkerProtocol.Op.quit.rawValue)
            _ = quit.withUnsafeBytes { write(requestFD, $0.baseAddress, $0.count) }
        }
        close(requestFD)
        close(replyFD)
        if !reaped {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        munmap(shared, sharedBytes)
    }

    /// Sends one request and waits for its reply.
    func call(_ op: WorkerProtocol.Op, n: UInt32 = 0, payload: UInt64 = 0) throws -> WorkerReply {
        guard !dead else { throw GPUError(.failed, "the GPU worker has stopped") }
        var request = [UInt8](repeating: 0, count: WorkerProtocol.requestBytes)
        withUnsafeBytes(of: op.rawValue.littleEndian) { request.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: n.littleEndian) { request.replaceSubrange(4..<8, with: $0) }
        withUnsafeBytes(of: payload.littleEndian) { request.replaceSubrange(8..<16, with: $0) }
        guard request.withUnsafeBytes({ writeAll(requestFD, $0) }) else { return try died() }
        var reply = [UInt8](repeating: 0, count: WorkerProtocol.replyBytes)
        guard reply.withUnsafeMutableBytes({ readAll(replyFD, $0) }) else { return try died() }
        func u32(_ at: Int) -> UInt32 { reply[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        func u64(_ at: Int) -> UInt64 { reply[at..<at + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        let textBytes = reply[24...].prefix { $0 != 0 }
        return WorkerReply(status: WorkerProtocol.Status(rawValue: Int32(bitPattern: u32(0))) ?? .failed, value: u32(4),
                           freeBytes: u64(8), totalBytes: u64(16), text: String(decoding: textBytes, as: UTF8.self))
    }

    private func died() throws -> WorkerReply {
        dead = true
        // Its end of the pipe closed: it is exiting. Give it a moment to be reaped, then make sure.
        var status: Int32 = 0
        var exited = false
        for _ in 0..<200 {
            if waitpid(pid, &status, WNOHANG) == pid { exited = true; break }
            usleep(1000)
        }
        if !exited {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
        }
        reaped = true
        let how: String
        if !exited { how = "stopped answering" }
        else if (status & 0x7f) != 0 { how = "was killed by signal \(status & 0x7f)" }
        else { how = "exited with status \((status >> 8) & 0xff)" }
        throw GPUError(.failed, "the GPU worker \(how)")
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count {
            let w = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if w < 0 && errno == EINTR { continue }
            if w <= 0 { return false }
            done += w
        }
        return true
    }

    private func readAll(_ fd: Int32, _ bytes: UnsafeMutableRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count {
            let r = read(fd, bytes.baseAddress! + done, bytes.count - done)
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { return false }
            done += r
        }
        return true
    }
}
