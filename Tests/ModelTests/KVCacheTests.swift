import Engine
import Foundation
import GGUF
@testable import Model
import Sampling
import Tensors
import Tokenizer
import XCTest

/// The KV cache in its four types, and context shift (moving cached positions down with their keys turned).
final class KVCacheTests: XCTestCase {
    static func model(_ name: String = "tiny-llama3-q8_0") throws -> TransformerModel {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = ProcessInfo.processInfo.environment["SWIFTFILE_TESTDATA"].map { URL(fileURLWithPath: $0) }
            ?? root.appendingPathComponent("testdata")
        let bytes = try OwnedBytes.read(path: folder.appendingPathComponent("models/\(name).gguf").path)
        return try TransformerModel(gguf: try GGUFFile(bytes: bytes.buffer, owner: bytes))
    }

    /// A 40-token prompt (one batch, every row's logits) and 8 decode steps, as one array of logits.
    static func logits(_ model: TransformerModel, _ format: KVCache.Format) throws -> [Float] {
        let context = InferenceContext(model: model, contextLength: 64, maxBatch: 64, threads: 2, cacheFormat: format)
        let prompt = (0..<40).map { 1000 + 37 * $0 }
        var all: [Float] = []
        all += try context.forward(prompt.enumerated().map { BatchEntry(token: $0.element, position: $0.offset, wantsLogits: true) })
        for step in 0..<8 {
            all += try context.forward([BatchEntry(token: 5000 + step, position: prompt.count + step, wantsLogits: true)])
        }
        return all
    }

    /// F16, Q8_0 and Q4_0 caches against an F32 cache over a prompt batch and decode steps. This random
    /// synthetic model magnifies rounding (F16 alone moves its logits by 0.11): measured F16 0.111, Q8_0
    /// 0.110, Q4_0 0.93, K Q8_0 + V F16 0.111; the tolerances are about twice that.
    func testQuantizedCachesStayNearTheF32Cache() throws {
        let model = try Self.model()
        let exact = try Self.logits(model, .f32)
        XCTAssertGreaterThan(exact.map(abs).max() ?? 0, 1, "logits look empty")
        var drift: [String: Float] = [:]
        for (format, tolerance) in [(KVCache.Format.f16, Float(0.25)),
                                    (KVCache.Format(keys: .q8_0, values: .q8_0), 0.25),
                                    (KVCache.Format(keys: .q4_0, values: .q4_0), 2.0),
                                    (KVCache.Format(keys: .q8_0, values: .f16), 0.25)] {
            let got = try Self.logits(model, format)
            XCTAssertEqual(got.count, exact.count)
            let worst = zip(got, exact).map { abs($0 - $1) }.max() ?? .nan
            drift[format.description] = worst
            XCTAssertLessThan(worst, tolerance, "\(format): max |Δlogit| \(worst)")
            if format != .f16 { XCTAssertGreaterThan(worst, 0, "\(format) changed nothing: is it quantizing?") }
        }
        print("KV cache drift vs F32 (max |Δlogit| over 48 rows):", drift.sorted { $0.key < $1.key })
        // Q4_0 keeps less than Q8_0: its drift must be the larger one.
        XCTAssertGreaterThan(drift["Q4_0"] ?? 0, drift["Q8_0"] ?? 0)
    }

    /// Bytes per position follow the block sizes (Q8_0 34 B and Q4_0 18 B per 32 values).
    func testCacheSizesFollowTheTypes() throws {
        let q8 = KVCache.Format(keys: .q8_0, values: .q8_0), mixed = KVCache.Format(keys: .q4_0, values: .f16)
        XCTAssertEqual(q8.bytesPerToken(layers: 16, kvDimension: 512), 16 * 2 * 16 * 34)
        XCTAssertEqual(mixed.bytesPerToken(layers: 16, kvDimension: 512), 16 * (16 * 18 + 1024))
        XCTAssertEqual(KVCache.byteCount(layers: 16, sequences: 1, contextLength: 131072, kvDimension: 512, format: .f16), 4 << 30)
        XCTAssertNil(q8.bytesPerToken(layers: 1, kvDimension: 48), "48 values are not whole Q8_0 blocks")
        XCTAssertNotNil(q8.unsupportedReason(headDimension: 80))
        XCTAssertNil(q8.unsupportedReason(headDimension: 64))
        XCTAssertNil(KVCache.Format.f16.unsupportedReason(headDimension: 80))
    }

    /// Layer 0's keys depend only on the token and its position, so after a shift every moved key must be
    /// what evaluating the kept tokens at their new positions writes (F32 cache: to float rounding of the
    /// rotation), and every moved value row must be the old row's bytes.
    func testContextShiftTurnsKeysToTheirNewPositions() throws {
        let model = try Self.model()
        let h = model.hyper
        let tokens = (0..<24).map { 2000 + 101 * $0 }
        let keep = 4, discard = 8
        for format in [KVCache.Format.f32, .f16, KVCache.Format(keys: .q8_0, values: .q4_0)] {
            let shifted = InferenceContext(model: model, contextLength: 32, maxBatch: 32, threads: 2, cacheFormat: format)
            _ = try shifted.forward(tokens.enumerated().map { BatchEntry(token: $0.element, position: $0.offset, wantsLogits: false) })
            let cache = shifted.cache
            let layer1Values = (keep + discard..<tokens.count).map {
                Array(UnsafeRawBufferPointer(start: cache.valueRow(layer: 1, sequence: 0, position: $0), count: cache.valueRowBytes))
            }
            try shifted.shift(sequence: 0, keep: keep, discard: discard, count: tokens.count)

            let kept = Array(tokens[..<keep] + tokens[(keep + discard)...])
            let fresh = InferenceContext(model: model, contextLength: 32, maxBatch: 32, threads: 2, cacheFormat: format)
            _ = try fresh.forward(kept.enumerated().map { BatchEntry(token: $0.element, position: $0.offset, wantsLogits: false) })

            var worst: Float = 0, scale: Float = 0
            var a = [Float](repeating: 0, count: h.kvDimension), b = a
            for position in 0..<kept.count {
                BlockFormat.dequantize(format.keys.tensorType, shifted.cache.keyRow(layer: 0, sequence: 0, position: position), &a, count: h.kvDimension)
                BlockFormat.dequantize(format.keys.tensorType, fresh.cache.keyRow(layer: 0, sequence: 0, position: position), &b, count: h.kvDimension)
                for d in 0..<h.kvDimension { worst = max(worst, abs(a[d] - b[d])); scale = max(scale, abs(b[d])) }
            }
            // F32: the rotation's rounding; F16 and Q8_0: one more rounding step of the type (2⁻¹¹ and 1/254 of
            // the largest magnitude).
            let tolerance: Float = format.keys == .f32 ? 1e-4 * scale : (format.keys == .f16 ? 2e-3 * scale : 1.5e-2 * scale)
            XCTAssertGreaterThan(scale, 0.01, "keys look empty")
            XCTAssertLessThanOrEqual(worst, tolerance, "\(format): layer-0 keys after the shift differ by \(worst) (largest key \(scale))")
            for (i, bytes) in layer1Values.enumerated() {
                let moved = Array(UnsafeRawBufferPointer(start: cache.valueRow(layer: 1, sequence: 0, position: keep + i), count: cache.valueRowBytes))
                XCTAssertEqual(moved, bytes, "\(format): value row \(keep + discard + i) did not move intact")
            }
        }
    }

    /// Generation past a full context: off, it stops with `.contextFull` after filling all but the last
    /// position; on, it keeps going (shifting whenever the cache fills) until the token limit.
    func testGenerationShiftsWhenTheContextFills() throws {
        let model = try Self.model()
        let tokenizer = try Tokenizer(gguf: model.gguf)
        let prompt = [128000] + (0..<9).map { 3000 + 17 * $0 }
        var sampling = SamplingParameters()
        sampling.temperature = 0

        let plain = Generator(context: InferenceContext(model: model, contextLength: 32, maxBatch: 16, threads: 2), tokenizer: tokenizer)
        var plainIDs: [Int] = []
        let (reason, timings) = try plain.generate(prompt: prompt, maxTokens: 100, sampling: sampling) { token in
            if token.id >= 0 { plainIDs.append(token.id) }
            return true
        }
        // Greedy on this model never picks an end-of-generation token in these steps (deterministic).
        XCTAssertEqual(reason, .contextFull)
        XCTAssertEqual(timings.generatedTokens, 32 - prompt.count, "every position but the last is used")
        XCTAssertEqual(plain.lastShifts.count, 0)

        let shifting = Generator(context: InferenceContext(model: model, contextLength: 32, maxBatch: 16, threads: 2), tokenizer: tokenizer)
        shifting.contextShiftKeep = 3
        var shiftIDs: [Int] = []
        let (shiftReason, shiftTimings) = try shifting.generate(prompt: prompt, maxTokens: 100, sampling: sampling) { token in
            if token.id >= 0 { shiftIDs.append(token.id) }
            return true
        }
        XCTAssertEqual(shiftReason, .length)
        XCTAssertEqual(shiftTimings.generatedTokens, 100)
        // 31 positions filled, keep 3 + BOS: drops (31 − 4) / 2 = 13, and 13 again at every later fill of 31.
        XCTAssertEqual(shifting.lastShifts.kept, 4)
        XCTAssertEqual(shifting.lastShifts.count, 6, "fills after 22, 35, 48, 61, 74 and 87 sampled tokens (the 100th ends it)")
        XCTAssertEqual(shifting.lastShifts.dropped, 13 * shifting.lastShifts.count)
        // Up to the first shift both runs are the same computation: the same greedy tokens.
        XCTAssertEqual(Array(shiftIDs.prefix(plainIDs.count)), plainIDs)
    }
}
