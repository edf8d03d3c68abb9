#if arch(x86_64)
import _Builtin_intrinsics.intel.cpuid
#endif

/// What the fast kernels may use on this CPU, decided once per process.
public struct CPUFeatures: Sendable {
    /// AVX2 with FMA and F16C: the TensorsAVX2 kernels may run.
    public let hasAVX2: Bool

    /// The running CPU's features. Setting SWIFTFILE_KERNELS=scalar in the environment forces the
    /// scalar reference kernels (for comparisons and debugging).
    public static let current = CPUFeatures(forceScalar: getenvString("SWIFTFILE_KERNELS") == "scalar")

    init(forceScalar: Bool) {
        hasAVX2 = !forceScalar && CPUFeatures.detectAVX2()
    }

    private static func detectAVX2() -> Bool {
        #if arch(x86_64)
        var eax: UInt32 = 0, ebx: UInt32 = 0, ecx: UInt32 = 0, edx: UInt32 = 0
        guard __get_cpuid_count(1, 0, &eax, &ebx, &ecx, &edx) != 0 else { return false }
        // FMA (bit 12), OSXSAVE (27: the OS saves extended state; Linux enables YMM whenever the
        // CPU has AVX, so we do not also read XCR0), AVX (28), F16C (29).
        let leaf1: UInt32 = (1 << 12) | (1 << 27) | (1 << 28) | (1 << 29)
        guard ecx & leaf1 == leaf1 else { return false }
        guard __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) != 0 else { return false }
        return ebx & (1 << 5) != 0  // AVX2
        #else
        return false
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

private func getenvString(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}
