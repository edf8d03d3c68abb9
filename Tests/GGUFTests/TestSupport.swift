import Foundation
import XCTest
@testable import GGUF

/// Raw little-endian byte building for files the writer refuses to produce (bad counts, bad types).
struct RawBytes {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); bytes.append(contentsOf: Array(s.utf8)) }

    /// Magic, version, tensor count, metadata count.
    mutating func header(version: UInt32 = 3, tensors: UInt64, keys: UInt64) {
        bytes.append(contentsOf: Array("GGUF".utf8))
        u32(version)
        u64(tensors)
        u64(keys)
    }

    /// A key with a u32 value.
    mutating func keyU32(_ key: String, _ value: UInt32) { string(key); u32(GGUFValueType.uint32.rawValue); u32(value) }

    /// A tensor info: name, dimensions, type id, offset.
    mutating func tensorInfo(_ name: String, dimensions: [UInt64], type: UInt32, offset: UInt64) {
        string(name)
        u32(UInt32(dimensions.count))
        for d in dimensions { u64(d) }
        u32(type)
        u64(offset)
    }

    /// Zero padding up to a multiple of `alignment`, then `count` data bytes.
    mutating func padAndData(alignment: Int = 32, count: Int) {
        while bytes.count % alignment != 0 { bytes.append(0) }
        bytes.append(contentsOf: (0..<count).map { UInt8(truncatingIfNeeded: $0) })
    }
}

extension XCTestCase {
    /// Parses `bytes` and asserts that it throws exactly `expected`.
    func assertThrows(_ bytes: [UInt8], _ expected: GGUFError, file: StaticString = #filePath, line: UInt = #line) {
        do {
            let parsed = try GGUFFile.parse(bytes)
            XCTFail("expected \(expected), parsed \(parsed.tensors.count) tensors", file: file, line: line)
        } catch let error as GGUFError {
            XCTAssertEqual(error, expected, file: file, line: line)
        } catch {
            XCTFail("expected GGUFError, got \(error)", file: file, line: line)
        }
    }

    /// Parses `bytes` and asserts that it throws a GGUFError that `matches` accepts.
    func assertThrows(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line, matching matches: (GGUFError) -> Bool) {
        do {
            _ = try GGUFFile.parse(bytes)
            XCTFail("expected a GGUFError, parsing succeeded", file: file, line: line)
        } catch let error as GGUFError {
            XCTAssertTrue(matches(error), "unexpected error: \(error)", file: file, line: line)
        } catch {
            XCTFail("expected GGUFError, got \(error)", file: file, line: line)
        }
    }

    /// Asserts a `.badTensor` error for `name` whose reason contains `reasonPart`.
    func assertBadTensor(_ bytes: [UInt8], name: String, reasonContains reasonPart: String, file: StaticString = #filePath, line: UInt = #line) {
        assertThrows(bytes, file: file, line: line) { error in
            guard case .badTensor(let n, let reason) = error else { return false }
            return n == name && reason.contains(reasonPart)
        }
    }
}

/// Folder of the fixtures: $SWIFTFILE_TESTDATA, else testdata/ in the clone (filled by `make models`).
func testdataDirectory(file: StaticString = #filePath) throws -> URL {
    if let override = ProcessInfo.processInfo.environment["SWIFTFILE_TESTDATA"], !override.isEmpty {
        return URL(fileURLWithPath: override)
    }
    // #filePath is <root>/Tests/GGUFTests/TestSupport.swift.
    let root = URL(fileURLWithPath: "\(file)").deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let directory = root.appendingPathComponent("testdata")
    guard FileManager.default.fileExists(atPath: directory.path) else {
        throw MissingTestData(path: directory.path)
    }
    return directory
}

struct MissingTestData: Error, CustomStringConvertible {
    let path: String
    var description: String { "test data missing: expected \(path) (run `make models`; make test does)" }
}
