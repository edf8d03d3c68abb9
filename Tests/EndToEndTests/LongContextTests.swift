import Foundation
import XCTest

/// The runner's long-context flags: quantized KV cache types and context shift.
final class LongContextTests: XCTestCase {
    /// Greedy steps printed by --top-logits (one JSON line each).
    func steps(_ stdout: String) -> [String] { stdout.split(separator: "\n").map(String.init).filter { $0.hasPrefix("{\"id\"") } }

    /// A full context stops generation with a note that names --context-shift; with it, generation runs
    /// to -n, and the note says how often the context was shifted. Until the first shift both runs agree.
    func testContextShiftGoesOnPastAFullContext() throws {
        let model = try E2E.testdataFile("models/tiny-llama3-q8_0.gguf")
        let common = ["-m", model.path, "-p", "The capital of France is", "-c", "32", "--temp", "0", "--top-logits", "1", "-n", "70"]
        let stopped = try E2E.run(try E2E.runner(), common)
        XCTAssertEqual(stopped.status, 0, stopped.stderr)
        XCTAssertTrue(stopped.stderr.contains("stopped: the context of 32 tokens is full (raise -c, or --context-shift to go on)"), stopped.stderr)
        let plain = steps(stopped.stdout)
        XCTAssertEqual(plain.count, 32 - 6, "6 prompt tokens (BOS + 5); every position but the last is used")

        let shifted = try E2E.run(try E2E.runner(), common + ["--context-shift", "--keep", "2"])
        XCTAssertEqual(shifted.status, 0, shifted.stderr)
        let long = steps(shifted.stdout)
        XCTAssertEqual(long.count, 70)
        // 31 filled, keep 2 + BOS: drop (31 − 3) / 2 = 14 at every fill, after 26, 40, 54 and 68 tokens.
        XCTAssertTrue(shifted.stderr.contains("context shift: the context of 32 tokens filled 4 times; kept the first 3 tokens each time and dropped 56 after them in all"),
                      shifted.stderr)
        XCTAssertEqual(Array(long.prefix(plain.count)), plain)
    }

    /// -ctk/-ctv name the key and value types separately; --info states the bytes per token; an unknown type
    /// is refused with the supported list; a quantized cache generates.
    func testQuantizedCacheTypes() throws {
        let model = try E2E.testdataFile("models/tiny-llama3-q8_0.gguf")  // 4 layers × 128 KV dims
        var r = try E2E.run(try E2E.runner(), ["-m", model.path, "--info", "-c", "1024", "-ctk", "q8_0", "-ctv", "q4_0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // Per layer: keys 4 Q8_0 blocks (136 B), values 4 Q4_0 blocks (72 B).
        XCTAssertTrue(r.stdout.contains("kv cache:     832.0 KiB for 1024 tokens (-c; 832 B per token, K Q8_0, V Q4_0"), r.stdout)
        r = try E2E.run(try E2E.runner(), ["-m", model.path, "-p", "Hi", "-ctk", "q5_1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("-ctk: unsupported KV cache type 'q5_1' (supported: f16, f32, q8_0, q4_0)"), r.stderr)
        for type in ["q8_0", "q4_0"] {
            r = try E2E.run(try E2E.runner(), ["-m", model.path, "-p", "The capital of France is", "-n", "8", "--temp", "0",
                                               "--top-logits", "1", "-ctk", type, "-ctv", type])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(steps(r.stdout).count, 8, r.stdout)
        }
    }
}
