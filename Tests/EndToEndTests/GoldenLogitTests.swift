import Foundation
import XCTest

/// The runner against llama.cpp's recorded logits (../shared/testdata/goldens) and against our independent
/// float64 numpy reference (Tools/reference_forward.py), through `--top-logits`.
final class GoldenLogitTests: XCTestCase {
    struct Step { var id: Int; var top: [(Int, Double)] }

    /// Runs the runner with --top-logits and parses its JSON lines.
    static func topLogits(model: URL, prompt: String, steps: Int, k: Int = 20) throws -> (prompt: [Int], steps: [Step]) {
        let r = try E2E.run(try E2E.runner(), ["-m", model.path, "-p", prompt, "-n", "\(steps)", "--temp", "0",
                                               "--top-logits", "\(k)", "--log-disable", "-c", "256"])
        guard r.status == 0 else { throw XCTSkip("runner failed: \(r.stderr)") }
        return try parse(r.stdout)
    }

    static func parse(_ text: String) throws -> (prompt: [Int], steps: [Step]) {
        var prompt: [Int] = []
        var steps: [Step] = []
        for line in text.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            if let p = object["prompt"] as? [Int] { prompt = p; continue }
            guard let id = object["id"] as? Int, let top = object["top"] as? [[Double]] else { continue }
            steps.append(Step(id: id, top: top.map { (Int($0[0]), $0[1]) }))
        }
        return (prompt, steps)
    }

    /// Largest |Δlogit| between our step and an expected top list (every expected id must be in our top-k).
    static func maxDelta(_ ours: Step, _ expected: [(Int, Double)], file: StaticString = #filePath, line: UInt = #line) -> Double {
        var worst = 0.0
        for (id, logit) in expected {
            guard let mine = ours.top.first(where: { $0.0 == id }) else {
                XCTFail("token \(id) (logit \(logit)) missing from our top \(ours.top.count)", file: file, line: line)
                return .infinity
            }
            worst = max(worst, abs(mine.1 - logit))
        }
        return worst
    }

    func compareWithGolden(_ name: String, tolerance: Double) throws {
        let model = try E2E.testdataFile("models/\(name).gguf")
        let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: try E2E.testdataFile("goldens/\(name).json"))) as? [String: Any] ?? [:]
        let prompts = golden["prompts"] as? [[String: Any]] ?? []
        XCTAssertEqual(prompts.count, 3)
        var worst = 0.0
        for p in prompts {
            let text = p["prompt"] as? String ?? ""
            let tokens = p["tokens"] as? [Int] ?? []
            let greedy = p["greedy"] as? [Int] ?? []
            let margins = p["greedy_top1_top2_margin"] as? [Double] ?? []
            let perStep = (p["greedy_top5_per_step"] as? [[[Double]]] ?? []).map { $0.map { (Int($0[0]), $0[1]) } }
            let lastTop5 = (p["last_top5"] as? [[Double]] ?? []).map { (Int($0[0]), $0[1]) }
            let ours = try Self.topLogits(model: model, prompt: text, steps: greedy.count)
            XCTAssertEqual(ours.prompt, tokens, "prompt ids for \(text.debugDescription)")
            guard let first = ours.steps.first else { XCTFail("no steps"); continue }
            worst = max(worst, Self.maxDelta(first, lastTop5))
            // Greedy ids must agree up to the first near-tie (after which two correct engines may diverge).
            var compared = 0
            for (step, expectedId) in greedy.enumerated() {
                guard step < ours.steps.count, step < margins.count, step < perStep.count else { break }
                worst = max(worst, Self.maxDelta(ours.steps[step], perStep[step]))
                if margins[step] < tolerance { break }
                XCTAssertEqual(ours.steps[step].id, expectedId, "\(name) \(text.debugDescription) step \(step)")
                if ours.steps[step].id != expectedId { break }
                compared += 1
            }
            print("golden \(name) \(text.prefix(24).debugDescription): greedy ids equal for \(compared) steps")
        }
        print("golden \(name): max |Δlogit| = \(worst)")
        XCTAssertLessThanOrEqual(worst, tolerance, "\(name): max |Δlogit| \(worst)")
    }

    func testF16ModelMatchesLlamaCpp() throws { try compareWithGolden("tiny-llama3-f16-q4emb", tolerance: 1e-2) }
    func testQ8ModelMatchesLlamaCpp() throws { try compareWithGolden("tiny-llama3-q8_0-q4emb", tolerance: 1e-2) }
}
