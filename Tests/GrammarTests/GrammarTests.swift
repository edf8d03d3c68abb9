import Foundation
import Grammar
import XCTest

/// GBNF parsing (syntax, errors with positions) and the recogniser (which strings are complete matches,
/// which are prefixes, which are refused), over Unicode and split UTF-8.
final class GrammarTests: XCTestCase {
    /// "full": a complete match; "prefix": accepted so far but not complete; "reject": refused at some byte.
    enum Verdict: Equatable { case full, prefix, reject }

    static func verdict(_ grammar: Grammar, _ text: String) -> Verdict {
        var m = GrammarMatcher(grammar)
        guard m.accept(text) else { return .reject }
        return m.canEnd ? .full : .prefix
    }

    func check(_ gbnf: String, _ cases: [(String, Verdict)], file: StaticString = #filePath, line: UInt = #line) throws {
        let g = try Grammar.parse(gbnf)
        for (text, expected) in cases {
            XCTAssertEqual(Self.verdict(g, text), expected, "\(text.debugDescription) against \(gbnf.debugDescription)", file: file, line: line)
        }
    }

    func testLiteralsSequencesAlternatives() throws {
        try check(#"root ::= "ab" "c" | "x""#, [("abc", .full), ("x", .full), ("ab", .prefix), ("", .prefix), ("abd", .reject), ("xx", .reject)])
        try check("root ::= a b\na ::= \"1\"\nb ::= \"2\" | \"3\"", [("12", .full), ("13", .full), ("14", .reject)])
        // A top-level rule continued on the next line with '|', and a comment.
        try check("root ::= \"a\"  # first\n     | \"b\"\n", [("a", .full), ("b", .full), ("c", .reject)])
    }

    func testRepetitions() throws {
        try check(#"root ::= "a"*"#, [("", .full), ("aaaa", .full), ("ab", .reject)])
        try check(#"root ::= "a"+ "b""#, [("b", .reject), ("ab", .full), ("aaab", .full), ("aa", .prefix)])
        try check(#"root ::= "a"? "b""#, [("b", .full), ("ab", .full), ("aab", .reject)])
        try check(#"root ::= "a"{3}"#, [("aa", .prefix), ("aaa", .full), ("aaaa", .reject)])
        try check(#"root ::= "a"{2,}"#, [("a", .prefix), ("aa", .full), ("aaaaaaa", .full)])
        try check(#"root ::= "a"{1,3} "b""#, [("b", .reject), ("ab", .full), ("aaab", .full), ("aaaab", .reject)])
        try check(#"root ::= "ab"{2}"#, [("abab", .full), ("aba", .prefix), ("abb", .reject)])
        try check(##"root ::= ("x" | "yz")* ".""##, [(".", .full), ("xyzx.", .full), ("xy.", .reject)])
    }

    func testCharacterClassesAndEscapes() throws {
        try check("root ::= [a-c0-9]+", [("a0c9", .full), ("d", .reject)])
        try check("root ::= [^\"\\\\]+", [("abc", .full), ("a\"", .reject), ("a\\", .reject)])
        try check("root ::= .", [("é", .full), ("😀", .full), ("ab", .reject)])
        try check(#"root ::= "\n\t\"\\\x41\u00e9""#, [("\n\t\"\\Aé", .full)])
        try check(#"root ::= [\u4e00-\u9fff]{2}"#, [("中文", .full), ("中a", .reject)])
        try check(#"root ::= [\-\]]"#, [("-", .full), ("]", .full), ("a", .reject)])
    }

    func testUTF8SplitAcrossFeeds() throws {
        let g = try Grammar.parse(#"root ::= "é" [😀]"#)
        var m = GrammarMatcher(g)
        let bytes = Array("é😀".utf8)
        for (i, b) in bytes.enumerated() {
            XCTAssertTrue(m.accept(b), "byte \(i)")
            XCTAssertEqual(m.canEnd, i == bytes.count - 1)
        }
        // A lead byte whose characters the grammar cannot take is refused at once, not at the last byte.
        var n = GrammarMatcher(try Grammar.parse(#"root ::= [a-z]"#))
        XCTAssertFalse(n.accept(0xC3))
        // An overlong or surrogate prefix is refused at the byte that makes it so, not at the last one.
        var overlong = GrammarMatcher(try Grammar.parse("root ::= .*"))
        XCTAssertTrue(overlong.accept(0xE0))
        XCTAssertFalse(overlong.accept(0x81))
        var surrogate = GrammarMatcher(try Grammar.parse("root ::= .*"))
        XCTAssertTrue(surrogate.accept(0xED))
        XCTAssertFalse(surrogate.accept(0xA0))
        // Invalid UTF-8: overlong, surrogate, stray continuation.
        for bad: [UInt8] in [[0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0x80]] {
            var any = GrammarMatcher(try Grammar.parse("root ::= .*"))
            XCTAssertFalse(any.accept(bytes: bad), "\(bad)")
        }
    }

    func testJSONGrammar() throws {
        let json = #"""
        root   ::= object
        value  ::= object | array | string | number | ("true" | "false" | "null") ws
        object ::=
          "{" ws (
                    string ":" ws value
            ("," ws string ":" ws value)*
          )? "}" ws
        array  ::=
          "[" ws (
                    value
            ("," ws value)*
          )? "]" ws
        string ::=
          "\"" (
            [^"\\\x7F\x00-\x1F] |
            "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
          )* "\"" ws
        number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
        ws ::= | " " | "\n" [ \t]{0,20}
        """#
        try check(json, [
            (#"{"a": [1, 2.5, -3e4, true, null, "x\"\u00e9"], "b": {}}"#, .full),
            (#"{"a": 1"#, .prefix),
            (#"{"a" 1}"#, .reject),
            (#"[1]"#, .reject),
            (#"{"a": 01}"#, .reject),
        ])
    }

    func testErrorsNameLineAndColumn() {
        func error(_ text: String) -> GrammarError? {
            do { _ = try Grammar.parse(text); return nil } catch { return error }
        }
        XCTAssertEqual(error("root ::= foo"), GrammarError(line: 1, column: 10, "undefined rule 'foo'"))
        XCTAssertEqual(error("a ::= \"x\""), GrammarError(line: 1, column: 10, "the grammar has no 'root' rule"))
        XCTAssertEqual(error("root ::= \"x\"\nroot ::= \"y\""), GrammarError(line: 2, column: 1, "rule 'root' is defined twice"))
        XCTAssertEqual(error("root ::= \"abc"), GrammarError(line: 1, column: 10, "unterminated literal"))
        XCTAssertEqual(error("root ::= [a-"), GrammarError(line: 1, column: 10, "unterminated character class"))
        XCTAssertEqual(error("root ::= (\"a\""), GrammarError(line: 1, column: 14, "expected ')'"))
        XCTAssertEqual(error("root = \"a\""), GrammarError(line: 1, column: 6, "expected '::=' after 'root'"))
        XCTAssertEqual(error("root ::= \"a\"{5,2}"), GrammarError(line: 1, column: 10, "repetition {5,2}: the maximum is below the minimum"))
        XCTAssertEqual(error("root ::= \"a\"{99999}"), GrammarError(line: 1, column: 10, "repetition count above 10000"))
        XCTAssertEqual(error("root ::= \"\\q\""), GrammarError(line: 1, column: 11, "unknown escape '\\q'"))
        XCTAssertEqual(error("root ::= [z-a]"), GrammarError(line: 1, column: 10, "character range with its end before its start"))
        XCTAssertEqual(error("root ::= root \"a\""), GrammarError(line: 1, column: 1, "rule 'root' is left-recursive (it can reach itself before matching a character)"))
        XCTAssertEqual(error("root ::= a\na ::= b? root\nb ::= \"x\""), GrammarError(line: 1, column: 1, "rule 'root' is left-recursive (it can reach itself before matching a character)"))
        XCTAssertEqual(error("root ::= (\"a\"?)*"), GrammarError(line: 1, column: 10, "a group or repetition is left-recursive (it can reach itself before matching a character)"))
        XCTAssertEqual(error("root ::= <[1000]>"), GrammarError(line: 1, column: 10, "token references (<…>) are not supported"))
        XCTAssertEqual(error("root ::= \"a\" )"), GrammarError(line: 1, column: 14, "expected the end of the line after rule 'root'"))
    }

    /// Inputs sized to hurt the parser: deep parentheses are refused (the parser recurses per group), and a long
    /// chain of rules that match the empty string is checked in linear time (this test would take minutes
    /// with a fixed-point loop over all rules).
    func testHostileGrammarTextsStayBounded() throws {
        let deep = "root ::= " + String(repeating: "(", count: 100_000) + "\"a\"" + String(repeating: ")", count: 100_000)
        XCTAssertThrowsError(try Grammar.parse(deep)) { error in
            XCTAssertEqual((error as? GrammarError)?.message, "groups nest deeper than 128")
        }
        let n = 60_000
        var chain = "root ::= a0 \"x\"\n"
        for i in 0..<n { chain += "a\(i) ::= a\(i + 1)\n" }
        chain += "a\(n) ::= \"\"\n"
        let start = Date()
        let g = try Grammar.parse(chain)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        XCTAssertEqual(Self.verdict(g, "x"), .full)
    }

    /// Right recursion without bound grows the stacks; the matcher stops at its bound instead of growing.
    func testDeepNestingHitsTheBound() throws {
        let g = try Grammar.parse(#"root ::= "(" root ")" | "x""#)
        var m = GrammarMatcher(g)
        XCTAssertTrue(m.accept(String(repeating: "(", count: 100) + "x" + String(repeating: ")", count: 100)))
        XCTAssertTrue(m.canEnd)
        var deep = GrammarMatcher(g)
        XCTAssertFalse(deep.accept(String(repeating: "(", count: GrammarMatcher.maximumDepth + 10)))
        XCTAssertTrue(deep.overflowed)
        // An ambiguous grammar whose stacks multiply is stopped by the stack-set bound, not run out of memory.
        let ambiguous = try Grammar.parse("root ::= a*\na ::= \"x\" | \"x\" \"x\" | \"x\" \"x\" \"x\" b\nb ::= \"\" | \"x\"")
        var amb = GrammarMatcher(ambiguous)
        _ = amb.accept(String(repeating: "x", count: 2000))
    }
}
