import Engine
import Foundation
import GGUF
import Grammar
import Sampling
import Tokenizer
import XCTest

/// Constrained sampling over a real vocabulary (Llama 3's 128,256 tokens): the trie walk finds exactly the
/// tokens that one-by-one checks find, end of generation only where the grammar is complete, and sampling
/// never leaves the grammar.
final class GrammarConstraintTests: XCTestCase {
    static let json = #"""
    root   ::= "{" ws members? "}"
    members ::= pair ("," ws pair)*
    pair   ::= string ":" ws value
    value  ::= string | [0-9]+ ws | "true" ws | "[" ws (value ("," ws value)*)? "]" ws
    string ::= "\"" ([^"\\] | "\\" ["\\n])* "\"" ws
    ws     ::= [ \n]{0,2}
    """#

    func tokenizer() throws -> Tokenizer {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = ProcessInfo.processInfo.environment["SWIFTFILE_TESTDATA"].map { URL(fileURLWithPath: $0) } ?? root.appendingPathComponent("testdata")
        return try Tokenizer(gguf: GGUFFile.load(path: folder.appendingPathComponent("vocab/ggml-vocab-llama-bpe.gguf").path))
    }

    func testTrieWalkEqualsOneByOneChecks() throws {
        let tokenizer = try tokenizer()
        let pieces = TokenPieces(tokenizer: tokenizer)
        let grammar = try Grammar.parse(Self.json)
        for prefix in ["", "{", "{\"na", "{\"a\": 12", "{\"a\": [1, \"\\", "{\"a\": true}"] {
            var constraint = GrammarConstraint(grammar: grammar, pieces: pieces, tokenizer: tokenizer)
            for id in tokenizer.encode(prefix, addBOS: false, parseSpecial: false) { try constraint.commit(id) }
            let walked = Set(try constraint.allowedTokens())
            let checked = Set((0..<tokenizer.vocabularySize).filter { constraint.allows($0) })
            XCTAssertEqual(walked, checked, "after \(prefix.debugDescription)")
            XCTAssertFalse(walked.isEmpty)
            let ends = walked.contains { tokenizer.isEndOfGeneration($0) }
            XCTAssertEqual(ends, prefix == "{\"a\": true}", "end of generation after \(prefix.debugDescription)")
        }
    }

    /// Random logits, temperature 1: every draw is allowed, and the text stays a prefix of the grammar.
    func testSamplingStaysInTheGrammar() throws {
        let tokenizer = try tokenizer()
        let pieces = TokenPieces(tokenizer: tokenizer)
        let grammar = try Grammar.parse(Self.json)
        var generator = SplitMix64(seed: 5)
        for seed in 0..<2 {
            var constraint = GrammarConstraint(grammar: grammar, pieces: pieces, tokenizer: tokenizer)
            var parameters = SamplingParameters()
            parameters.temperature = 1
            parameters.seed = UInt64(seed)
            var chain = SamplerChain(parameters)
            var text: [UInt8] = []
            for _ in 0..<40 {
                let logits = (0..<tokenizer.vocabularySize).map { _ in Float(generator.nextUnit() * 8) }
                let id = try logits.withUnsafeBufferPointer { try constraint.sample(&chain, logits: $0, history: []) }
                XCTAssertTrue(constraint.allows(id))
                if tokenizer.isEndOfGeneration(id) { break }
                try constraint.commit(id)
                text += tokenizer.piece(id)
            }
            var check = GrammarMatcher(grammar)
            XCTAssertTrue(check.accept(bytes: text), String(decoding: text, as: UTF8.self))
            XCTAssertGreaterThan(constraint.maskedDraws, 0, "random logits should need the mask")
        }
    }

    /// A lazy grammar (tool calls under tool_choice auto): free text until the trigger, then the grammar, the
    /// trigger included; a token that completes the trigger with refused text is not allowed.
    func testLazyTrigger() throws {
        let tokenizer = try tokenizer()
        let pieces = TokenPieces(tokenizer: tokenizer)
        let grammar = try Grammar.parse(#"root ::= "<call>" [0-9]+ "</call>""#)
        var constraint = GrammarConstraint(grammar: grammar, pieces: pieces, tokenizer: tokenizer,
                                           trigger: GrammarTrigger(text: "<call>", atStart: false))
        let free = tokenizer.encode("Anything at all, even { and <ca", addBOS: false, parseSpecial: false)
        for id in free {
            XCTAssertTrue(constraint.allows(id))
            try constraint.commit(id)
        }
        XCTAssertFalse(constraint.isActive)
        XCTAssertTrue(constraint.allows(tokenizer.endOfGenerationTokens.sorted()[0]), "free text may end")
        // "ll>" completes the trigger: what follows in the same token must fit the grammar.
        let digits = tokenizer.encode("ll>12", addBOS: false, parseSpecial: false)
        let letters = tokenizer.encode("ll>x", addBOS: false, parseSpecial: false)
        XCTAssertTrue(constraint.allows(digits[0]))
        if letters.count == 1 { XCTAssertFalse(constraint.allows(letters[0])) }
        for id in digits { try constraint.commit(id) }
        XCTAssertTrue(constraint.isActive)
        XCTAssertFalse(constraint.allows(tokenizer.endOfGenerationTokens.sorted()[0]), "inside the call it may not end")
        for id in tokenizer.encode("</call>", addBOS: false, parseSpecial: false) { try constraint.commit(id) }
        XCTAssertEqual(Set(try constraint.allowedTokens()), tokenizer.endOfGenerationTokens, "a complete call may only end")
        // At start: a first non-blank character other than the trigger leaves the output free for good.
        var atStart = GrammarConstraint(grammar: try Grammar.parse(#"root ::= "{" [a-z]* "}""#), pieces: pieces, tokenizer: tokenizer,
                                        trigger: GrammarTrigger(text: "{", atStart: true))
        for id in tokenizer.encode("  Hello {", addBOS: false, parseSpecial: false) { try atStart.commit(id) }
        XCTAssertFalse(atStart.isActive)
        XCTAssertTrue(atStart.allows(tokenizer.encode("9", addBOS: false, parseSpecial: false)[0]))
    }

    /// Nesting past the matcher's depth bound ends in a typed error, not in unbounded growth or a free token.
    func testTooDeepIsAnError() throws {
        let tokenizer = try tokenizer()
        var constraint = GrammarConstraint(grammar: try Grammar.parse(#"root ::= "(" root ")" | "x""#),
                                           pieces: TokenPieces(tokenizer: tokenizer), tokenizer: tokenizer)
        let ids = tokenizer.encode(String(repeating: "(", count: GrammarMatcher.maximumDepth + 16), addBOS: false, parseSpecial: false)
        var failure: GrammarConstraintError?
        for id in ids {
            do { try constraint.commit(id) } catch { failure = error; break }
        }
        guard case .tooComplex? = failure else { return XCTFail("expected tooComplex, got \(String(describing: failure))") }
    }
}
