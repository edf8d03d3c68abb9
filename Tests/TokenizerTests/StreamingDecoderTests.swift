import XCTest
@testable import Tokenizer

final class StreamingDecoderTests: XCTestCase {
    private func stream(_ tokenizer: Tokenizer, _ text: String, parseSpecial: Bool = false) -> (chunks: [String], tail: String) {
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        let chunks = tokenizer.encode(text, addBOS: false, parseSpecial: parseSpecial).map { decoder.append($0) }
        return (chunks, decoder.finish())
    }

    func testEmojiNeverSplitBPE() throws {
        let tokenizer = try TestSupport.tokenizer(TestSupport.llamaBPE)
        let text = "a🦙b 👨‍👩‍👧 日本語 ✅"
        let ids = tokenizer.encode(text, addBOS: false, parseSpecial: false)
        XCTAssertGreaterThan(ids.count, text.unicodeScalars.count / 2, "emoji should take several tokens here")
        let (chunks, tail) = stream(tokenizer, text)
        XCTAssertEqual(chunks.joined() + tail, text)
        XCTAssertEqual(tail, "")
        for chunk in chunks { XCTAssertFalse(chunk.unicodeScalars.contains("\u{FFFD}"), "split character in \(chunks)") }
        // The llama's first token carries only part of its four bytes: nothing comes out for it.
        let llama = tokenizer.encode("🦙", addBOS: false, parseSpecial: false)
        XCTAssertGreaterThan(llama.count, 1)
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        XCTAssertEqual(decoder.append(llama[0]), "")
        XCTAssertTrue(decoder.hasPendingBytes)
        XCTAssertEqual(decoder.finish(), "\u{FFFD}")
        XCTAssertFalse(decoder.hasPendingBytes)
    }

    func testByteFallbackNeverSplitSPM() throws {
        let tokenizer = try TestSupport.tokenizer(TestSupport.llamaSPM)
        let text = "Clef 𝄞 and 🦙!"
        let (chunks, tail) = stream(tokenizer, text)
        XCTAssertEqual(chunks.joined() + tail, " " + text)  // pieces keep the prefix space
        for chunk in chunks { XCTAssertFalse(chunk.unicodeScalars.contains("\u{FFFD}")) }
    }

    func testControlTokensSilentUnlessAsked() throws {
        let tokenizer = try TestSupport.tokenizer(TestSupport.llamaBPE)
        var quiet = StreamingDecoder(tokenizer: tokenizer)
        XCTAssertEqual(quiet.append(9906) + quiet.append(128_009), "Hello")
        var loud = StreamingDecoder(tokenizer: tokenizer, includeSpecial: true)
        XCTAssertEqual(loud.append(9906) + loud.append(128_009), "Hello<|eot_id|>")
        XCTAssertEqual(loud.append(-1), "")
    }

    func testIncompleteTailLength() throws {
        XCTAssertEqual(StreamingDecoder.incompleteTailLength([]), 0)
        XCTAssertEqual(StreamingDecoder.incompleteTailLength([0x41]), 0)
        XCTAssertEqual(StreamingDecoder.incompleteTailLength([0x41, 0xF0]), 1)
        XCTAssertEqual(StreamingDecoder.incompleteTailLength([0xF0, 0x9F]), 2)
        XCTAssertEqual(StreamingDecoder.incompleteTailLength([0xF0, 0x9F, 0xA6]), 3)
        XCTAssertEqual(StreamingDecoder.incompleteTailLength([0xF0, 0x9F, 0xA6, 0x99]), 0)
        XCTAssertEqual(StreamingDecoder.incompleteTailLength([0xE2, 0x82]), 2)
        XCTAssertEqual(StreamingDecoder.incompleteTailLength([0xC3]), 1)
        // Bytes that can never complete are not held back.
        XCTAssertEqual(StreamingDecoder.incompleteTailLength([0xFF]), 0)
        XCTAssertEqual(StreamingDecoder.incompleteTailLength([0x80, 0x80, 0x80]), 0)
        XCTAssertEqual(StreamingDecoder.incompleteTailLength([0xE0, 0x80]), 0)  // overlong
        XCTAssertEqual(StreamingDecoder.incompleteTailLength([0xED, 0xA0]), 0)  // surrogate
        XCTAssertEqual(StreamingDecoder.incompleteTailLength([0xF4, 0x90]), 0)  // above U+10FFFF
        XCTAssertEqual(StreamingDecoder.incompleteTailLength([0xC0]), 0)

        var decoder = StreamingDecoder(tokenizer: try TestSupport.tokenizer(TestSupport.llamaSPM))
        XCTAssertEqual(decoder.append(bytes: [0xFF, 0x41]), "\u{FFFD}A")
        XCTAssertEqual(decoder.append(bytes: [0xE2, 0x82]), "")
        XCTAssertEqual(decoder.append(bytes: [0xAC, 0x21]), "€!")
    }
}
