import XCTest
@testable import GGUF

/// Writer → reader: every value type, every array element type, both versions.
final class RoundTripTests: XCTestCase {
    /// One sample per scalar type, including the extremes of each range.
    static let scalars: [(String, GGUFValue)] = [
        ("u8", .uint8(255)), ("i8", .int8(-128)), ("u16", .uint16(65535)), ("i16", .int16(-32768)),
        ("u32", .uint32(UInt32.max)), ("i32", .int32(Int32.min)), ("f32", .float32(-1.5e-7)),
        ("bool.true", .bool(true)), ("bool.false", .bool(false)),
        ("string", .string("héllo wörld ✓ 🦙")), ("string.empty", .string("")),
        ("u64", .uint64(UInt64.max)), ("i64", .int64(Int64.min)), ("f64", .float64(3.141592653589793)),
    ]

    /// One array per element type (arrays cannot nest).
    static let arrays: [(String, GGUFValue)] = [
        ("a.u8", .array(.uint8, [.uint8(0), .uint8(1), .uint8(255)])),
        ("a.i8", .array(.int8, [.int8(-1), .int8(127)])),
        ("a.u16", .array(.uint16, [.uint16(7), .uint16(65535)])),
        ("a.i16", .array(.int16, [.int16(-300)])),
        ("a.u32", .array(.uint32, [.uint32(1), .uint32(2), .uint32(3)])),
        ("a.i32", .array(.int32, [.int32(-2), .int32(2_000_000_000)])),
        ("a.f32", .array(.float32, [.float32(0.5), .float32(-2), .float32(1e30)])),
        ("a.bool", .array(.bool, [.bool(true), .bool(false), .bool(true)])),
        ("a.string", .array(.string, [.string("a"), .string(""), .string("<|begin_of_text|>")])),
        ("a.u64", .array(.uint64, [.uint64(UInt64.max), .uint64(0)])),
        ("a.i64", .array(.int64, [.int64(-5)])),
        ("a.f64", .array(.float64, [.float64(-0.25), .float64(1e300)])),
        ("a.empty", .array(.uint32, [])),
        ("a.empty.string", .array(.string, [])),
    ]

    func roundTrip(version: UInt32) throws {
        var writer = GGUFWriter()
        writer.version = version
        for (key, value) in Self.scalars + Self.arrays { writer.set(key, value) }
        let file = try GGUFFile.parse(writer.bytes())
        XCTAssertEqual(file.version, version)
        XCTAssertEqual(file.keys, (Self.scalars + Self.arrays).map(\.0), "keys keep file order")
        for (key, value) in Self.scalars + Self.arrays {
            XCTAssertEqual(file.metadata[key], value, key)
            XCTAssertEqual(file.metadata[key]?.type, value.type, key)
        }
        XCTAssertTrue(file.tensors.isEmpty)
        XCTAssertEqual(file.alignment, 32)
    }

    func testEveryValueTypeVersion3() throws { try roundTrip(version: 3) }
    func testEveryValueTypeVersion2() throws { try roundTrip(version: 2) }

    func testExactBytesOfASmallFile() throws {
        var writer = GGUFWriter()
        writer.set("k", .uint32(7))
        let expected: [UInt8] = Array("GGUF".utf8) + [3, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 0] + [1, 0, 0, 0, 0, 0, 0, 0]
            + [1, 0, 0, 0, 0, 0, 0, 0] + [UInt8(ascii: "k")] + [4, 0, 0, 0] + [7, 0, 0, 0]
        // No tensors: the writer still pads the file to the alignment.
        XCTAssertEqual(writer.bytes(), expected + Array(repeating: 0, count: 64 - expected.count))
    }

    func testWriterSetReplacesExistingKey() throws {
        var writer = GGUFWriter()
        writer.set("a", .uint8(1))
        writer.set("b", .uint8(2))
        writer.set("a", .string("again"))
        let file = try GGUFFile.parse(writer.bytes())
        XCTAssertEqual(file.keys, ["a", "b"])
        XCTAssertEqual(file.metadata["a"], .string("again"))
    }

    func testNaNSurvivesAsBits() throws {
        var writer = GGUFWriter()
        writer.set("nan", .float32(Float(bitPattern: 0x7FC0_0001)))
        writer.set("nan64", .float64(-Double.nan))
        let file = try GGUFFile.parse(writer.bytes())
        guard case .float32(let f) = file.metadata["nan"], case .float64(let d) = file.metadata["nan64"] else {
            return XCTFail("NaN values lost their type")
        }
        XCTAssertEqual(f.bitPattern, 0x7FC0_0001)
        XCTAssertTrue(d.isNaN)
        XCTAssertEqual(d.sign, .minus)
    }

    func testInvalidUTF8IsReplacedNotTrusted() throws {
        var raw = RawBytes()
        raw.header(tensors: 0, keys: 1)
        raw.string("k")
        raw.u32(GGUFValueType.string.rawValue)
        raw.u64(3)
        raw.bytes += [0x61, 0xFF, 0x62]
        let file = try GGUFFile.parse(raw.bytes)
        XCTAssertEqual(file.metadata["k"], .string("a\u{FFFD}b"))
    }

    // MARK: - Typed accessors

    func makeAccessorFile() throws -> GGUFFile {
        var writer = GGUFWriter()
        writer.set("name", .string("tiny"))
        writer.set("count", .uint32(4))
        writer.set("negative", .int64(-9))
        writer.set("huge", .uint64(UInt64.max))
        writer.set("eps", .float32(1e-5))
        writer.set("flag", .bool(true))
        writer.set("tokens", .array(.string, [.string("a"), .string("b")]))
        writer.set("scores", .array(.float32, [.float32(0.5), .float32(-1)]))
        writer.set("types", .array(.int32, [.int32(1), .int32(3)]))
        writer.set("big.ids", .array(.uint64, [.uint64(1), .uint64(UInt64.max)]))
        return try GGUFFile.parse(writer.bytes())
    }

    func testTypedAccessorsReturnValuesAndNilForAbsentKeys() throws {
        let file = try makeAccessorFile()
        XCTAssertEqual(try file.string("name"), "tiny")
        XCTAssertEqual(try file.integer("count"), 4)
        XCTAssertEqual(try file.integer("negative"), -9)
        XCTAssertEqual(try file.float("eps"), Double(Float(1e-5)))
        XCTAssertEqual(try file.float("count"), 4, "integers widen to numbers")
        XCTAssertEqual(try file.bool("flag"), true)
        XCTAssertEqual(try file.stringArray("tokens"), ["a", "b"])
        XCTAssertEqual(try file.floatArray("scores"), [0.5, -1])
        XCTAssertEqual(try file.integerArray("types"), [1, 3])
        XCTAssertNil(try file.string("absent"))
        XCTAssertNil(try file.integer("absent"))
        XCTAssertNil(try file.float("absent"))
        XCTAssertNil(try file.bool("absent"))
        XCTAssertNil(try file.stringArray("absent"))
        XCTAssertNil(try file.floatArray("absent"))
        XCTAssertNil(try file.integerArray("absent"))
    }

    func testTypedAccessorsThrowWrongTypeNamingTheKey() throws {
        let file = try makeAccessorFile()
        func expectWrongType(_ key: String, _ body: () throws -> Any?) {
            XCTAssertThrowsError(try body(), key) { error in
                guard case .wrongType(let k, _, _)? = error as? GGUFError else { return XCTFail("\(key): \(error)") }
                XCTAssertEqual(k, key)
            }
        }
        expectWrongType("count") { try file.string("count") }
        expectWrongType("name") { try file.integer("name") }
        expectWrongType("huge") { try file.integer("huge") }  // does not fit in Int
        expectWrongType("name") { try file.float("name") }
        expectWrongType("count") { try file.bool("count") }
        expectWrongType("scores") { try file.stringArray("scores") }
        expectWrongType("tokens") { try file.floatArray("tokens") }
        expectWrongType("scores") { try file.integerArray("scores") }
        expectWrongType("big.ids") { try file.integerArray("big.ids") }
        expectWrongType("name") { try file.stringArray("name") }
    }
}
