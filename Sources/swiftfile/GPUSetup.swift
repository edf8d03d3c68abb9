import Container
import GGUF
import Model
import Offload
#if canImport(Glibc)
import Glibc
#endif

/// `-ngl N` / `--gpu auto|nvidia|disable`, as llama.cpp and llamafile mean them: the last N repeating layers
/// (and the output layer once N exceeds the layer count; `-ngl 999` = everything) run in the GPU worker.
/// `auto` falls back to the CPU with one line saying why; `nvidia` makes any failure fatal.
struct GPURequest {
    enum Mode: String { case auto, nvidia, disable }
    var mode: Mode
    var layers: Int

    static let cpuOnly = GPURequest(mode: .disable, layers: 0)

    static func parse(gpu: String?, layers: Int?) throws -> GPURequest {
        guard let mode = Mode(rawValue: (gpu ?? "auto").lowercased()) else {
            throw RunnerError("--gpu must be auto, nvidia or disable, got '\(gpu ?? "")'")
        }
        if let layers, layers < 0 { throw RunnerError("-ngl/--n-gpu-layers must be 0 or more, got \(layers)") }
        // `--gpu nvidia` alone means everything, as llamafile's; `auto` offloads only what -ngl names.
        return GPURequest(mode: mode, layers: mode == .disable ? 0 : (layers ?? (mode == .nvidia ? 999 : 0)))
    }

    var wanted: Bool { mode != .disable && layers > 0 }
}

enum GPUSetup {
    /// The worker executable: $SWIFTFILE_GPU_WORKER, the bundle's `swiftfile-gpu` member (extracted to the
    /// user's cache and checked against the bundle's SHA-256 manifest), or `swiftfile-gpu` beside the runner.
    /// Returns the path and, for a verified copy, an open descriptor of exactly the bytes that were checked.
    static func locateWorker() throws -> (path: String, fd: Int32?)? {
        if let p = getenv("SWIFTFILE_GPU_WORKER") { return (String(cString: p), nil) }
        let executable = try MappedFile.executablePath()
        do {
            if let copy = try MemberExtraction.verifiedCopy(of: "swiftfile-gpu", in: executable) { return (copy.path, copy.fd) }
        } catch {
            throw GPUError(.unavailable, "\(error)")
        }
        let beside = String(executable[..<(executable.lastIndex(of: "/") ?? executable.startIndex)]) + "/swiftfile-gpu"
        return access(beside, X_OK) == 0 ? (beside, nil) : nil
    }

    /// The model with its offloaded layers attached, or on the CPU alone (with a note saying why when a GPU
    /// was asked for). Throws only when `--gpu nvidia` was given and the GPU cannot be used.
    static func inference(request: GPURequest, weights: LoadedWeights, interleave: Bool, contextLength: Int,
                          sequences: Int = 1, maxBatch: Int, threads: Int, cacheFormat: KVCache.Format,
                          note: (String) -> Void) throws -> InferenceContext {
        var offload: GPUOffload?
        let hyper = try HyperParameters(gguf: weights.gguf)
        if request.wanted {
            do {
                if let why = ModelWeights.offloadBlocker(gguf: weights.gguf, hyper: hyper) { throw GPUError(.unavailable, why) }
                if cacheFormat.keys.isQuantized || cacheFormat.values.isQuantized {
                    throw GPUError(.unavailable, "the GPU worker keeps an F16 or F32 cache, not -ctk/-ctv \(cacheFormat)")
                }
                offload = try attach(request, weights: weights, contextLength: contextLength, sequences: sequences,
                                     maxBatch: maxBatch, cacheFormat: cacheFormat)
            } catch let error as GPUError {
                if request.mode == .nvidia { throw RunnerError("GPU: \(error.description)") }
                note("GPU: \(error.description); running on the CPU")
            }
        }
        let blocks = hyper.blockCount
        let model = try TransformerModel(gguf: weights.gguf, interleave: interleave,
                                   offloadedLayers: offload.map { blocks - $0.firstLayer } ?? 0,
                                   offloadedOutput: offload?.includesOutput ?? false)
        let context = InferenceContext(model: model, contextLength: contextLength, sequences: sequences, maxBatch: maxBatch,
                                       threads: threads, cacheFormat: cacheFormat)
        if let offload {
            context.offload = offload
            let layers = model.hyper.blockCount - offload.firstLayer
            // A silent pause of seconds at start needs its reason said (the driver's cache makes it a first-run cost).
            let start = offload.device.startSeconds >= 3
                ? "; starting took \(Int(offload.device.startSeconds.rounded())) s: the driver compiles the kernels for this GPU on first use and caches them"
                : ""
            note("GPU: \(offload.device.description); offloaded \(layers) of \(model.hyper.blockCount) layers\(offload.includesOutput ? " and the output" : "") (\(offload.loadSummary))\(start)")
        }
        return context
    }

    private static func attach(_ request: GPURequest, weights: LoadedWeights, contextLength: Int, sequences: Int,
                               maxBatch: Int, cacheFormat: KVCache.Format) throws -> GPUOffload {
        guard let located = try locateWorker() else {
            throw GPUError(.unavailable, "this runner has no GPU worker (built without GPU kernels)")
        }
        let hyper = try HyperParameters(gguf: weights.gguf)
        let worker = try GPUWorkerProcess(executable: located.path, executableFD: located.fd,
                                          sharedBytes: GPUOffload.sharedBytes(hyper: hyper, maxBatch: maxBatch))
        if let fd = located.fd { close(fd) }
        let device = try GPUOffload.probe(worker)
        let region = weights.resolved.region
        return try GPUOffload(worker: worker, device: device, gguf: weights.gguf, hyper: hyper, filePath: region.path,
                              fileOffset: region.fileOffset, layers: request.layers, contextLength: contextLength,
                              sequences: sequences, maxBatch: maxBatch, cacheFormat: cacheFormat)
    }

    /// --info: the device, and how many of the model's layers (counted from the last, as -ngl counts) fit its
    /// free memory with their KV cache for `contextLength` tokens.
    static func fitLine(_ weights: LoadedWeights, contextLength: Int?) -> String {
        do {
            guard let located = try locateWorker() else { return "gpu:          none (this runner was built without GPU kernels)" }
            let worker = try GPUWorkerProcess(executable: located.path, executableFD: located.fd, sharedBytes: 4096)
            if let fd = located.fd { close(fd) }
            let device = try GPUOffload.probe(worker)
            let g = weights.gguf, h = try HyperParameters(gguf: g)
            let context = contextLength.map { $0 == 0 ? h.contextLength : $0 } ?? min(8192, h.contextLength)
            let kvPerLayer = 2 * context * h.kvDimension * 2
            func bytes(_ prefix: String) -> Int { g.tensors.filter { $0.name.hasPrefix(prefix) }.reduce(0) { $0 + $1.byteCount } }
            let output = g.tensor(named: TensorName.output)?.byteCount ?? g.tensor(named: TensorName.tokenEmbedding)?.byteCount ?? 0
            let buffers = 512 * 4 * (4 * h.embeddingLength + 3 * h.feedForwardLength) + 512 * h.vocabularySize * 4
            var budget = Int(device.freeBytes) - (256 << 20) - buffers - output
            var fit = 0
            for layer in stride(from: h.blockCount - 1, through: 0, by: -1) {
                budget -= bytes("blk.\(layer).") + kvPerLayer
                if budget < 0 { break }
                fit += 1
            }
            let verdict = fit == h.blockCount ? "all \(h.blockCount) layers and the output fit (-ngl 999)"
                : "\(fit) of \(h.blockCount) layers fit (-ngl \(fit))"
            return "gpu:          \(device.description), \(device.freeBytes >> 20) MiB free; \(verdict) with a \(context)-token context"
        } catch {
            return "gpu:          none (\(error))"
        }
    }

    /// One line for --version / --info: the device and what it offers, or why there is none.
    static func deviceLine() -> String {
        do {
            guard let located = try locateWorker() else { return "GPU: none (this runner was built without GPU kernels)" }
            let worker = try GPUWorkerProcess(executable: located.path, executableFD: located.fd, sharedBytes: 4096)
            if let fd = located.fd { close(fd) }
            let device = try GPUOffload.probe(worker)
            // the description ends with the module the driver took (PTX ISA 6.4: drivers from 418 on; 6.5 with
            // the int8 tensor cores: from 440 on, Turing and later)
            return "GPU: \(device.description), \(device.freeBytes >> 20) MiB free"
        } catch {
            return "GPU: none (\(error))"
        }
    }
}
