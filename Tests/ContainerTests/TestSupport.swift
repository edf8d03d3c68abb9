import Foundation
import XCTest
@testable import Container

/// A scratch folder removed when the test ends.
final class ScratchDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/container-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    func read(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: file(name))))
    }
}

/// Deterministic pseudo-random bytes (xorshift) so test inputs are reproducible.
func pseudoRandomBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    var bytes = [UInt8](repeating: 0, count: count)
    for index in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        bytes[index] = UInt8(truncatingIfNeeded: state)
    }
    return bytes
}

/// Bytes of a fake GGUF: the magic, then filler.
func fakeGGUF(count: Int, seed: UInt64) -> [UInt8] {
    Array("GGUF".utf8) + pseudoRandomBytes(count: max(0, count - 4), seed: seed)
}

struct ProcessResult {
    let status: Int32
    let output: String
}

/// Runs a program found on PATH; nil when it is not installed.
func runTool(_ name: String, _ arguments: [String], currentDirectory: String? = nil) throws -> ProcessResult? {
    guard let executable = findOnPath(name) else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}

func findOnPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// Writes a bundle: `prefix` bytes, then the given members, with our writer.
@discardableResult
func writeBundle(
    to path: String, prefix: [UInt8], members: [(String, [UInt8])], alignment: UInt64 = 65_536,
    scratch: ScratchDirectory
) throws -> [ZipWriter.WrittenMember] {
    let output = PartedOutput(path: path, mode: 0o755)
    let writer = try ZipWriter(output: output, alignment: alignment)
    let prefixPath = try scratch.write("prefix-\(UUID().uuidString)", prefix)
    try writer.appendPrefix(fromFile: prefixPath)
    for (name, bytes) in members {
        // Large members go through the file-streaming path, small ones through the in-memory one.
        if bytes.count > 1000 {
            let source = try scratch.write("member-\(UUID().uuidString)", bytes)
            try writer.addMember(name: name, fromFile: source)
        } else {
            try writer.addMember(name: name, bytes: bytes)
        }
    }
    try writer.finish()
    try output.close()
    return writer.members
}

/// A copy of a mapped region's bytes, taken while the mapping is certainly alive.
func contents(_ region: MappedRegion) -> [UInt8] {
    region.withBytes { Array($0) }
}

/// A command-line tool a test needs is absent: a failure, not a skip (Tools/setup-venv.sh installs them).
struct MissingTool: Error, CustomStringConvertible {
    let name: String
    var description: String { "\(name) is not installed (Tools/setup-venv.sh installs it; make test runs that)" }
}
