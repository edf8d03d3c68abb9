import Foundation
import XCTest
import Chat

/// Hostile or broken templates end in a thrown ChatTemplateError, quickly, never a crash or hang.
final class SafetyTests: XCTestCase {
    private func render(_ source: String, limits: ChatTemplateLimits = ChatTemplateLimits()) throws -> String {
        try ChatTemplate(source: source, limits: limits).render(messages: [], addGenerationPrompt: false, bosToken: "", eosToken: "")
    }

    private func assertSyntaxError(_ source: String, line: Int, column: Int? = nil, file: StaticString = #filePath, lineNumber: UInt = #line) {
        XCTAssertThrowsError(try ChatTemplate(source: source), source.debugDescription, file: file, line: lineNumber) { error in
            guard case let .syntax(_, foundLine, foundColumn)? = error as? ChatTemplateError else {
                return XCTFail("expected a syntax error for \(source.debugDescription), got \(error)", file: file, line: lineNumber)
            }
            XCTAssertEqual(foundLine, line, "line for \(source.debugDescription)", file: file, line: lineNumber)
            if let column { XCTAssertEqual(foundColumn, column, "column for \(source.debugDescription)", file: file, line: lineNumber) }
        }
    }

    func testSyntaxErrorsNameLineAndColumn() {
        assertSyntaxError("{% if x %}never closed", line: 1)
        assertSyntaxError("ok\n{{ 1 + }}", line: 2, column: 8)
        assertSyntaxError("a\nb\n{% endfor %}", line: 3, column: 4)
        assertSyntaxError("{{ 'unterminated }}", line: 1, column: 4)
        assertSyntaxError("{# never closed", line: 1, column: 1)
        assertSyntaxError("{% frobnicate %}", line: 1, column: 4)
        assertSyntaxError("{{ x ) }}", line: 1)
        assertSyntaxError("{{ 99999999999999999999999 }}", line: 1, column: 4)
        assertSyntaxError("{{ x | }}", line: 1)
        assertSyntaxError("{% for in xs %}{% endfor %}", line: 1)
        assertSyntaxError("{{ a[1:2:3:4] }}", line: 1)
        assertSyntaxError("\n\n   {{ @ }}", line: 3, column: 7)
        assertSyntaxError("{{ f(a=1, 2) }}", line: 1)
        assertSyntaxError("{% raw %}unterminated", line: 1, column: 1)
    }

    func testHugeRangeStopsOnStepBudgetQuickly() {
        let start = Date()
        XCTAssertThrowsError(try render("{% for i in range(100000000) %}x{% endfor %}")) { error in
            XCTAssertEqual(error as? ChatTemplateError, .stepBudgetExceeded(limit: 1_000_000))
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
    }

    func testNestedLoopsStopOnStepBudget() {
        let start = Date()
        XCTAssertThrowsError(try render("{% for i in range(50000) %}{% for j in range(50000) %}{% endfor %}{% endfor %}")) { error in
            XCTAssertEqual(error as? ChatTemplateError, .stepBudgetExceeded(limit: 1_000_000))
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
    }

    func testSmallBudgetIsHonoured() {
        let limits = ChatTemplateLimits(maximumSteps: 100)
        XCTAssertThrowsError(try render("{% for i in range(50) %}{{ i }}{% endfor %}", limits: limits)) { error in
            XCTAssertEqual(error as? ChatTemplateError, .stepBudgetExceeded(limit: 100))
        }
        XCTAssertEqual(try render("{% for i in range(3) %}{{ i }}{% endfor %}", limits: limits), "012")
    }

    func testHugeOutputIsRefused() {
        XCTAssertThrowsError(try render("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}")) { error in
            XCTAssertEqual(error as? ChatTemplateError, .outputTooLarge(limitBytes: 4 << 20))
        }
        XCTAssertThrowsError(try render("{{ 'x' * 100000000 }}")) { error in
            XCTAssertEqual(error as? ChatTemplateError, .outputTooLarge(limitBytes: 4 << 20))
        }
        XCTAssertThrowsError(try render("{{ 'ab' * 9223372036854775807 }}")) { error in
            XCTAssertEqual(error as? ChatTemplateError, .outputTooLarge(limitBytes: 4 << 20))
        }
        // Doubling a string past the cap fails on the size check, not on memory.
        let doubling = "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"
        XCTAssertThrowsError(try render(doubling)) { error in
            XCTAssertEqual(error as? ChatTemplateError, .outputTooLarge(limitBytes: 4 << 20))
        }
        let limits = ChatTemplateLimits(maximumOutputBytes: 10)
        XCTAssertThrowsError(try render("{{ '12345678901' }}", limits: limits))
        XCTAssertEqual(try render("{{ '1234567890' }}", limits: limits), "1234567890")
    }

    func testJoiningManyLargeStringsIsRefusedBeforeBuilding() {
        let source = "{% set big = 'y' * 1000000 %}{{ [big, big, big, big, big, big, big, big]|join }}"
        XCTAssertThrowsError(try render(source)) { error in
            XCTAssertEqual(error as? ChatTemplateError, .outputTooLarge(limitBytes: 4 << 20))
        }
    }

    func testListDoublingStopsOnBudget() {
        let source = "{% set ns = namespace(x=[1]) %}{% for i in range(100) %}{% set ns.x = ns.x + ns.x %}{% endfor %}{{ ns.x|length }}"
        XCTAssertThrowsError(try render(source)) { error in
            XCTAssertEqual(error as? ChatTemplateError, .stepBudgetExceeded(limit: 1_000_000))
        }
        XCTAssertThrowsError(try render("{{ ([1] * 9223372036854775807)|length }}")) { error in
            XCTAssertEqual(error as? ChatTemplateError, .stepBudgetExceeded(limit: 1_000_000))
        }
    }

    /// Work done inside filters is charged by input size, so a loop over filters of a big value cannot hang.
    func testRepeatedWorkOnBigValuesStopsOnBudget() {
        let start = Date()
        for source in [
            "{% set big = range(200000)|list %}{% for i in range(1000) %}{{ big|map('string')|list|length }}{% endfor %}",
            "{% set s = 'x' * 4000000 %}{% for i in range(100000) %}{{ s|trim|length }}{% endfor %}",
            "{% set s = 'x' * 4000000 %}{% for i in range(100000) %}{{ s == s }}{{ s.strip()|length }}{% endfor %}",
            "{% set s = 'x' * 4000000 %}{% for i in range(100000) %}{% for c in s %}{% endfor %}{% endfor %}",
        ] {
            XCTAssertThrowsError(try render(source, limits: ChatTemplateLimits(maximumSteps: 200_000)), String(source.prefix(60))) { error in
                XCTAssertEqual(error as? ChatTemplateError, .stepBudgetExceeded(limit: 200_000))
            }
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
    }

    func testMacroRecursionIsCapped() {
        XCTAssertThrowsError(try render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")) { error in
            guard case .nestingTooDeep(64, _, _)? = error as? ChatTemplateError else { return XCTFail("got \(error)") }
        }
    }

    func testDeepSyntaxNestingIsCapped() {
        for source in [
            String(repeating: "(", count: 10000) + "1" + String(repeating: ")", count: 10000),
            "{{ " + String(repeating: "[", count: 10000) + String(repeating: "]", count: 10000) + " }}",
            "{{ " + String(repeating: "not ", count: 10000) + "x }}",
            "{{ " + String(repeating: "-", count: 10000) + "1 }}",
            String(repeating: "{% if true %}", count: 10000) + String(repeating: "{% endif %}", count: 10000),
        ] {
            let wrapped = source.hasPrefix("(") ? "{{ " + source + " }}" : source
            XCTAssertThrowsError(try ChatTemplate(source: wrapped)) { error in
                guard case .nestingTooDeep? = error as? ChatTemplateError else { return XCTFail("got \(error)") }
            }
        }
        // Moderate nesting is fine.
        XCTAssertEqual(try render("{{ ((((1 + 2)))) * -(-3) }}"), "9")
    }

    func testDeepValuesBuiltAtRuntimeAreCapped() {
        let source = "{% set ns = namespace(x=1) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}"
        XCTAssertThrowsError(try render(source)) { error in
            guard case .nestingTooDeep? = error as? ChatTemplateError else { return XCTFail("got \(error)") }
        }
    }

    func testRuntimeErrorsAreThrownNotCrashes() {
        let cases = [
            "{{ messages[0]['role'] }}",
            "{{ 10 ** 100 }}",
            "{{ 9223372036854775807 + 1 }}",
            "{{ -9223372036854775807 - 2 }}",
            "{{ 1 // 0 }}",
            "{{ 1 % 0 }}",
            "{{ [1, 2][::0] }}",
            "{{ 'a' < 1 }}",
            "{{ none() }}",
            "{{ 'x'.nomethod() }}",
            "{{ x|nofilter }}",
            "{{ 1 is notatest }}",
            "{% set a, b = [1, 2, 3] %}",
            "{% for a, b in [1, 2] %}{% endfor %}",
            "{{ range(1, 2, 0) }}",
            "{{ {1: 2} }}",
            "{% set x.y = 1 %}",
            "{{ undefined_name + 1 }}",
            "{{ 5 in 5 }}",
            "{% break %}",
            "{{ namespace(a=1)|tojson }}",
            "{{ x|tojson }}",
            "{{ 'a'|tojson(indent=1000) }}",
        ]
        for source in cases {
            XCTAssertThrowsError(try render(source), source) { error in
                XCTAssertNotNil(error as? ChatTemplateError, "\(source): \(error)")
            }
        }
    }

    func testExtremeIntegersDoNotTrap() throws {
        XCTAssertEqual(try render("{{ range(-9223372036854775807 - 1, 9223372036854775807, 9223372036854775807)|list }}"),
                       "[-9223372036854775808, -1, 9223372036854775806]")
        XCTAssertEqual(try render("{{ (-9223372036854775807 - 1) is divisibleby(-1) }} {{ 7 is divisibleby(-1) }}"), "True True")
        XCTAssertEqual(try render("{{ range(5, 0, -2)|list }} {{ range(0, 5, -1)|list }}"), "[5, 3, 1] []")
        XCTAssertEqual(try render("{{ 1e308 * 10 }} {{ '9e99'|int }} {{ 'nan'|float }}"), "inf 0 nan")
    }

    func testRaiseExceptionCarriesMessage() {
        XCTAssertThrowsError(try render("{{ raise_exception('Conversation roles must alternate') }}")) { error in
            XCTAssertEqual(error as? ChatTemplateError, .raised(message: "Conversation roles must alternate"))
        }
    }

    /// Random token soup must parse or fail cleanly, and rendering must end (budget) without crashing.
    func testRandomTemplatesNeverCrash() {
        let pieces = ["{{", "}}", "{%", "%}", "{#", "#}", "-", "+", "if", "for", "in", "endfor", "endif", "set", "x", "=", "'s'",
                      "\"", "(", ")", "[", "]", "{", "}", "|", "length", ".", ",", ":", "1", "-1", "is", "not", "defined",
                      "range(9)", "loop", "else", "macro", "endmacro", " ", "\n", "~", "*", "**", "raw", "endraw", "\\"]
        var generator = SplitMix64(seed: 12345)
        var parsed = 0
        for _ in 0..<3000 {
            let count = Int(generator.next() % 24) + 1
            let source = (0..<count).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined()
            guard let template = try? ChatTemplate(source: source, limits: ChatTemplateLimits(maximumSteps: 20000)) else { continue }
            parsed += 1
            _ = try? template.render(messages: [ChatMessage(role: "user", content: "hi")], addGenerationPrompt: true, bosToken: "<s>", eosToken: "</s>")
        }
        XCTAssertGreaterThan(parsed, 100)
    }
}

/// Deterministic random numbers for the fuzz test.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
