import Foundation
import XCTest

/// GPU offload as a machine without a GPU sees it (CI), and the parts that need no GPU: the worker build,
/// its kernels' weight decoding, the bundle's SHA-256 check of the worker. On a machine with an NVIDIA GPU
/// the same tests check that the GPU is used instead (Tools/gpu-check.sh checks the numbers there).
final class GPUTests: XCTestCase {
    static let model = "models/tiny-llama3-q8_0-q4emb.gguf"

    var worker: URL { E2E.packageRoot.appendingPathComponent(".build/release/swiftfile-gpu") }

    /// Whether this build has a worker and this machine a usable GPU (the worker's own probe says).
    func machineHasGPU() throws -> Bool {
        guard FileManager.default.isExecutableFile(atPath: worker.path) else { return false }
        return try E2E.run(worker, ["--probe"]).status == 0
    }

    /// The worker binary, which `make` builds whenever clang-14 is there (Tools/setup-venv.sh installs it):
    /// its absence fails the test instead of passing it unchecked.
    func requireWorker() throws -> URL {
        guard FileManager.default.isExecutableFile(atPath: worker.path) else {
            throw E2E.MissingFixture(path: worker.path, hint: "not built: make builds it when clang-14 is installed (Tools/setup-venv.sh)")
        }
        return worker
    }

    func noteLines(_ stderr: String) -> [Substring] {
        stderr.split(separator: "\n").filter { $0.hasPrefix("note: GPU") || $0.hasPrefix("error: GPU") }
    }

    func testOffloadFallsBackToTheCPUWithOneLine() throws {
        let model = try E2E.testdataFile(Self.model)
        let args = ["-m", model.path, "-p", "The capital of France is", "-n", "6", "--temp", "0"]
        let cpu = try E2E.run(try E2E.runner(), args)
        let offload = try E2E.run(try E2E.runner(), args + ["-ngl", "999"])
        XCTAssertEqual(cpu.status, 0, cpu.stderr)
        XCTAssertEqual(offload.status, 0, offload.stderr)
        let lines = noteLines(offload.stderr)
        XCTAssertEqual(lines.count, 1, offload.stderr)
        if try machineHasGPU() {
            XCTAssertTrue(lines.first?.contains("offloaded 4 of 4 layers and the output") ?? false, offload.stderr)
        } else {
            // One line naming why: no worker in this build, or no driver / device / memory.
            XCTAssertTrue(lines.first?.hasSuffix("; running on the CPU") ?? false, offload.stderr)
            XCTAssertEqual(offload.stdout, cpu.stdout, "the CPU fallback must give the CPU's text")
        }
        XCTAssertTrue(noteLines(cpu.stderr).isEmpty, "no GPU line without -ngl: \(cpu.stderr)")
    }

    /// The driver compiles the kernels' PTX on a GPU's first run (seconds, silent): the one GPU line then says so,
    /// and says nothing of it when the start was quick. The stand-in driver pauses in its module load on request.
    func testSlowKernelLoadIsExplainedInTheGPULine() throws {
        _ = try requireWorker()
        let driver = E2E.packageRoot.appendingPathComponent(".build/release/stand-in-driver")
        let model = try E2E.testdataFile(Self.model)
        let args = ["-m", model.path, "-p", "Hi", "-n", "2", "--temp", "0", "-ngl", "999", "--gpu", "nvidia"]
        for (pause, explained) in [("0", false), ("3500", true)] {
            let r = try E2E.run(try E2E.runner(), args, environment: ["LD_LIBRARY_PATH": driver.path, "SWIFTFILE_STAND_IN_JIT_MS": pause])
            XCTAssertEqual(r.status, 0, r.stderr)
            let lines = noteLines(r.stderr)
            XCTAssertEqual(lines.count, 1, r.stderr)
            XCTAssertTrue(lines.first?.contains("offloaded 4 of 4 layers and the output") ?? false, r.stderr)
            XCTAssertEqual(lines.first?.contains("the driver compiles the kernels for this GPU on first use") ?? false, explained, r.stderr)
            if explained {
                let seconds = lines.first.flatMap { $0.range(of: #"starting took (\d+) s"#, options: .regularExpression) }
                    .map { Int(lines[0][$0].split(separator: " ")[2]) ?? 0 } ?? 0
                XCTAssertGreaterThanOrEqual(seconds, 3, r.stderr)
            }
        }
    }

    func testGPUNvidiaIsFatalWithoutAGPU() throws {
        if try machineHasGPU() { throw XCTSkip("hardware: this machine has a usable NVIDIA GPU, so --gpu nvidia succeeds (testOffloadFallsBackToTheCPUWithOneLine checks that)") }
        let model = try E2E.testdataFile(Self.model)
        let r = try E2E.run(try E2E.runner(), ["-m", model.path, "-p", "Hi", "-n", "2", "--gpu", "nvidia"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stdout.isEmpty)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stderr)
        XCTAssertTrue(lines.first?.hasPrefix("error: GPU: ") ?? false, r.stderr)
    }

    func testBadGPUFlagsAreRefused() throws {
        for (args, message) in [(["-ngl", "-1"], "-ngl/--n-gpu-layers must be 0 or more"),
                                (["-ngl", "most"], "-ngl/--n-gpu-layers takes a number of layers, all or auto, got 'most'"),
                                (["--gpu", "amd"], "--gpu must be auto, nvidia or disable, got 'amd' (this runner offloads to NVIDIA GPUs only)"),
                                (["-sm", "row"], "-sm row (each matrix split over several GPUs) is not supported"),
                                (["-sm", "rows"], "-sm/--split-mode must be none or layer"),
                                (["-mg", "-1"], "-mg/--main-gpu must be 0 or more"),
                                (["-mg", "1", "-sm", "layer"], "-mg/--main-gpu picks the one GPU of -sm none"),
                                (["-ts", "3,x"], "-ts/--tensor-split takes shares ≥ 0 separated by commas"),
                                (["-ts", "0/0"], "-ts/--tensor-split needs a share above 0"),
                                (["-ts", "1,1", "-sm", "none"], "-ts/--tensor-split sets the GPUs' shares of -sm layer"),
                                (["-ngl", "2", "-nkvo"], "-nkvo/--no-kv-offload (an offloaded layer's KV cache on the host) is not supported"),
                                (["--no-kv-offload", "--gpu", "nvidia"], "-nkvo/--no-kv-offload (an offloaded layer's KV cache on the host) is not supported"),
                                (["-dev", "GPU0"], "-dev/--device names GPUs CUDA0, CUDA1, … (see --list-devices) or none, got 'GPU0'"),
                                (["-dev", "CUDA1,cuda1"], "-dev/--device names CUDA1 twice"),
                                (["-dev", "CUDA0", "-ts", "1,1"], "-ts/--tensor-split gives 2 shares for the 1 GPU of -dev"),
                                (["-dev", "CUDA0", "-mg", "1"], "-mg/--main-gpu 1 counts in -dev's list (from 0), which names 1 GPU"),
                                (["-dev", "none", "--gpu", "nvidia"], "--gpu nvidia asks for a GPU and -dev none for none"),
                                (["-fa", "maybe"], "-fa/--flash-attn must be on, off or auto, got 'maybe'"),
                                (["-ot", "exps=CPU"], "-ot/--override-tensor 'exps=CPU' (a tensor's own placement) is not supported: -ngl N places whole layers"),
                                (["--flash-attn=2"], "-fa/--flash-attn must be on, off or auto, got '2'")] {
            let r = try E2E.run(try E2E.runner(), ["-p", "x"] + args)
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.stderr.contains(message), r.stderr)
        }
    }

    /// llama.cpp command lines carry -fa (alone as llamafile's flag, or with llama.cpp's value), -kvo/-nkvo and
    /// -dev none: they run on the CPU with the same text, no GPU line, and -fa on says in one note that it
    /// changes nothing; -nkvo without offload is what the CPU does anyway.
    func testFlashAttentionAndKVOffloadSpellingsRun() throws {
        let model = try E2E.testdataFile(Self.model)
        let args = ["-m", model.path, "-p", "The capital of France is", "-n", "6", "--temp", "0"]
        let plain = try E2E.run(try E2E.runner(), args)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        let note = "note: -fa on changes nothing here"
        XCTAssertFalse(plain.stderr.contains(note))
        for (flags, noted) in [(["-fa"], true), (["-fa", "on"], true), (["--flash-attn", "1"], true), (["-fa", "-n", "6"], true),
                               (["-fa", "off"], false), (["--flash-attn=auto"], false), (["-fa", "-1"], false),
                               (["-nkvo"], false), (["-kvo", "-ngl", "0"], false), (["-ngl", "2", "-nkvo", "--gpu", "disable"], false),
                               (["-ngl", "999", "-dev", "none"], false)] {
            let r = try E2E.run(try E2E.runner(), args + flags)
            XCTAssertEqual(r.status, 0, "\(flags): \(r.stderr)")
            XCTAssertEqual(r.stdout, plain.stdout, "\(flags)")
            XCTAssertEqual(r.stderr.components(separatedBy: note).count - 1, noted ? 1 : 0, "\(flags): \(r.stderr)")
            XCTAssertTrue(noteLines(r.stderr).isEmpty, "\(flags): \(r.stderr)")
        }
    }

    /// llama.cpp's words for -ngl: `all` is everything (999), `auto` the last layers the free memory holds with
    /// their KV cache (the output too when everything fits), as --info estimates it; when not one layer fits,
    /// the CPU with one line (auto) or one fatal line (nvidia). The stand-in's devices have 7/8 of their memory free.
    func testNglAutoOffloadsWhatFitsAndAllEverything() throws {
        _ = try requireWorker()
        let driver = E2E.packageRoot.appendingPathComponent(".build/release/stand-in-driver")
        let model = try E2E.testdataFile("models/tiny-llama3-q4_k_m.gguf")
        func env(_ devices: String) -> [String: String] { ["LD_LIBRARY_PATH": driver.path, "SWIFTFILE_STAND_IN_DEVICES": devices] }
        // 32 MiB of F16 cache per layer at 65536 positions; 16 MiB of logits for 32-token batches.
        let args = ["-m", model.path, "-p", "Hi", "-n", "2", "--temp", "0", "-c", "65536", "-b", "32"]
        let cpu = try E2E.run(try E2E.runner(), args)
        XCTAssertEqual(cpu.status, 0, cpu.stderr)
        for (devices, flags, line) in [("8192", ["-ngl", "all"], "offloaded 4 of 4 layers and the output (4 layers + output: "),
                                       ("8192", ["-ngl", "auto"], "offloaded 4 of 4 layers and the output (4 layers + output: 27 MiB weights, 128 MiB KV cache, 16 MiB buffers); -ngl auto: what 7168 MiB free holds"),
                                       ("440", ["-ngl", "auto"], "offloaded 3 of 4 layers (3 layers: 1 MiB weights, 96 MiB KV cache, 0 MiB buffers); -ngl auto: what 385 MiB free holds"),
                                       ("380", ["-ngl", "AUTO", "--gpu", "nvidia"], "offloaded 2 of 4 layers (2 layers: ")] {
            let r = try E2E.run(try E2E.runner(), args + flags, environment: env(devices))
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(noteLines(r.stderr).count, 1, r.stderr)
            XCTAssertTrue(noteLines(r.stderr).first?.contains(line) ?? false, "\(devices) \(flags): \(r.stderr)")
            XCTAssertEqual(r.stdout, cpu.stdout, "\(devices) \(flags)")
        }
        let info = try E2E.run(try E2E.runner(), ["-m", model.path, "-c", "65536", "--info"], environment: env("440"))
        XCTAssertTrue(info.stdout.contains("385 MiB free; 3 of 4 layers fit (-ngl 3) with a 65536-token context"), info.stdout)
        // The output's logits for -b tokens count: 256 MiB at 512, 16 at 32, which -ngl auto above ran with.
        for (batch, verdict) in [("512", "4 of 4 layers fit (-ngl 4)"), ("32", "all 4 layers and the output fit (-ngl 999)")] {
            let r = try E2E.run(try E2E.runner(), ["-m", model.path, "-c", "65536", "-b", batch, "--info"], environment: env("500"))
            XCTAssertTrue(r.stdout.contains("437 MiB free; \(verdict) with a 65536-token context"), r.stdout)
        }
        let why = "-ngl auto: not one layer fits with its KV cache in 262 MiB free"
        let auto = try E2E.run(try E2E.runner(), args + ["-ngl", "auto"], environment: env("300"))
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertEqual(noteLines(auto.stderr), ["note: GPU: \(why); running on the CPU"], auto.stderr)
        XCTAssertEqual(auto.stdout, cpu.stdout)
        let fatal = try E2E.run(try E2E.runner(), args + ["-ngl", "auto", "--gpu", "nvidia"], environment: env("300"))
        XCTAssertEqual(fatal.status, 1)
        XCTAssertEqual(fatal.stderr.split(separator: "\n").filter { $0.hasPrefix("error") }, ["error: GPU: \(why)"], fatal.stderr)
        XCTAssertTrue(fatal.stdout.isEmpty)
    }

    /// Several GPUs (the stand-in driver pretends to have them): -sm layer gives each a range of the layers in
    /// its own worker, the output to the one with the last (llama.cpp's shares: -ts, else free memory), and the
    /// logits stay the CPU engine's bit for bit, the hidden state passing through the host between them;
    /// -mg picks one GPU; a GPU the driver does not have is refused as llama.cpp users would expect.
    func testLayersSplitOverSeveralGPUsGiveTheCPUsLogits() throws {
        _ = try requireWorker()
        let driver = E2E.packageRoot.appendingPathComponent(".build/release/stand-in-driver")
        let model = try E2E.testdataFile("models/tiny-llama3-q4_k_m.gguf")
        func env(_ devices: String) -> [String: String] { ["LD_LIBRARY_PATH": driver.path, "SWIFTFILE_STAND_IN_DEVICES": devices] }
        let prompt = "Once upon a time, there was a little robot who"
        let cpu = try GoldenLogitTests.topLogits(model: model, prompt: prompt, steps: 10)
        for (devices, flags, line) in [
            ("8192,4096", ["-ngl", "999", "-ts", "1,1"], "offloaded 4 of 4 layers and the output, split over 2 GPUs by layers: GPU 0 (Stand-in CUDA device (host)) layers 0–2 (3 layers: "),
            // free memory 7:3.5 → GPU 1 gets the slot of the output alone (5 slots, from 2/3 on)
            ("8192,4096", ["-ngl", "999"], "GPU 0 (Stand-in CUDA device (host)) layers 0–3 (4 layers: "),
            ("8192,4096,4096", ["-ngl", "3", "-ts", "1,1,1"], "offloaded 3 of 4 layers, split over 3 GPUs by layers: GPU 0 (Stand-in CUDA device (host)) layer 1 (1 layer: "),
            ("8192,4096", ["-ngl", "999", "-mg", "1"], "GPU 1 of 2: Stand-in CUDA device 1 (host), 4096 MiB"),
            ("8192,4096", ["-ngl", "999", "-ts", "0,1"], "GPU 1 of 2: Stand-in CUDA device 1 (host), 4096 MiB"),
            // -dev as llama.cpp's: its GPUs in its order, -ts and -mg counting in its list.
            ("8192,4096", ["-ngl", "999", "-dev", "CUDA1,CUDA0", "-ts", "1,1"], "split over 2 GPUs by layers: GPU 1 (Stand-in CUDA device 1 (host)) layers 0–2 (3 layers: "),
            ("8192,4096", ["-ngl", "999", "-dev", "CUDA1"], "GPU 1 of 2: Stand-in CUDA device 1 (host), 4096 MiB"),
            ("8192,4096", ["-ngl", "999", "-dev", "CUDA0,CUDA1", "-mg", "1"], "GPU 1 of 2: Stand-in CUDA device 1 (host), 4096 MiB"),
            // A GPU too old for the kernels (a display card beside the compute one) is left out, not the whole GPU path.
            ("4096@6.1,8192", ["-ngl", "999"], "GPU 1 of 2: Stand-in CUDA device 1 (host), 8192 MiB"),
        ] {
            let gpu = try GoldenLogitTests.topLogits(model: model, prompt: prompt, steps: 10, extra: flags + ["--gpu", "nvidia"],
                                                     environment: env(devices))
            XCTAssertEqual(gpu.prompt, cpu.prompt)
            XCTAssertEqual(gpu.steps.map(\.id), cpu.steps.map(\.id), "\(flags)")
            let worst = zip(cpu.steps, gpu.steps).map { GoldenLogitTests.maxDelta($0, Array($1.top.prefix(5))) }.max() ?? 1
            XCTAssertEqual(worst, 0, "\(devices) \(flags): max |Δlogit| \(worst)")
            let r = try E2E.run(try E2E.runner(), ["-m", model.path, "-p", "Hi", "-n", "2", "--temp", "0"] + flags, environment: env(devices))
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(noteLines(r.stderr).count, 1, r.stderr)
            XCTAssertTrue(noteLines(r.stderr).first?.contains(line) ?? false, "\(flags): \(r.stderr)")
        }
        // The output alone on the second GPU (free memory 7:3.5) is named so.
        let both = try E2E.run(try E2E.runner(), ["-m", model.path, "-p", "Hi", "-n", "2", "--temp", "0", "-ngl", "999"], environment: env("8192,4096"))
        XCTAssertTrue(both.stderr.contains("GPU 1 (Stand-in CUDA device 1 (host)) the output (0 layers + output: "), both.stderr)
        // --version lists every GPU; --list-devices as llama.cpp does, under the names -dev takes.
        let devices = try E2E.run(try E2E.runner(), ["--list-devices"], environment: env("4096@6.1,8192"))
        XCTAssertEqual(devices.status, 0, devices.stderr)
        XCTAssertEqual(devices.stdout, "Available devices:\n  CUDA0: not usable (Stand-in CUDA device (host): compute capability 6.1 is below the 7.0 the kernels need)\n"
                       + "  CUDA1: Stand-in CUDA device 1 (host) (8192 MiB, 7168 MiB free)\n")
        let version = try E2E.run(try E2E.runner(), ["--version"], environment: env("8192,4096"))
        XCTAssertTrue(version.stdout.contains("\nGPU 0: Stand-in CUDA device (host), 8192 MiB") && version.stdout.contains("\nGPU 1: Stand-in CUDA device 1 (host), 4096 MiB"), version.stdout)
        let leftOut = try E2E.run(try E2E.runner(), ["-m", model.path, "-p", "Hi", "-n", "2", "--temp", "0", "-ngl", "999"], environment: env("4096@6.1,8192"))
        XCTAssertTrue(leftOut.stderr.contains("; GPU 0 left out: Stand-in CUDA device (host): compute capability 6.1 is below the 7.0 the kernels need"), leftOut.stderr)
        let listed = try E2E.run(try E2E.runner(), ["--version"], environment: env("4096@6.1,8192"))
        XCTAssertTrue(listed.stdout.contains("\nGPU 0: not used (Stand-in CUDA device (host): compute capability 6.1 is below the 7.0 the kernels need)\nGPU 1: Stand-in CUDA device 1 (host)"), listed.stdout)
        // A GPU the driver lacks, or one -ts or -mg names that cannot run the kernels: the CPU with one line
        // (auto), or one fatal line (nvidia).
        let old = "Stand-in CUDA device (host): compute capability 6.1 is below the 7.0 the kernels need"
        for (devices, flags, why) in [("8192,4096", ["-mg", "2"], "no NVIDIA GPU 2: the driver sees 2 (numbered from 0)"),
                                      ("8192,4096", ["-ts", "1,1,1"], "-ts gives GPU 2 a share, but the driver sees 2 GPUs (numbered from 0)"),
                                      ("4096@6.1,8192", ["-ts", "1,1"], old),
                                      ("4096@6.1,8192", ["-mg", "0"], old),
                                      ("8192,4096", ["-dev", "CUDA2"], "no NVIDIA GPU 2: the driver sees 2 (numbered from 0)"),
                                      ("4096@6.1,8192", ["-dev", "CUDA0,CUDA1"], old),
                                      ("4096@6.1,4096@5.0", [], "no GPU can run the kernels: GPU 0: \(old); GPU 1: Stand-in CUDA device 1 (host): compute capability 5.0 is below")] {
            let args = ["-m", model.path, "-p", "Hi", "-n", "2", "--temp", "0", "-ngl", "999"] + flags
            let auto = try E2E.run(try E2E.runner(), args, environment: env(devices))
            XCTAssertEqual(auto.status, 0, auto.stderr)
            XCTAssertEqual(noteLines(auto.stderr).count, 1, auto.stderr)
            XCTAssertTrue(noteLines(auto.stderr).first?.hasPrefix("note: GPU: \(why)") ?? false, auto.stderr)
            XCTAssertTrue(noteLines(auto.stderr).first?.hasSuffix("; running on the CPU") ?? false, auto.stderr)
            let fatal = try E2E.run(try E2E.runner(), args + ["--gpu", "nvidia"], environment: env(devices))
            XCTAssertEqual(fatal.status, 1)
            XCTAssertTrue(fatal.stderr.hasPrefix("error: GPU: \(why)") && fatal.stderr.split(separator: "\n").count == 1, fatal.stderr)
        }
    }

    /// The host keeps the KV cache of the layers it runs, a GPU that of the layers it holds: a context whose
    /// whole cache is 1.5 times the host's memory runs when a GPU takes half the layers (the host's check once
    /// counted every layer and refused it), and gives the CPU's text; the refusal, when the host's half does
    /// not fit, names the CPU's layers. (The stand-in poisons only the first GiB of an allocation, so the GPU's
    /// half stays untouched beyond the positions used.)
    func testHostKeepsTheCacheOfItsOwnLayersOnly() throws {
        _ = try requireWorker()
        let driver = E2E.packageRoot.appendingPathComponent(".build/release/stand-in-driver")
        let model = try E2E.cachedModel("SmolLM2-135M-Instruct.Q4_1.gguf")
        let perToken = 30 * 3 * 64 * 2 * 2  // layers × KV width × (keys, values) × F16
        let host = Int(ProcessInfo.processInfo.physicalMemory)
        let context = min(host / perToken * 3 / 2, 16_777_216)
        XCTAssertGreaterThan(context * perToken, host, "this host's memory is too large for the test's -c limit")
        let half = context * perToken / 2
        let env = ["LD_LIBRARY_PATH": driver.path, "SWIFTFILE_STAND_IN_DEVICES": "\((half >> 20) * 8 / 7 + 2048)"]
        let args = ["-m", model.path, "-p", "The capital of France is", "-n", "3", "--temp", "0"]
        let gpu = try E2E.run(try E2E.runner(), args + ["-c", "\(context)", "-ngl", "15", "--gpu", "nvidia"], timeout: 600, environment: env)
        XCTAssertEqual(gpu.status, 0, gpu.stderr)
        XCTAssertTrue(gpu.stderr.contains("offloaded 15 of 30 layers"), gpu.stderr)
        let cpu = try E2E.run(try E2E.runner(), args)
        XCTAssertEqual(cpu.status, 0, cpu.stderr)
        XCTAssertEqual(gpu.stdout, cpu.stdout)
        // Only 5 layers on the GPU: the host's 25 do not fit, and the refusal says whose cache it counted.
        let refused = try E2E.run(try E2E.runner(), args + ["-c", "\(context)", "-ngl", "5", "--gpu", "nvidia"], timeout: 600, environment: env)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("error: -c \(context): the KV cache of the 25 layers on the CPU would take"), refused.stderr)
    }

    /// The build makes the worker whenever a clang with the NVPTX target is there (make setup installs
    /// Debian's clang-14), with both modules inside it (sm_70; sm_75 with the int8 tensor cores); --version
    /// says what it found, and on a device of compute 9.0 (the stand-in) names the module it loaded.
    func testWorkerCarriesThePTXWhenTheCompilerWasThere() throws {
        let clang = try E2E.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "clang-14 -print-targets 2>/dev/null | grep -q nvptx64"])
        let version = try E2E.run(try E2E.runner(), ["--version"])
        XCTAssertEqual(version.status, 0)
        let gpuLine = version.stdout.split(separator: "\n").first { $0.hasPrefix("GPU: ") }
        XCTAssertNotNil(gpuLine, version.stdout)
        guard clang.status == 0 else {
            XCTAssertFalse(FileManager.default.fileExists(atPath: worker.path))
            XCTAssertTrue(gpuLine?.contains("built without GPU kernels") ?? false, version.stdout)
            return
        }
        let bytes = try Data(contentsOf: worker)
        for marker in [".version 6.4", ".target sm_70", ".entry mv_q4_k(", ".entry mm_q6_k(", ".entry ms_q6_k(", "dp4a.s32.s32", ".entry attention_f16(", ".entry round_activations(",
                       ".version 6.5", ".target sm_75", "mma.sync.aligned.m8n8k16.row.col.s32.s8.s8.s32"] {
            XCTAssertNotNil(bytes.range(of: Data(marker.utf8)), "worker lacks \(marker)")
        }
        // The stand-in gives every shared array 16-byte alignment, so it cannot see a word read from a byte
        // array the GPU aligned to 1 or 2 (a "misaligned address" there): the PTX must declare none.
        for loose in [".shared .align 1 ", ".shared .align 2 "] {
            XCTAssertNil(bytes.range(of: Data(loose.utf8)), "a shared array declared \(loose)— read as words it faults on a GPU")
        }
        XCTAssertFalse(gpuLine?.contains("built without GPU kernels") ?? true, version.stdout)
        let driver = E2E.packageRoot.appendingPathComponent(".build/release/stand-in-driver")
        let standIn = try E2E.run(try E2E.runner(), ["--version"], environment: ["LD_LIBRARY_PATH": driver.path])
        XCTAssertTrue(standIn.stdout.contains("compute 9.0, 1 SMs, driver 12.0, kernels: PTX ISA 6.5, int8 tensor cores"), standIn.stdout)
    }

    /// The kernels' weight decoding (GPU/formats.h, compiled for the host) equals the gguf package's
    /// dequantisation of every format's fixture blocks.
    func testKernelWeightDecodingMatchesGGUF() throws {
        let dir = try E2E.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let exe = dir.appendingPathComponent("format_check")
        let root = E2E.packageRoot.path
        let build = try E2E.run(URL(fileURLWithPath: "/usr/bin/env"), ["cc", "-O2", "-std=c11", "-o", exe.path, "\(root)/GPU/format_check.c", "-lm"])
        XCTAssertEqual(build.status, 0, build.stderr)
        let r = try E2E.run(exe, ["\(root)/Tests/TensorsTests/Fixtures"])
        XCTAssertEqual(r.status, 0, r.stdout)
        XCTAssertTrue(r.stdout.contains("format_check: 22 formats, 0 failed"), r.stdout)
    }

    /// The stand-in driver's emulation of the device (GPU/emulator_check.c): a shuffle reduction and a block
    /// barrier give the GPU's values in both thread orders, and a shuffle with exited lanes, threads split
    /// between a shuffle and a barrier, and a misaligned load (which the host tolerates and a GPU does not;
    /// the kernels are compiled with the same check) fail the launch with a message.
    func testStandInDriverEmulatesBarriersAndShuffles() throws {
        _ = try requireWorker()
        let driver = E2E.packageRoot.appendingPathComponent(".build/release/stand-in-driver")
        let dir = try E2E.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let exe = dir.appendingPathComponent("emulator_check")
        let root = E2E.packageRoot.path
        let build = try E2E.run(URL(fileURLWithPath: "/usr/bin/env"), ["clang-14", "-O2", "-std=gnu11", "-fsanitize=alignment", "-fno-sanitize-link-runtime",
                                                                      "-I", "\(root)/GPU", "-o", exe.path,
                                                                      "\(root)/GPU/emulator_check.c", driver.appendingPathComponent("libcuda.so.1").path])
        XCTAssertEqual(build.status, 0, build.stderr)
        let r = try E2E.run(exe, [], environment: ["LD_LIBRARY_PATH": driver.path])
        XCTAssertEqual(r.status, 0, r.stdout)
        XCTAssertTrue(r.stdout.contains("emulator_check: 0 failed"), r.stdout)
        XCTAssertEqual(r.stdout.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count, 5, r.stdout)
        // … and the kernels the stand-in runs carry that check (the sanitizer's calls into the driver).
        let symbols = try E2E.run(URL(fileURLWithPath: "/usr/bin/env"), ["nm", driver.appendingPathComponent("kernels.o").path])
        XCTAssertTrue(symbols.stdout.contains("U __ubsan_handle_type_mismatch_v1"), "the stand-in's kernels are built without the alignment check")
    }

    /// The kernels themselves (GPU/kernels.cu compiled for the host, each CUDA thread a fiber of the stand-in
    /// driver) pass the worker's device self-test: every format's matrix-vector and tiled kernels (tensor
    /// cores and CUDA cores) at 1…100 tokens, activation rounding exactly, attention at several head sizes and lengths, each against a
    /// double-precision host reference. A missing barrier, a wrong shuffle distance or a wrong tile index
    /// fails here (both were tried), not only on a GPU.
    func testKernelsPassTheSelfTestOnTheStandInDriver() throws {
        let driver = E2E.packageRoot.appendingPathComponent(".build/release/stand-in-driver")
        let fixtures = E2E.packageRoot.appendingPathComponent("Tests/TensorsTests/Fixtures").path
        let r = try E2E.run(try requireWorker(), ["--selftest", fixtures], environment: ["LD_LIBRARY_PATH": driver.path])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("selftest: 0 failed"), r.stdout)
        let checks = r.stdout.split(separator: "\n").filter { $0.hasPrefix("ok ") }
        // 22 formats × 7 token counts, the 9 formats of 32-weight blocks again on a 70 × 96 matrix, the 3
        // tiled counts of each again on the CUDA-core kernel, Q4_0's, Q4_1's, IQ4_NL's and Q5_0's two tiles
        // against their batched matrix-vector kernel bit for bit (4 formats × 2 matrices × 3 counts × 2 tiles),
        // the same 16 checks again for each on a 40 × 1120 matrix (two 32-block chunks per row); the 13
        // super-block formats (Q2_K … Q6_K, IQ4_XS, the 7 grid I-quants) each with its 10 runs (both tiles too) against the CPU
        // engine's order computed on the host bit for bit, and all of that again on a 44 × 1280 matrix
        // (10 + 10; Q4_K's rows not a multiple of 8: the CPU's row-kernel order); Q8_0's, Q5_0's, Q5_1's,
        // F32's, BF16's and IQ4_NL's 10 runs per matrix against that order too (2, 3, 2, 2, 2 and 3 matrices); 5 rounding modes (1–4, 6) and the integers and scales of modes 3, 4 and 6; the norm of a
        // 2048-wide row in 6 modes (0–4, 6) and the same integers; Q4_1 and Q5_1 against Q8_1 activations (4
        // runs each); 5 attention shapes, each plain and with its output rounded as Q8_0, and the 4 of at most
        // 8 tokens split into 3 and 8 ranges.
        XCTAssertEqual(checks.count, (22 + 9) * (7 + 3) + 4 * 2 * 3 * 2 + 4 * 16 + 13 * (10 + 20) + (2 + 3 + 2 + 2 + 2 + 3) * 10 + 5 + 3 + 6 + 3 + 2 * 4 + 5 * 2 + 4 * 2, r.stdout)
    }

    /// The whole GPU path — runner ↔ worker protocol, upload, the forward pass's launch sequence, CUDA graph
    /// capture and replay, activation rounding per format, partial offload — on the stand-in driver, which
    /// runs the kernels' own code on the host. Its logits must match the CPU engine's step for step: a wrong
    /// buffer, layer or residual moves logits by whole units, while the two paths' legitimate difference is
    /// rounding. The Q8_0, F16, Q4_0 (output), Q4_K and Q6_K products (and Q2_K, Q3_K, Q5_K, IQ4_XS, the grid
    /// I-quants of the fourth model) and the attention follow the CPU's summation orders (kernels.cu, matvec_q8_0,
    /// matvec_f16_*, matvec_nibbles, matvec_kquant, attention_cpu_order), so all four models' logits are the CPU's
    /// bit for bit (in other orders 1e-7 differences became rounding flips worth 0.036 for Q8_0, 0.015 for F16
    /// and 0.038 for Q4_K_M).
    func testStandInDriverMatchesTheCPUEngine() throws {
        let driver = E2E.packageRoot.appendingPathComponent(".build/release/stand-in-driver")
        _ = try requireWorker()
        XCTAssertTrue(FileManager.default.fileExists(atPath: driver.appendingPathComponent("libcuda.so.1").path))
        let env = ["LD_LIBRARY_PATH": driver.path]
        for name in ["tiny-llama3-f16-q4emb", "tiny-llama3-q8_0-q4emb", "tiny-llama3-q4_k_m", "tiny-llama3-iq-mix"] {
            let tolerance = 0.0
            let model = try E2E.testdataFile("models/\(name).gguf")
            for prompt in ["The capital of France is", "Once upon a time, there was a little robot who"] {
                let cpu = try GoldenLogitTests.topLogits(model: model, prompt: prompt, steps: 12)
                for layers in ["999", "2"] {
                    let gpu = try GoldenLogitTests.topLogits(model: model, prompt: prompt, steps: 12,
                                                             extra: ["-ngl", layers, "--gpu", "nvidia"], environment: env)
                    XCTAssertEqual(gpu.prompt, cpu.prompt)
                    XCTAssertEqual(gpu.steps.count, cpu.steps.count)
                    var worst = 0.0
                    for (a, b) in zip(cpu.steps, gpu.steps) {
                        worst = max(worst, GoldenLogitTests.maxDelta(a, Array(b.top.prefix(5))))
                        let sorted = a.top.map(\.1).sorted(by: >)
                        if a.id != b.id { XCTAssertLessThan(sorted[0] - sorted[1], tolerance, "\(name) -ngl \(layers): ids part"); break }
                    }
                    XCTAssertLessThanOrEqual(worst, tolerance, "\(name) -ngl \(layers) \(prompt.prefix(12)): max |Δlogit| \(worst)")
                    print("stand-in \(name) -ngl \(layers) \(prompt.prefix(12)): max |Δlogit| \(worst)")
                }
            }
        }
    }

    /// The real model through the real kernels: SmolLM2 (Q4_1 layers, Q8_0 output, 30 layers, GQA 9/3) with
    /// every layer and the output offloaded to the stand-in driver writes the CPU engine's greedy text for
    /// 32 tokens, and its logits are the CPU's bit for bit: Q4_1 is multiplied in the CPU's order from the
    /// Q8_1 integers (kernels.cu, matvec_nibbles). In the kernels' own order the second prompt's text parted
    /// from the CPU's within the 32 tokens.
    func testStandInDriverWritesSmolLM2sGreedyText() throws {
        _ = try requireWorker()
        let driver = E2E.packageRoot.appendingPathComponent(".build/release/stand-in-driver")
        let env = ["LD_LIBRARY_PATH": driver.path]
        let model = try E2E.cachedModel("SmolLM2-135M-Instruct.Q4_1.gguf")
        for prompt in ["The capital of France is", "Once upon a time, there was a little robot who"] {
            let args = ["-m", model.path, "-p", prompt, "-n", "32", "--temp", "0", "--log-disable"]
            let cpu = try E2E.run(try E2E.runner(), args)
            XCTAssertEqual(cpu.status, 0, cpu.stderr)
            let gpu = try E2E.run(try E2E.runner(), args + ["-ngl", "999", "--gpu", "nvidia"], timeout: 600, environment: env)
            XCTAssertEqual(gpu.status, 0, gpu.stderr)
            XCTAssertTrue(cpu.stdout.hasPrefix(prompt + " "), cpu.stdout)
            XCTAssertEqual(gpu.stdout, cpu.stdout)
        }
        let prompt = "Once upon a time, there was a little robot who"
        let cpu = try GoldenLogitTests.topLogits(model: model, prompt: prompt, steps: 6)
        for layers in ["999", "12"] {
            let gpu = try GoldenLogitTests.topLogits(model: model, prompt: prompt, steps: 6,
                                                     extra: ["-ngl", layers, "--gpu", "nvidia"], environment: env)
            XCTAssertEqual(gpu.prompt, cpu.prompt)
            XCTAssertEqual(gpu.steps.map(\.id), cpu.steps.map(\.id))
            let worst = zip(cpu.steps, gpu.steps).map { GoldenLogitTests.maxDelta($0, Array($1.top.prefix(5))) }.max() ?? 1
            XCTAssertEqual(worst, 0, "SmolLM2 -ngl \(layers): max |Δlogit| \(worst)")
        }
    }

    /// Long contexts split each head's positions into ranges (maxima and sums per range, combined, then the
    /// weighted values per range and their sum) when one block per head cannot fill the GPU. Forced to 4
    /// ranges here, decode steps after a 277-token prompt combine two non-empty ranges and two empty ones,
    /// and their logits must stay near the CPU engine's (the self-test checks the kernels alone against
    /// doubles). Ranges sum the values in another order than the CPU's chains (one range keeps its order):
    /// measured 7e-7 here, as with one range; the bound is the goldens'.
    func testStandInDriverSplitsLongAttentionAsTheCPUComputesIt() throws {
        _ = try requireWorker()
        let driver = E2E.packageRoot.appendingPathComponent(".build/release/stand-in-driver")
        let model = try E2E.testdataFile(Self.model)
        let prompt = String(repeating: "the quick brown fox jumps over the lazy dog and then ", count: 25)
        let cpu = try GoldenLogitTests.topLogits(model: model, prompt: prompt, steps: 4, extra: ["-c", "512"])
        let gpu = try GoldenLogitTests.topLogits(model: model, prompt: prompt, steps: 4,
                                                 extra: ["-c", "512", "-ngl", "999", "--gpu", "nvidia"],
                                                 environment: ["LD_LIBRARY_PATH": driver.path, "SWIFTFILE_GPU_ATTENTION_SPLITS": "4"])
        XCTAssertGreaterThan(cpu.prompt.count, 256 + 8, "the decode steps must reach past the first range")
        XCTAssertEqual(gpu.prompt, cpu.prompt)
        XCTAssertEqual(gpu.steps.map(\.id), cpu.steps.map(\.id))
        var worst = 0.0
        for (a, b) in zip(cpu.steps, gpu.steps) { worst = max(worst, GoldenLogitTests.maxDelta(a, Array(b.top.prefix(5)))) }
        print("stand-in split attention, \(cpu.prompt.count)-token prompt: max |Δlogit| \(worst)")
        XCTAssertLessThanOrEqual(worst, 1e-2)
    }

    /// -ctk/-ctv q8_0, q4_0 or f32 (keys and values of one type) keep the offloaded layers' cache on the GPU in
    /// that type, as the CPU keeps its layers': the blocks quantized as the CPU quantizes them, the query as Q8_0
    /// against quantized keys, and attention in the CPU's orders, so the logits are the CPU's bit for bit with
    /// the same flags (in the kernels' own orders a last-bit difference crossed a Q4_0 rounding edge: 0.026).
    /// Split attention (long contexts) sums in ranges, another order, and with a quantized cache a last-bit
    /// difference can move a later layer's key or value across a rounding edge: measured 0.0115 (Q8_0) and
    /// 0 (Q4_0) here, bound 5e-2 (the K-quants' bound against llama.cpp), greedy ids equal. Mixed types, which
    /// the kernels do not take, leave the run on the CPU with one line (fatal with --gpu nvidia). llama.cpp's
    /// logits with the same cache (goldens) are met as the CPU meets them.
    func testQuantizedCacheOnTheGPUGivesTheCPUsLogits() throws {
        _ = try requireWorker()
        let driver = E2E.packageRoot.appendingPathComponent(".build/release/stand-in-driver")
        let env = ["LD_LIBRARY_PATH": driver.path]
        let prompt = "Once upon a time, there was a little robot who"
        for (name, type, offloads) in [("tiny-llama3-q4_k_m", "q8_0", ["999"]), ("tiny-llama3-q4_k_m", "q4_0", ["999", "2"]),
                                       ("tiny-llama3-q4_k_m", "f32", ["999"]), ("tiny-llama3-f16-q4emb", "q4_0", ["999"])] {
            let model = try E2E.testdataFile("models/\(name).gguf")
            do {
                let cache = ["-ctk", type, "-ctv", type]
                let cpu = try GoldenLogitTests.topLogits(model: model, prompt: prompt, steps: 10, extra: cache)
                for layers in offloads {
                    let gpu = try GoldenLogitTests.topLogits(model: model, prompt: prompt, steps: 10,
                                                             extra: cache + ["-ngl", layers, "--gpu", "nvidia"], environment: env)
                    XCTAssertEqual(gpu.prompt, cpu.prompt)
                    XCTAssertEqual(gpu.steps.map(\.id), cpu.steps.map(\.id), "\(name) \(type) -ngl \(layers)")
                    let worst = zip(cpu.steps, gpu.steps).map { GoldenLogitTests.maxDelta($0, Array($1.top.prefix(5))) }.max() ?? 1
                    XCTAssertEqual(worst, 0, "\(name) \(type) -ngl \(layers): max |Δlogit| \(worst)")
                }
            }
        }
        // The GPU line says where the cache went; its size is the type's (Q8_0: 34 bytes per 32 values).
        let model = try E2E.testdataFile(Self.model)
        let r = try E2E.run(try E2E.runner(), ["-m", model.path, "-p", "Hi", "-n", "2", "--temp", "0", "-c", "8192",
                                               "-ctk", "q8_0", "-ctv", "q8_0", "-ngl", "999"], environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        // 4 layers × 8192 positions × 128 values × 2 (keys, values) × 34/32 bytes = 8.5 MiB, reported in whole MiB
        XCTAssertTrue(noteLines(r.stderr).first?.contains("MiB weights, 8 MiB KV cache") ?? false, r.stderr)
        // --info says where -ngl puts the cache: 2.125 MiB per layer in Q8_0
        let info = try E2E.run(try E2E.runner(), ["-m", model.path, "--info", "-c", "8192", "-ctk", "q8_0", "-ctv", "q8_0", "-ngl", "3"],
                               environment: env)
        XCTAssertTrue(info.stdout.contains("all 4 layers and the output fit (-ngl 999) with a 8192-token context; "
                                           + "-ngl 3: KV cache 6.37 MiB on the GPU (3 layers), 2.12 MiB on the host (1)\n"), info.stdout)
        // Long contexts split into ranges: near the CPU's, as the F16 cache's split.
        let long = String(repeating: "the quick brown fox jumps over the lazy dog and then ", count: 25)
        for type in ["q8_0", "q4_0"] {
            let cache = ["-c", "512", "-ctk", type, "-ctv", type]
            let cpu = try GoldenLogitTests.topLogits(model: model, prompt: long, steps: 4, extra: cache)
            var splitEnv = env
            splitEnv["SWIFTFILE_GPU_ATTENTION_SPLITS"] = "4"
            let gpu = try GoldenLogitTests.topLogits(model: model, prompt: long, steps: 4, extra: cache + ["-ngl", "999", "--gpu", "nvidia"],
                                                     environment: splitEnv)
            XCTAssertEqual(gpu.steps.map(\.id), cpu.steps.map(\.id))
            let worst = zip(cpu.steps, gpu.steps).map { GoldenLogitTests.maxDelta($0, Array($1.top.prefix(5))) }.max() ?? 1
            print("stand-in split attention, \(type) cache: max |Δlogit| \(worst)")
            XCTAssertLessThanOrEqual(worst, 5e-2, type)
        }
        // Keys and values of different types: the CPU, with the reason.
        let mixed = ["-m", model.path, "-p", "Hi", "-n", "2", "--temp", "0", "-ctk", "q8_0", "-ctv", "f16", "-ngl", "999"]
        let auto = try E2E.run(try E2E.runner(), mixed, environment: env)
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertEqual(noteLines(auto.stderr), ["note: GPU: the GPU keeps keys and values in one type, not -ctk q8_0 -ctv f16 (give both q8_0, or both f16); running on the CPU"])
        let fatal = try E2E.run(try E2E.runner(), mixed + ["--gpu", "nvidia"], environment: env)
        XCTAssertEqual(fatal.status, 1)
        XCTAssertEqual(fatal.stderr, "error: GPU: the GPU keeps keys and values in one type, not -ctk q8_0 -ctv f16 (give both q8_0, or both f16)\n")
        // llama.cpp's logits with the same caches, through the GPU (the CPU's bounds: GoldenLogitTests).
        try compareWithGolden("tiny-llama3-q8_0-q4emb.kv-q8_0", model: model, tolerance: 1e-2, exactPrompts: 3,
                              extra: ["-ctk", "q8_0", "-ctv", "q8_0", "-ngl", "999", "--gpu", "nvidia"], environment: env)
        try compareWithGolden("tiny-llama3-q8_0-q4emb.kv-q4_0", model: model, tolerance: 0.1,
                              extra: ["-ctk", "q4_0", "-ctv", "q4_0", "-ngl", "999", "--gpu", "nvidia"], environment: env)
    }

    /// --context-shift with offloaded layers: when the context fills, the GPU's cache shifts as the CPU's does
    /// (positions moved down, each key turned by the −discard rotation and stored again in the cache's type,
    /// in launches that never read a row another writes), so generation goes on past the context with the CPU
    /// engine's logits bit for bit — with the whole model, part of it, and split over two GPUs. (It used to stop
    /// with "context shift needs every layer's cache on the CPU".)
    func testContextShiftOnTheGPUGivesTheCPUsLogits() throws {
        _ = try requireWorker()
        let driver = E2E.packageRoot.appendingPathComponent(".build/release/stand-in-driver")
        let model = try E2E.testdataFile("models/tiny-llama3-q4_k_m.gguf")
        let prompt = "Once upon a time, there was a little robot who"
        for (type, flags, devices) in [("f16", ["-ngl", "999"], "8192"), ("q8_0", ["-ngl", "2"], "8192"),
                                       ("q4_0", ["-ngl", "999", "-ts", "1,1"], "8192,4096")] {
            let shift = ["-c", "32", "--context-shift", "-ctk", type, "-ctv", type]
            let env = ["LD_LIBRARY_PATH": driver.path, "SWIFTFILE_STAND_IN_DEVICES": devices]
            let cpu = try GoldenLogitTests.topLogits(model: model, prompt: prompt, steps: 40, extra: shift)
            let r = try E2E.run(try E2E.runner(), ["-m", model.path, "-p", prompt, "-n", "40", "--temp", "0", "--top-logits", "20"]
                                + shift + flags + ["--gpu", "nvidia"], environment: env)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("note: context shift: the context of 32 tokens filled 2 times"), r.stderr)
            let gpu = try GoldenLogitTests.parse(r.stdout)
            XCTAssertEqual(gpu.steps.count, 40, "\(type) \(flags)")
            XCTAssertEqual(gpu.steps.map(\.id), cpu.steps.map(\.id), "\(type) \(flags)")
            let worst = zip(cpu.steps, gpu.steps).map { GoldenLogitTests.maxDelta($0, Array($1.top.prefix(5))) }.max() ?? 1
            XCTAssertEqual(worst, 0, "\(type) \(flags): max |Δlogit| \(worst)")
        }
    }

    /// SWIFTFILE_GPU_PROFILE=kernels times every launch (what Tools/gpu-check.sh reports from a GPU) and runs
    /// without graphs; the text stays the CPU's. A decode step multiplies each layer's q/k/v and gate/up as one
    /// stacked matrix: 4 Q8_0 launches per layer and step (qkv, wo, gate_up, down), not 7.
    func testWorkerProfilesEveryKernelLaunch() throws {
        _ = try requireWorker()
        let driver = E2E.packageRoot.appendingPathComponent(".build/release/stand-in-driver")
        let model = try E2E.testdataFile(Self.model)
        let args = ["-m", model.path, "-p", "The capital of France is", "-n", "3", "--temp", "0", "--log-disable"]
        let cpu = try E2E.run(try E2E.runner(), args)
        let gpu = try E2E.run(try E2E.runner(), args + ["-ngl", "999", "--gpu", "nvidia"], timeout: 600,
                              environment: ["LD_LIBRARY_PATH": driver.path, "SWIFTFILE_GPU_PROFILE": "kernels"])
        XCTAssertEqual(gpu.status, 0, gpu.stderr)
        XCTAssertEqual(gpu.stdout, cpu.stdout)
        XCTAssertTrue(gpu.stderr.contains("graphs off"), gpu.stderr)
        let lines = gpu.stderr.split(separator: "\n")
        guard let decode = lines.firstIndex(where: { $0.contains("kernel time, 1 token batches") }) else {
            return XCTFail("no decode profile: \(gpu.stderr)")
        }
        let table = lines[(decode + 1)...].prefix { $0.hasPrefix("  ") }
        func launches(_ kernel: String) -> Int? {
            table.first { $0.split(separator: " ").first.map(String.init) == kernel }
                .flatMap { Int($0.split(separator: " ")[1]) }
        }
        // 2 decode steps (the third token needs no forward pass) × 4 layers
        XCTAssertEqual(launches("mv_q8_0"), 2 * 4 * 4, String(table.joined(separator: "\n")))
        XCTAssertEqual(launches("rope_store_f16"), 2 * 4)
        XCTAssertEqual(launches("attention_f16"), 2 * 4)
        XCTAssertEqual(launches("round_activations"), nil, "every rounding is fused into the kernel before it")
    }

    /// A bundle carries the worker as a member checked against its SHA-256 manifest: intact, it is copied to
    /// the user's cache and run from there; with one byte changed it is refused (and nothing is run).
    func testBundledWorkerIsVerifiedBeforeItRuns() throws {
        _ = try requireWorker()
        let model = try E2E.testdataFile(Self.model)
        let dir = try E2E.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bundle = dir.appendingPathComponent("t.llamafile")
        let pack = try E2E.run(try E2E.packer(), ["-o", bundle.path, model.path])
        XCTAssertEqual(pack.status, 0, pack.stderr)
        let list = try E2E.run(try E2E.packer(), ["--list", bundle.path])
        let row = list.stdout.split(separator: "\n").first { $0.hasSuffix(" swiftfile-gpu") }
        XCTAssertNotNil(row, list.stdout)
        let cache = dir.appendingPathComponent("cache")
        let env = ["XDG_CACHE_HOME": cache.path]

        let intact = try E2E.run(bundle, ["--version"], environment: env)
        XCTAssertEqual(intact.status, 0, intact.stderr)
        let copies = try FileManager.default.subpathsOfDirectory(atPath: cache.appendingPathComponent("swiftfile").path)
        XCTAssertTrue(copies.contains { $0.hasSuffix("/swiftfile-gpu") }, "\(copies)")
        XCTAssertFalse(intact.stdout.contains("does not match"), intact.stdout)

        // Flip one byte in the middle of the member (its data offset is the second column of --list).
        let fields = row?.split(separator: " ", omittingEmptySubsequences: true) ?? []
        let size = Int(fields.first ?? "0") ?? 0, offset = Int(fields.dropFirst().first ?? "0") ?? 0
        XCTAssertGreaterThan(size, 1000)
        let handle = try FileHandle(forUpdating: bundle)
        try handle.seek(toOffset: UInt64(offset + size / 2))
        let old = try handle.read(upToCount: 1) ?? Data([0])
        try handle.seek(toOffset: UInt64(offset + size / 2))
        try handle.write(contentsOf: Data([old[0] ^ 0x5A]))
        try handle.close()
        try FileManager.default.removeItem(at: cache)

        let args = ["-p", "Hi", "-n", "2", "--temp", "0"]
        let auto = try E2E.run(bundle, args + ["-ngl", "99"], environment: env)
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertTrue(auto.stderr.contains("member swiftfile-gpu does not match its SHA-256 (tampered or damaged): refusing to run it; running on the CPU"), auto.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache.path), "a refused worker must not be copied out")
        let strict = try E2E.run(bundle, args + ["--gpu", "nvidia"], environment: env)
        XCTAssertEqual(strict.status, 1)
        XCTAssertTrue(strict.stderr.contains("refusing to run it"), strict.stderr)
    }
}
