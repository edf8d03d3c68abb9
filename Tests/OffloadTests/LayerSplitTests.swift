import Offload
import XCTest

/// How the offloaded layers are shared among several GPUs (-sm layer): llama.cpp's rule, with the output
/// counted as one more layer, so the same -ts gives the same ranges as there.
final class LayerSplitTests: XCTestCase {
    typealias A = GPULayerSplit.Assignment

    func testEqualSharesSplitLlamaShapedModelsInTheMiddle() {
        // 32 layers + output = 33 slots: slot j goes to GPU 0 while j/33 < 0.5.
        XCTAssertEqual(GPULayerSplit.assign(layers: 0..<32, output: true, shares: [1, 1]),
                       [A(device: 0, layers: 0..<17, output: false), A(device: 1, layers: 17..<32, output: true)])
        XCTAssertEqual(GPULayerSplit.assign(layers: 0..<4, output: true, shares: [1, 1]),
                       [A(device: 0, layers: 0..<3, output: false), A(device: 1, layers: 3..<4, output: true)])
        // Partial offload (-ngl 3 of 4): only the offloaded layers are shared, no output.
        XCTAssertEqual(GPULayerSplit.assign(layers: 1..<4, output: false, shares: [1, 1]),
                       [A(device: 0, layers: 1..<3, output: false), A(device: 1, layers: 3..<4, output: false)])
    }

    func testUnequalSharesAndDevicesLeftOut() {
        // 80 layers over 3:1 (e.g. free memory 72 and 24 GiB): 81 slots, GPU 0 while j/81 < 0.75.
        XCTAssertEqual(GPULayerSplit.assign(layers: 0..<80, output: true, shares: [3, 1]),
                       [A(device: 0, layers: 0..<61, output: false), A(device: 1, layers: 61..<80, output: true)])
        // A small share can end with the output alone …
        XCTAssertEqual(GPULayerSplit.assign(layers: 0..<4, output: true, shares: [2, 1]),
                       [A(device: 0, layers: 0..<4, output: false), A(device: 1, layers: 4..<4, output: true)])
        // … or with nothing, and is then left out.
        XCTAssertEqual(GPULayerSplit.assign(layers: 0..<4, output: true, shares: [100, 1]),
                       [A(device: 0, layers: 0..<4, output: true)])
        // Zero shares (-ts 0,1 / -ts 1,0,2) skip their devices.
        XCTAssertEqual(GPULayerSplit.assign(layers: 0..<4, output: true, shares: [0, 1]),
                       [A(device: 1, layers: 0..<4, output: true)])
        XCTAssertEqual(GPULayerSplit.assign(layers: 0..<6, output: false, shares: [1, 0, 2]),
                       [A(device: 0, layers: 0..<2, output: false), A(device: 2, layers: 2..<6, output: false)])
        XCTAssertEqual(GPULayerSplit.assign(layers: 0..<4, output: true, shares: [0, 0]), [])
        XCTAssertEqual(GPULayerSplit.assign(layers: 0..<4, output: true, shares: []), [])
    }

    /// Whatever the shares: consecutive ranges in device order that cover the layers exactly once, the
    /// output with the last, no device twice.
    func testRangesAlwaysCoverTheLayersOnce() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let count = Int.random(in: 1...130, using: &generator), first = Int.random(in: 0...count - 1, using: &generator)
            let output = Bool.random(using: &generator)
            let shares = (0..<Int.random(in: 1...8, using: &generator)).map { _ in
                Bool.random(using: &generator) ? 0 : Double.random(in: 0.01...100, using: &generator)
            }
            let plan = GPULayerSplit.assign(layers: first..<count, output: output, shares: shares)
            guard shares.contains(where: { $0 > 0 }) else { XCTAssertEqual(plan, []); continue }
            XCTAssertEqual(plan.first?.layers.lowerBound, first, "\(shares)")
            XCTAssertEqual(plan.last?.layers.upperBound, count, "\(shares)")
            XCTAssertEqual(plan.last?.output, output, "\(shares)")
            for (a, b) in zip(plan, plan.dropFirst()) {
                XCTAssertEqual(a.layers.upperBound, b.layers.lowerBound, "\(shares)")
                XCTAssertLessThan(a.device, b.device, "\(shares)")
                XCTAssertFalse(a.output)
            }
            for a in plan {
                XCTAssertGreaterThan(shares[a.device], 0)
                XCTAssertTrue(!a.layers.isEmpty || a.output, "\(shares)")
            }
        }
    }
}
