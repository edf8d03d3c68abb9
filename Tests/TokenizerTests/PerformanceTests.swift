import Foundation
import GGUF
import XCTest
@testable import Tokenizer

/// Bounded time on hostile input: one huge word must not make merging quadratic, and ordinary
/// prompts must take milliseconds. Limits are loose enough for debug builds on a slow machine.
final class PerformanceTests: XCTestCase {
    private func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// A reproducible word of `count` letters (no merges shortcut like a repeated letter would give).
    private func randomWord(_ count: Int) -> String {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let letters = Array("abcdefghijklmnopqrstuvwxyzéü")
        return String((0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return letters[Int(state >> 33) % letters.count]
        })
    }

    private static let prose = """
        The quick brown fox jumps over the lazy dog. It's 3:45 p.m. on 2024-05-17, and we've got \
        12,345 reasons — maybe more — to "tokenize" text fast: naïve café déjà vu, 日本語のテキスト, \
        emoji 🦙🚀 and code like `for i in 0..<n { sum += x[i] * y[i] }`.\n\n
        """

    func testLoadTime() throws {
        let file = try GGUFFile.load(path: TestSupport.vocabularyPath("llama-bpe"))
        var tokenizer: Tokenizer?
        let elapsed = seconds { tokenizer = try? Tokenizer(gguf: file) }
        print("llama-bpe: 128k tokens, 280k merges loaded in \(Int(elapsed * 1000)) ms")
        XCTAssertNotNil(tokenizer)
        XCTAssertLessThan(elapsed, 30)
    }

    func testHundredThousandCharacterWords() throws {
        for tokenizer in [try TestSupport.tokenizer(TestSupport.llamaBPE), try TestSupport.tokenizer(TestSupport.llamaSPM)] {
            for word in [String(repeating: "a", count: 100_000), randomWord(100_000), String(repeating: " ", count: 100_000),
                         String(repeating: "9", count: 100_000), String(repeating: "!?", count: 50_000)] {
                var ids: [Int] = []
                let elapsed = seconds { ids = tokenizer.encode(word, addBOS: false, parseSpecial: true) }
                XCTAssertLessThan(elapsed, 10, "\(tokenizer.model) on a 100k word of \(word.prefix(2).debugDescription)")
                XCTAssertFalse(ids.isEmpty)
                let decoded = tokenizer.decode(ids)
                XCTAssertEqual(decoded.utf8.count, word.utf8.count)
                XCTAssertTrue(decoded == word)
            }
        }
    }

    func testTenKilobytePromptTakesMilliseconds() throws {
        let prompt = String(repeating: Self.prose, count: 10_240 / Self.prose.utf8.count + 1)
        for tokenizer in [try TestSupport.tokenizer(TestSupport.llamaBPE), try TestSupport.tokenizer(TestSupport.llamaSPM)] {
            _ = tokenizer.encode(prompt, addBOS: true, parseSpecial: false)  // warm up
            var ids: [Int] = []
            let elapsed = seconds { ids = tokenizer.encode(prompt, addBOS: true, parseSpecial: false) }
            print("\(tokenizer.model): 10 KB prompt → \(ids.count) tokens in \(Int(elapsed * 1000)) ms")
            XCTAssertLessThan(elapsed, 1.0)
            XCTAssertEqual(tokenizer.decode(ids), prompt)
        }
    }

    /// Megabytes of text: linear time. (100 MB works the same way, only slower than a unit test should be;
    /// set SWIFTFILE_HUGE_TEXT_MB to try a larger size.)
    func testMegabytesOfText() throws {
        let megabytes = Int(ProcessInfo.processInfo.environment["SWIFTFILE_HUGE_TEXT_MB"] ?? "") ?? 1
        let text = String(repeating: Self.prose, count: megabytes * 1_048_576 / Self.prose.utf8.count)
        for tokenizer in [try TestSupport.tokenizer(TestSupport.llamaBPE), try TestSupport.tokenizer(TestSupport.llamaSPM)] {
            var ids: [Int] = []
            let elapsed = seconds { ids = tokenizer.encode(text, addBOS: false, parseSpecial: true) }
            print("\(tokenizer.model): \(megabytes) MB → \(ids.count) tokens in \(String(format: "%.2f", elapsed)) s")
            XCTAssertLessThan(elapsed, Double(megabytes) * 15)
            XCTAssertGreaterThan(ids.count, text.utf8.count / 8)
        }
    }
}
