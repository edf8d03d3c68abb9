import Foundation
import XCTest

/// Paths and process helpers shared by the end-to-end tests, which run the release executables that
/// `make test` builds first (or $SWIFTFILE_BIN / $SWIFTFILE_PACK_BIN).
enum E2E {
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// `testdata/` in the clone (filled by `make models`), or $SWIFTFILE_TESTDATA.
    static var testdata: URL {
        if let env = ProcessInfo.processInfo.environment["SWIFTFILE_TESTDATA"], !env.isEmpty { return URL(fileURLWithPath: env) }
        return packageRoot.appendingPathComponent("testdata")
    }

    /// A fixture that must exist: its absence fails the test (make test fills testdata/ first).
    static func testdataFile(_ relative: String) throws -> URL {
        try existing(testdata.appendingPathComponent(relative), hint: "run `make models` (make test does)")
    }

    /// A model under .cache/models (SmolLM2, from `make models`); missing fails the test.
    static func cachedModel(_ name: String) throws -> URL {
        try existing(packageRoot.appendingPathComponent(".cache/models/\(name)"), hint: "run `make models` (make test does)")
    }

    struct MissingFixture: Error, CustomStringConvertible {
        let path: String, hint: String
        var description: String { "missing \(path): \(hint)" }
    }

    private static func existing(_ url: URL, hint: String) throws -> URL {
        guard FileManager.default.fileExists(atPath: url.path) else { throw MissingFixture(path: url.path, hint: hint) }
        return url
    }

    static func binary(_ name: String, env: String) throws -> URL {
        if let path = ProcessInfo.processInfo.environment[env] { return URL(fileURLWithPath: path) }
        let url = packageRoot.appendingPathComponent(".build/release/\(name)")
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw MissingFixture(path: url.path, hint: "not built: run `make` first (make test does)")
        }
        return url
    }

    static func runner() throws -> URL { try binary("swiftfile", env: "SWIFTFILE_BIN") }
    static func packer() throws -> URL { try binary("swiftfile-pack", env: "SWIFTFILE_PACK_BIN") }

    struct Result {
        var status: Int32
        var signalled: Bool
        var stdout: String
        var stderr: String
        var seconds: Double
    }

    /// Runs an executable to completion, capturing both streams (read concurrently so neither pipe fills).
    @discardableResult
    static func run(_ executable: URL, _ arguments: [String], stdin: String? = nil, timeout: Double = 300,
                    environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        let start = Date()
        try process.run()
        if let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try? input.fileHandleForWriting.close()
        }
        let group = DispatchGroup()
        let collected = Collected()
        group.enter()
        DispatchQueue.global().async { collected.out = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { collected.err = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        group.wait()
        return Result(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                      stdout: String(decoding: collected.out, as: UTF8.self), stderr: String(decoding: collected.err, as: UTF8.self),
                      seconds: Date().timeIntervalSince(start))
    }

    /// Output of the two reader threads; each field is written by one thread and read after `group.wait()`.
    final class Collected: @unchecked Sendable { var out = Data(); var err = Data() }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("swiftfile-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
