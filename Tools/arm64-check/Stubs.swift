// What the copied Tensors sources need from outside in the embedded harness build: no x86 kernels
// (run.sh turns their #if arch(x86_64) blocks off), and libm's expf and tanhf from the C library.
public struct CPUFeatures {
    public static let current = CPUFeatures()
    public let hasAVX2 = false
    public let hasAVX512VNNI = false
}

@_extern(c, "expf") func expf(_ x: Float) -> Float
@_extern(c, "tanhf") func tanhf(_ x: Float) -> Float
