// swift-tools-version:6.0
import PackageDescription

// Kernels are hot loops over unsafe pointers; exclusivity checks cost there and buy nothing.
let fast: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
    // Optimized in debug builds too: unoptimized SIMD kernels are ~100x slower, which would keep the tests
    // that run a model (scheduler, interleaving) out of `make test`. The rest of a debug build stays -Onone.
    + [.unsafeFlags(["-O"], .when(configuration: .debug))]

// The x86 kernel modules are compiled with these CPU features (the binary checks the CPU before calling
// them). Given as clang target features, not -mavx2: the driver rejects -m flags of another
// architecture, so an arm64 build (native, or cross-compiled from x86-64) would fail, while an
// unknown target feature is ignored there — and on arm64 those modules compile empty (#if arch). (The
// check is on the machine that evaluates the manifest: an x86-64 build driven from an arm64 host, such as
// a universal macOS build, would need these flags too; not supported.)
func x86Features(_ names: [String]) -> [SwiftSetting] {
    #if arch(x86_64)
    [.unsafeFlags(names.flatMap { ["-Xcc", "-Xclang", "-Xcc", "-target-feature", "-Xcc", "-Xclang", "-Xcc", "+" + $0] })]
    #else
    []
    #endif
}

let package = Package(
    name: "swiftfile",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swiftfile", targets: ["swiftfile"]),
        .executable(name: "swiftfile-pack", targets: ["swiftfile-pack"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // HTTP server: plain SwiftNIO (see docs/design.md, "Server", for why not Hummingbird).
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        // Bounds-checked GGUF reader and writer. Depends on nothing.
        .target(name: "GGUF"),
        // ZIP64 tail archive, self-location, mapping, .args, split parts, -m resolution.
        .target(name: "Container", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // Block formats, dequantization, dot products, thread pool.
        .target(name: "Tensors", dependencies: ["GGUF", "TensorsGrids", "TensorsAVX2", "TensorsAVX512"],
                exclude: ["AVX2", "AVX512", "Grids"], swiftSettings: fast),
        // The I-quants' value grids (generated: Tools/make_iquant_grids.py), shared by the portable and AVX2 code.
        .target(name: "TensorsGrids", path: "Sources/Tensors/Grids"),
        // A prefetch hint the kernels can call (the C intrinsic is a macro).
        .target(name: "CPrefetch"),
        // AVX2+FMA+F16C dot kernels, compiled for those features; Tensors calls them only after
        // checking the CPU (CPUFeatures), so the binary still runs on any x86-64.
        // AVX-512 VNNI kernels (run only after CPUFeatures saw AVX-512 F/BW/VL + VNNI enabled by the OS).
        .target(name: "TensorsAVX512", dependencies: ["TensorsAVX2"], path: "Sources/Tensors/AVX512",
                swiftSettings: fast + x86Features(["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512vnni"])),
        .target(name: "TensorsAVX2", dependencies: ["TensorsGrids", "CPrefetch"], path: "Sources/Tensors/AVX2",
                swiftSettings: fast + x86Features(["avx2", "fma", "f16c"])),
        .target(name: "Tokenizer", dependencies: ["GGUF"]),
        .target(name: "Model", dependencies: ["GGUF", "Tensors"], swiftSettings: fast),
        // The GPU worker's client: process, shared memory, protocol (the worker itself is GPU/, built by make).
        .target(name: "Offload", dependencies: ["GGUF", "Model"]),
        .target(name: "Sampling"),
        // JSON values with ordered objects, and a bounded parser (request bodies, JSON Schema).
        .target(name: "JSON"),
        // GBNF grammars and JSON Schema → grammar; a pushdown recogniser over code points (constrained sampling).
        // (-O in debug too: the constrained-sampling tests walk a 128k-token vocabulary under it.)
        .target(name: "Grammar", dependencies: ["JSON"], swiftSettings: fast),
        // Chat templates: a small sandboxed Jinja subset plus built-in formats.
        .target(name: "Chat"),
        .target(name: "Engine", dependencies: ["Model", "Tokenizer", "Sampling", "GGUF", "Tensors", "Chat", "Grammar"]),
        // HTTP API (OpenAI + llama.cpp routes), SSE, auth, limits, UI assets.
        .target(name: "Server", dependencies: [
            "Engine", "Chat", "Tokenizer", "Model", "Sampling", "GGUF", "JSON", "Grammar",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // seccomp and Landlock calls for the server's sandbox (C: BPF programs and raw system calls).
        .target(name: "CSandbox"),
        .executableTarget(name: "swiftfile", dependencies: [
            "GGUF", "Container", "Tensors", "Tokenizer", "Model", "Sampling", "Engine", "Server", "Chat", "Offload", "CSandbox",
            "Grammar", "JSON",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "swiftfile-pack", dependencies: [
            "Container", "GGUF",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF"]),
        .testTarget(name: "ContainerTests", dependencies: ["Container"]),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "GGUF"], exclude: ["Fixtures"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "GGUF"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "GGUF", "Tensors", "Tokenizer", "Engine", "Sampling", "Grammar"]),
        .testTarget(name: "SamplingTests", dependencies: ["Sampling"]),
        .testTarget(name: "OffloadTests", dependencies: ["Offload"]),
        .testTarget(name: "GrammarTests", dependencies: ["Grammar", "JSON"]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "Engine", "Model", "GGUF", "Tokenizer", "Sampling"]),
        .testTarget(name: "ChatTests", dependencies: ["Chat"], exclude: ["Fixtures"]),
        // Runs the built executables; see Tests/EndToEndTests/Support.swift.
        .testTarget(name: "EndToEndTests", dependencies: ["GGUF", "Container"], exclude: ["reference"]),
    ]
)
