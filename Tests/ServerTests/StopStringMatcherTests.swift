import XCTest
@testable import Engine

final class StopStringMatcherTests: XCTestCase {
    /// Feeds pieces, returns what was emitted in total and the matched stop string.
    func run(_ stops: [String], _ pieces: [String]) -> (String, String?) {
        var matcher = StopStringMatcher(stops)
        var out = ""
        for piece in pieces { out += matcher.push(piece) }
        out += matcher.flush()
        return (out, matcher.matched)
    }

    func testStopStringSplitAcrossTokensIsNotEmitted() {
        XCTAssertEqual(run(["</end>"], ["Hello </", "en", "d> after"]).0, "Hello ")
        XCTAssertEqual(run(["</end>"], ["Hello </", "en", "d> after"]).1, "</end>")
    }

    func testPartialPrefixIsHeldThenReleased() {
        var matcher = StopStringMatcher(["STOP"])
        XCTAssertEqual(matcher.push("abc ST"), "abc ")
        XCTAssertEqual(matcher.push("O"), "")
        XCTAssertEqual(matcher.push("P?"), "")  // matched: nothing after it either
        XCTAssertEqual(matcher.matched, "STOP")
        var other = StopStringMatcher(["STOP"])
        XCTAssertEqual(other.push("ST"), "")
        XCTAssertEqual(other.push("ART"), "START")
        XCTAssertNil(other.matched)
    }

    func testFlushReleasesHeldPrefixAtEnd() {
        XCTAssertEqual(run(["\n\n"], ["line\n"]).0, "line\n")
        XCTAssertNil(run(["\n\n"], ["line\n"]).1)
    }

    func testEarliestMatchWinsAndLongerAtSamePlace() {
        XCTAssertEqual(run(["b", "c"], ["a", "cb"]).0, "a")
        XCTAssertEqual(run(["b", "c"], ["a", "cb"]).1, "c")
        XCTAssertEqual(run(["ab", "a"], ["xab"]).1, "ab")
    }

    func testNoStopStringsPassesEverythingThrough() {
        var matcher = StopStringMatcher([])
        XCTAssertEqual(matcher.push("abc"), "abc")
        XCTAssertEqual(matcher.flush(), "")
        var empty = StopStringMatcher([""])
        XCTAssertEqual(empty.push("abc"), "abc")
    }

    func testMultibyteTextAndStops() {
        XCTAssertEqual(run(["é!"], ["café", "!", " more"]).0, "caf")
        XCTAssertEqual(run(["🙂"], ["ok 🙂 no"]).0, "ok ")
        // A stop string that shares a first byte with the text but not a character.
        XCTAssertEqual(run(["é"], ["è"]).0, "è")
    }

    func testStopAtVeryStart() {
        XCTAssertEqual(run(["Hi"], ["Hi there"]).0, "")
    }
}
