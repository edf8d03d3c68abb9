#if arch(x86_64)
import _Builtin_intrinsics.intel.cpuid
#endif

/// What the fast kernels may use on this CPU, decided once per process.
public struct CPUFeatures: Sendable {
    /// AVX2 with FMA and F16C: the TensorsAVX2 kernels may run.
    public let hasAVX2: Bool

    /// The running CPU's features. Setting SWIFTFILE_KERNELS=scalar in the environment turns the x86
    /// kernels off: the portable path (PortableDot, the reference loops), what arm64 runs (for comparisons
    /// and debugging).
    public static let current = CPUFeatures(forceScalar: getenvString("SWIFTFILE_KERNELS") == "scalar")

    /// AVX-512 F, BW, VL and VNNI, with the OS saving their state: the TensorsAVX512 kernels may run.
    /// SWIFTFILE_KERNELS=avx2 keeps them off (for comparisons).
    public let hasAVX512VNNI: Bool

    init(forceScalar: Bool) {
        hasAVX2 = !forceScalar && CPUFeatures.detectAVX2()
        hasAVX512VNNI = hasAVX2 && getenvString("SWIFTFILE_KERNELS") != "avx2" && CPUFeatures.detectAVX512VNNI()
    }

    /// What the matrix kernels run on (for --version).
    public var kernelDescription: String {
        #if arch(x86_64)
        hasAVX512VNNI ? "AVX-512 VNNI + AVX2+FMA+F16C" : hasAVX2 ? "AVX2+FMA+F16C" : "portable"
        #else
        "portable"
        #endif
    }

    /// CPUID leaf 7 bits, and the kernel's flags line as proof that the OS enabled the AVX-512 state (Linux
    /// lists avx512* only when XSAVE manages the opmask and ZMM registers).
    private static func detectAVX512VNNI() -> Bool {
        #if arch(x86_64) && os(Linux)
        var eax: UInt32 = 0, ebx: UInt32 = 0, ecx: UInt32 = 0, edx: UInt32 = 0
        guard __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) != 0 else { return false }
        let leaf7: UInt32 = (1 << 16) | (1 << 30) | (1 << 31)  // AVX512F, AVX512BW, AVX512VL
        guard ebx & leaf7 == leaf7, ecx & (1 << 11) != 0 else { return false }  // AVX512_VNNI
        guard let file = fopen("/proc/cpuinfo", "r") else { return false }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            guard let line else { break }
            let text = String(cString: line)
            guard text.hasPrefix("flags") else { continue }
            let flags = Set(text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init))
            return flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512_vnni"])
        }
        return false
        #else
        return false
        #endif
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

/// The body of an x86 kernel facade (FloatWeights, InterleavedWeights, PanelGEMM) on other architectures.
/// Their `supports` is false there and every caller checks it first, so this is never reached; reaching it
/// is a programming error in the caller, not a reaction to input.
func x86KernelUnreachable(_ function: StaticString = #function) -> Never {
    preconditionFailure("\(function) is an x86 kernel; its `supports` is false on this architecture")
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
