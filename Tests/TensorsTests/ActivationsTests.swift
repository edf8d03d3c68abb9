import XCTest
@testable import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// The llama.cpp-style exp: AVX2 and scalar paths give the same bits; the values stay within 2 ulp of
/// libm's expf (the algorithm's bound is about 1.5) and saturate where it says.
final class ActivationsTests: XCTestCase {
    private var avx2: Bool { CPUFeatures.current.hasAVX2 }

    /// Inputs: a dense sweep of the useful range, the edges of each branch, and specials.
    private func inputs() -> [Float] {
        var xs: [Float] = []
        var x: Float = -110
        while x < 95 { xs.append(x); x += 0.0137 }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20_000 { xs.append(Float.random(in: -140...140, using: &rng)) }
        xs += [0, -0, 1e-30, -1e-30, 87.3, 88.37, 88.4, 88.8, 89, -87.3, -87.4, -88, -100, -103.9, -104, -125,
               -133.1, -134, -200, 133, 134, 1000, -1000, .infinity, -.infinity, .nan,
               .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude]
        return xs
    }

    func testScalarExpCloseToLibm() {
        var worst: Float = 0
        for x in inputs() where x.isFinite && x > -87 && x < 88 {
            let r = Activations.exp(x), e = expf(x)
            worst = max(worst, abs(r - e) / e.ulp)
        }
        XCTAssertLessThanOrEqual(worst, 2, "worst error \(worst) ulp")
        XCTAssertEqual(Activations.exp(0), 1)
        XCTAssertEqual(Activations.exp(-200), 0)
        XCTAssertEqual(Activations.exp(-.infinity), 0)
        XCTAssertEqual(Activations.exp(200), .infinity)
        XCTAssertEqual(Activations.exp(.infinity), .infinity)
        XCTAssertTrue(Activations.exp(.nan).isNaN)
        // Subnormal results are rounded once (−100 → about 3.7e-44).
        XCTAssertEqual(Activations.exp(-100), expf(-100), accuracy: 2 * Float.leastNonzeroMagnitude)
    }

    func testSoftmaxPathsAgreeBitForBit() throws {
        try XCTSkipUnless(avx2, "hardware: no AVX2 on this CPU")
        let xs = inputs()
        for count in [1, 7, 8, 15, 16, 17, 31, 33, 100, xs.count] {
            let values = Array(xs.prefix(count)).map { $0.isFinite ? $0 : 0 }
            let maximum = values.max() ?? 0
            var a = values, b = values
            let sa = a.withUnsafeMutableBufferPointer {
                Activations.softmaxExp($0.baseAddress!, count: count, maximum: maximum, vectorized: true)
            }
            let sb = b.withUnsafeMutableBufferPointer {
                Activations.softmaxExp($0.baseAddress!, count: count, maximum: maximum, vectorized: false)
            }
            XCTAssertEqual(sa, sb, "count \(count)")
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "count \(count)")
            XCTAssertEqual(b.map(\.bitPattern), values.map { Activations.exp($0 - maximum).bitPattern })
        }
        // Exact group sums: 16 ones and a 17th.
        var ones = [Float](repeating: 0, count: 17)
        let s = ones.withUnsafeMutableBufferPointer { Activations.softmaxExp($0.baseAddress!, count: 17, maximum: 0) }
        XCTAssertEqual(s, 17)
    }

    func testVectorExpMatchesScalarOnEveryInput() throws {
        try XCTSkipUnless(avx2, "hardware: no AVX2 on this CPU")
        // softmaxExp with maximum 0 is e^x element by element: run every input through both paths.
        let xs = inputs()
        var a = xs, b = xs
        _ = a.withUnsafeMutableBufferPointer { Activations.softmaxExp($0.baseAddress!, count: xs.count, maximum: 0, vectorized: true) }
        _ = b.withUnsafeMutableBufferPointer { Activations.softmaxExp($0.baseAddress!, count: xs.count, maximum: 0, vectorized: false) }
        for i in xs.indices where !(a[i].bitPattern == b[i].bitPattern || (a[i].isNaN && b[i].isNaN)) {
            XCTFail("x = \(xs[i]): AVX2 \(a[i]) scalar \(b[i])")
            break
        }
    }

    func testSwiGLUPathsAgreeAndTailUsesLibm() throws {
        try XCTSkipUnless(avx2, "hardware: no AVX2 on this CPU")
        let width = 40, rows = 3  // 32 vector elements + 8 tail elements per row
        var rng = SystemRandomNumberGenerator()
        let gate = (0..<(width * rows)).map { _ in Float.random(in: -12...12, using: &rng) }
        let up = (0..<(width * rows)).map { _ in Float.random(in: -3...3, using: &rng) }
        var a = gate, b = gate
        up.withUnsafeBufferPointer { u in
            a.withUnsafeMutableBufferPointer { Activations.swiGLU(gate: $0.baseAddress!, up: u.baseAddress!, width: width, rows: rows, vectorized: true) }
            b.withUnsafeMutableBufferPointer { Activations.swiGLU(gate: $0.baseAddress!, up: u.baseAddress!, width: width, rows: rows, vectorized: false) }
        }
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern))
        for r in 0..<rows {
            for i in 0..<width {
                let x = gate[r * width + i], y = up[r * width + i]
                let expected = i < 32 ? Activations.silu(x) * y : x / (1 + expf(-x)) * y
                XCTAssertEqual(b[r * width + i].bitPattern, expected.bitPattern, "row \(r) column \(i)")
            }
        }
    }
}
