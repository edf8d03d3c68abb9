import Dispatch
import Foundation
import XCTest
@testable import Tokenizer

/// Random text of every kind of scalar survives a round trip; concurrent use gives the same ids.
final class RobustnessTests: XCTestCase {
    private struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 16
        }
        /// Mostly ASCII and common scripts, sometimes any scalar at all (unassigned, private use, controls).
        mutating func scalar() -> Unicode.Scalar {
            let ranges: [ClosedRange<UInt32>] = [0x00...0x7F, 0x20...0x7E, 0x80...0x7FF, 0x3000...0x9FFF, 0x1F300...0x1FAFF, 0x0...0x10FFFF]
            let range = ranges[Int(next() % UInt64(ranges.count))]
            while true {
                let value = range.lowerBound + UInt32(next() % UInt64(range.count))
                if let scalar = Unicode.Scalar(value) { return scalar }
            }
        }
    }

    func testRandomTextRoundTrips() throws {
        let tokenizers = [try TestSupport.tokenizer(TestSupport.llamaBPE), try TestSupport.tokenizer(TestSupport.llamaSPM)]
        var generator = Generator(state: 42)
        for _ in 0..<400 {
            var text = String.UnicodeScalarView()
            for _ in 0..<Int(generator.next() % 40) { text.append(generator.scalar()) }
            let string = String(text)
            for tokenizer in tokenizers {
                for parseSpecial in [false, true] {
                    let ids = tokenizer.encode(string, addBOS: true, parseSpecial: parseSpecial)
                    XCTAssertTrue(ids.allSatisfy { (0..<tokenizer.vocabularySize).contains($0) })
                    XCTAssertEqual(tokenizer.decode(ids), string, "\(tokenizer.model) \(string.unicodeScalars.map { String($0.value, radix: 16) })")
                }
            }
        }
    }

    func testConcurrentEncodingAgrees() throws {
        let tokenizer = try TestSupport.tokenizer(TestSupport.llamaBPE)
        let texts = (0..<16).map { "Thread \($0): the quick brown fox 🦊 jumps over \($0 * 12345) lazy dogs.\n" }
        let expected = texts.map { tokenizer.encode($0, addBOS: true, parseSpecial: false) }
        let mismatches = Mismatches()
        DispatchQueue.concurrentPerform(iterations: 64) { iteration in
            let index = iteration % texts.count
            if tokenizer.encode(texts[index], addBOS: true, parseSpecial: false) != expected[index] { mismatches.add() }
        }
        XCTAssertEqual(mismatches.count, 0)
    }

    func testChunksEndAtCharacterBoundaries() {
        let bytes = Array("aé€🦙".utf8) + Array(repeating: 0x61, count: 5)  // 1 + 2 + 3 + 4 + 5 bytes
        let chunks = characterAlignedChunks(bytes.count, maximum: 4) { bytes[$0] }
        XCTAssertEqual(chunks.first?.lowerBound, 0)
        XCTAssertEqual(chunks.last?.upperBound, bytes.count)
        for (a, b) in zip(chunks, chunks.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
        for chunk in chunks {
            XCTAssertLessThanOrEqual(chunk.count, 4)
            XCTAssertNotNil(String(validating: bytes[chunk], as: UTF8.self), "\(chunk) splits a character")
        }
    }
}

private final class Mismatches: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add() { lock.lock(); value += 1; lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return value }
}
