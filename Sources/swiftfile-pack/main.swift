import ArgumentParser
import Container
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Bundles a runner and GGUF weights into one executable (a llamafile-compatible ZIP at its tail).
struct SwiftfilePack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftfile-pack",
        abstract: "Bundle the swiftfile runner and GGUF weights into one executable file.",
        discussion: """
        Examples:
          swiftfile-pack -o Model.llamafile model.gguf
          swiftfile-pack -o Model.llamafile --args "-c 4096 ..." --split 2G model.gguf
          swiftfile-pack --list Model.llamafile
          swiftfile-pack --verify Model.llamafile
        """)

    @Option(name: .shortAndLong, help: "The bundle to write.")
    var output: String?

    @Option(help: "The runner executable to put first (default: swiftfile beside swiftfile-pack).")
    var runner: String?

    @Option(name: .customLong("args"), parsing: .unconditional, help: "Default arguments stored as the .args member ('...' marks where the user's go).")
    var defaultArguments: String?

    @Option(name: .customLong("args-file"), help: "A file whose text becomes the .args member.")
    var argumentsFile: String?

    @Option(help: "Write parts of this size (50G, 2G, 10M, 1500K, or bytes) named X.cat0.llamafile, X.cat1.llamafile, …")
    var split: String?

    @Option(help: "List the members of a bundle (name, size, data offset, method) and exit.")
    var list: String?

    @Option(help: "Recompute every member's SHA-256 and CRC-32, compare with the .sha256 member; exit 1 on mismatch.")
    var verify: String?

    @Flag(help: "Overwrite an existing output.")
    var force = false

    @Option(name: .customLong("gpu-worker"), help: "The GPU worker to include (default: swiftfile-gpu beside the runner, when present).")
    var gpuWorker: String?

    @Flag(name: .customLong("no-gpu-worker"), help: "Leave the GPU worker out (a CPU-only bundle).")
    var noGPUWorker = false

    @Flag(help: "Show progress even when stderr is not a terminal.")
    var progress = false

    @Argument(help: "The GGUF weights, then any extra files to include.")
    var files: [String] = []

    func run() throws {
        do {
            if let list {
                try listMembers(list)
            } else if let verify {
                try verifyBundle(verify)
            } else {
                try pack()
            }
        } catch let error as ContainerError {
            fail(error.description)
        } catch let error as PackUsageError {
            fail(error.message)
        }
    }

    private func fail(_ message: String) -> Never {
        printError("swiftfile-pack: error: \(message)")
        Foundationless.exit(1)
    }

    private func pack() throws {
        guard let output else { throw PackUsageError("missing -o OUTPUT (see --help)") }
        guard let weights = files.first else { throw PackUsageError("missing the model.gguf to pack (see --help)") }
        if defaultArguments != nil && argumentsFile != nil {
            throw PackUsageError("give --args or --args-file, not both")
        }
        var argumentsText = defaultArguments
        if let argumentsFile {
            let file = try MappedFile(path: argumentsFile)
            let bytes = file.size > 0 ? try file.mapAll().withBytes { Array($0) } : []
            guard let text = String(validatingUTF8Bytes: bytes) else { throw ContainerError.argsNotUTF8(source: argumentsFile) }
            argumentsText = text
        }
        var splitSize: UInt64?
        if let split {
            guard let size = ByteCount.parse(split) else {
                throw PackUsageError("--split \(split): expected a size such as 50G, 2G, 10M, 1500K or a byte count")
            }
            splitSize = size
        }
        let runnerPath = try runner ?? defaultRunner()
        let options = PackOptions(
            output: output, runner: runnerPath, defaultArguments: argumentsText, weights: weights,
            extraFiles: Array(files.dropFirst()) + (try workerFiles(runner: runnerPath)), splitSize: splitSize, force: force)
        let meter = ProgressMeter(label: "packing", enabled: progress || isatty(2) != 0)
        let temporaryFiles = TemporaryFiles()
        SignalCleanup.install(temporaryFiles)
        let result = try BundlePacker.pack(options, temporaryFiles: temporaryFiles) { done, total in
            meter.update(done: done, total: total)
        }
        meter.finish()
        for path in result.outputPaths {
            print(path)
        }
        let stale = result.staleParts
        if !stale.isEmpty {
            printError("swiftfile-pack: warning: older parts remain and would corrupt a join: \(stale.joined(separator: " "))")
        }
        let ggufCount = result.members.filter { $0.name.lowercased().hasSuffix(".gguf") }.count
        if ggufCount > 1 {
            printError("swiftfile-pack: warning: \(ggufCount) .gguf members; the runner will need -m BUNDLE@MEMBER")
        }
    }

    /// The GPU worker travels in the bundle as the member `swiftfile-gpu` (the runner checks it against the
    /// bundle's SHA-256 manifest before running it).
    private func workerFiles(runner: String) throws -> [String] {
        if noGPUWorker { return [] }
        if let gpuWorker {
            guard access(gpuWorker, R_OK) == 0 else { throw PackUsageError("no GPU worker at \(gpuWorker)") }
            guard gpuWorker.split(separator: "/").last == "swiftfile-gpu" else { throw PackUsageError("the GPU worker must be named swiftfile-gpu") }
            return [gpuWorker]
        }
        let directory = runner.lastIndex(of: "/").map { String(runner[...$0]) } ?? "./"
        let beside = directory + "swiftfile-gpu"
        return access(beside, R_OK) == 0 && !files.dropFirst().contains(where: { $0.hasSuffix("/swiftfile-gpu") || $0 == "swiftfile-gpu" }) ? [beside] : []
    }

    private func defaultRunner() throws -> String {
        let own = try MappedFile.executablePath()
        let directory = own.lastIndex(of: "/").map { String(own[...$0]) } ?? "./"
        let candidate = directory + "swiftfile"
        guard access(candidate, X_OK) == 0 else {
            throw PackUsageError("no runner at \(candidate); build it (swift build --product swiftfile) or pass --runner PATH")
        }
        return candidate
    }

    private func listMembers(_ path: String) throws {
        let archive = try ZipArchive(path: path)
        print(pad("SIZE", 15) + "  " + pad("DATA OFFSET", 15) + "  " + pad("METHOD", 8) + "  CRC-32    NAME")
        for entry in archive.entries {
            let method = entry.method == 0 ? "stored" : entry.method == 8 ? "deflate" : "method \(entry.method)"
            print(pad(String(entry.uncompressedSize), 15) + "  " + pad(String(entry.dataOffset), 15) + "  "
                + pad(method, 8) + "  " + hex32(entry.crc32) + "  " + entry.name)
        }
    }

    private func verifyBundle(_ path: String) throws {
        let meter = ProgressMeter(label: "verifying", enabled: progress || isatty(2) != 0)
        let report = try ArchiveVerifier.verify(path: path) { done, total in meter.update(done: done, total: total) }
        meter.finish()
        for result in report.results {
            switch result.outcome {
            case .ok(let sha256Checked):
                print("OK       \(result.name)\(sha256Checked ? "" : " (CRC-32 only: not in .sha256)")")
            case .skippedCompressed:
                print("SKIPPED  \(result.name) (compressed)")
            case .crcMismatch(let expected, let actual):
                print("FAILED   \(result.name) (CRC-32 \(hex32(actual)), recorded \(hex32(expected)))")
            case .sha256Mismatch(let expected, let actual):
                print("FAILED   \(result.name) (SHA-256 \(actual), packed as \(expected))")
            case .missing:
                print("FAILED   \(result.name) (listed in .sha256 but not in the archive)")
            }
        }
        if !report.hasManifest {
            printError("swiftfile-pack: note: \(path) has no .sha256 member; checked CRC-32 only")
        }
        if !report.passed { fail("\(path): verification failed") }
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    private func hex32(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

struct PackUsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Progress on stderr ("packing  1.20 GiB / 4.00 GiB  30%  850.00 MiB/s"), only for inputs over 64 MiB,
/// redrawn at most four times a second.
final class ProgressMeter {
    private let label: String
    private let enabled: Bool
    private let start = monotonicSeconds()
    private var lastDraw = 0.0
    private var drawn = false
    private static let threshold: UInt64 = 64 << 20

    init(label: String, enabled: Bool) {
        self.label = label
        self.enabled = enabled
    }

    func update(done: UInt64, total: UInt64) {
        guard enabled, total > Self.threshold else { return }
        let now = monotonicSeconds()
        guard now - lastDraw >= 0.25 || done == total else { return }
        lastDraw = now
        let elapsed = max(now - start, 1e-6)
        let rate = UInt64(Double(done) / elapsed)
        let percent = total > 0 ? done * 100 / total : 100
        printError("\r\(label)  \(ByteCount.format(done)) / \(ByteCount.format(total))  \(percent)%  \(ByteCount.format(rate))/s   ", newline: false)
        drawn = true
    }

    func finish() {
        if drawn { printError("") }
    }
}

func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func printError(_ message: String, newline: Bool = true) {
    let text = newline ? message + "\n" : message
    _ = text.utf8CString.withUnsafeBufferPointer { buffer in
        fputs(buffer.baseAddress, stderr)
    }
    fflush(stderr)
}

enum Foundationless {
    static func exit(_ code: Int32) -> Never {
        fflush(stdout)
        #if canImport(Glibc)
        Glibc.exit(code)
        #elseif canImport(Musl)
        Musl.exit(code)
        #else
        Darwin.exit(code)
        #endif
    }
}

extension String {
    /// nil when the bytes are not valid UTF-8.
    init?(validatingUTF8Bytes bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.utf8.elementsEqual(bytes) else { return nil }
        self = text
    }
}

SwiftfilePack.main()
