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

    static var testdata: URL {
        if let env = ProcessInfo.processInfo.environment["SWIFTFILE_TESTDATA"] { return URL(fileURLWithPath: env) }
        return packageRoot.appendingPathComponent("../shared/testdata").standardized
    }

    static func testdataFile(_ relative: String) throws -> URL {
        let url = testdata.appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("missing test data \(url.path): set SWIFTFILE_TESTDATA or place ../shared/testdata beside the package")
        }
        return url
    }

    /// A model under .cache/models made by `make models`; skips when absent so `swift test` alone still runs.
    static func cachedModel(_ name: String) throws -> URL {
        let url = packageRoot.appendingPathComponent(".cache/models/\(name)")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("\(url.path) missing: run `make models` (make test does)")
        }
        return url
    }

    static func binary(_ name: String, env: String) throws -> URL {
        if let path = ProcessInfo.processInfo.environment[env] { return URL(fileURLWithPath: path) }
        let url = packageRoot.appendingPathComponent(".build/release/\(name)")
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            XCTFail("\(url.path) not built: run `make` first (make test does)")
            throw XCTSkip("no binary")
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
