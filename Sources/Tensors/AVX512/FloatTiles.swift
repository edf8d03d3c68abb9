#if arch(x86_64)
import _Builtin_intrinsics.intel
import TensorsAVX2  // AVX2Dot.f16Tiles, the generic tiles and their layouts

/// F16 prompt batches on 512-bit registers: AVX2Dot.f16Tiles' kernel with a register per 16-token block, two
/// blocks a step (6 rows × 32 tokens, 12 accumulators, 6 broadcasts and 2 loads per 12 FMAs): the same
/// chains in the same order, so the same bits.
public enum AVX512Float {
    public static func f16Tiles(_ x: UnsafeRawPointer, rowStride: Int, rows: Int, permuted: UnsafePointer<Float>,
                                tokens: Int, columns: Int, panel: UnsafeMutablePointer<Float>,
                                _ results: UnsafeMutablePointer<Float>, resultStride: Int) {
        withUnsafeTemporaryAllocation(of: __m512.self, capacity: 16 * 12) { chains in
            guard let chains = chains.baseAddress else { return }
            AVX2Dot.f16Tiles(SixteenLanes.self, x, rowStride: rowStride, rows: rows, permuted: permuted, tokens: tokens,
                             columns: columns, panel: panel, results, resultStride: resultStride, chains: chains)
        }
    }
}

enum SixteenLanes: TileLanes {
    @inline(__always) static var lanes: Int { 16 }
    @inline(__always) static func zero() -> __m512 { _mm512_setzero_ps() }
    @inline(__always) static func broadcast(_ x: Float) -> __m512 { _mm512_set1_ps(x) }
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> __m512 { p.loadUnaligned(as: __m512.self) }
    @inline(__always) static func fma(_ a: __m512, _ b: __m512, _ c: __m512) -> __m512 { _mm512_fmadd_ps(a, b, c) }
    @inline(__always) static func add(_ a: __m512, _ b: __m512) -> __m512 { _mm512_add_ps(a, b) }
    @inline(__always) static func lane(_ v: __m512, _ k: Int) -> Float { v[k] }
}
#endif
