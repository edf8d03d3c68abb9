import XCTest
@testable import Server

final class JSONParserTests: XCTestCase {
    func parse(_ text: String, depth: Int = 64) throws -> JSONValue { try JSONParser.parse(Array(text.utf8), maximumDepth: depth) }

    func testParsesAndSerializesCompactly() throws {
        let value = try parse(#" { "a" : [1, -2.5, true, false, null, "x\ny\"z"], "b": {"c": 1e3} } "#)
        XCTAssertEqual(value.serialized, #"{"a":[1,-2.5,true,false,null,"x\ny\"z"],"b":{"c":1000}}"#)
        XCTAssertEqual(value["b"]?["c"], .number(1000))
    }

    func testKeepsKeyOrder() throws {
        XCTAssertEqual(try parse(#"{"z":1,"a":2,"m":3}"#).serialized, #"{"z":1,"a":2,"m":3}"#)
    }

    func testEscapesAndSurrogates() throws {
        XCTAssertEqual(try parse(#""\u00e9\ud83d\ude00\/\t""#), .string("é😀/\t"))
        XCTAssertEqual(try parse(#""\ud83d""#), .string("\u{FFFD}"))       // lone high surrogate
        XCTAssertEqual(try parse(#""\ude00x""#), .string("\u{FFFD}x"))     // lone low surrogate
        XCTAssertEqual(JSONValue.string("a\u{01}\u{7F}").serialized, #""a\u0001\u007f""#)
    }

    func testMalformedInputsThrow() {
        for text in ["", "{", "[1,]", "{\"a\"}", "{\"a\":}", "01", "1.", "-", "tru", "\"abc", "\"a\u{01}\"", "[1] x", "{'a':1}", "\"\\x\"", "nul"] {
            XCTAssertThrowsError(try parse(text), "accepted \(text.debugDescription)")
        }
    }

    func testHundredThousandNestedBracketsIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000)
        XCTAssertThrowsError(try parse(deep)) { XCTAssertEqual($0 as? JSONParseError, .tooDeep(limit: 64)) }
        let deepObjects = String(repeating: "{\"a\":", count: 100_000)
        XCTAssertThrowsError(try parse(deepObjects)) { XCTAssertEqual($0 as? JSONParseError, .tooDeep(limit: 64)) }
        XCTAssertNoThrow(try parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)))
        XCTAssertThrowsError(try parse(String(repeating: "[", count: 65) + String(repeating: "]", count: 65)))
    }

    func testNumbers() throws {
        XCTAssertEqual(try parse("1e12"), .number(1e12))
        XCTAssertEqual(try parse("-5"), .integer(-5))
        XCTAssertEqual(try parse("99999999999999999999"), .number(1e20))
        XCTAssertEqual(JSONValue.number(.nan).serialized, "null")
        XCTAssertEqual(JSONValue.number(0.5).serialized, "0.5")
    }

    func testInvalidUTF8InStringsBecomesReplacement() throws {
        XCTAssertEqual(try JSONParser.parse([0x22, 0xFF, 0x61, 0x22]), .string("\u{FFFD}a"))
    }
}
