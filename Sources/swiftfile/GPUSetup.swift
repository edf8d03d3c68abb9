import Container
import GGUF
import Model
import Offload
#if canImport(Glibc)
import Glibc
#endif

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

    /// The devices a request opened, in the driver's order, and those it passed over.
    struct OpenedDevices {
        var devices: [(worker: GPUWorkerProcess, device: GPUDevice)] = []
        /// GPUs left out of a layer split because they cannot run the kernels (too old, no module the driver
        /// takes): a machine's display GPU beside its compute GPU must not send everything to the CPU.
        var skipped: [(index: Int, why: String)] = []
        var skippedText: String { skipped.map { "; GPU \($0.index) left out: \($0.why)" }.joined() }
    }

    /// A started worker for each device the request names, its device open: the first one (device 0, the
    /// one of -sm none, or -ts's first with a share) says how many the driver sees; with -sm layer the others
    /// with a share follow, and without -ts a GPU that cannot run the kernels is left out while another can.
    /// Nil when this runner has no worker.
    static func openDevices(_ request: GPURequest, sharedBytes: Int) throws -> OpenedDevices? {
        guard let located = try locateWorker() else { return nil }
        defer { if let fd = located.fd { close(fd) } }
        var opened = OpenedDevices()
        var count = 0
        // Only GPUs nobody named may be left out.
        let skippable = request.split == .layer && request.shares == nil && request.devices == nil
        func open(_ index: Int) throws {
            let worker = try GPUWorkerProcess(executable: located.path, executableFD: located.fd, sharedBytes: sharedBytes)
            do {
                let device = try GPUOffload.probe(worker, device: index)
                count = device.count
                opened.devices.append((worker, device))
            } catch let error as GPUError where skippable && error.kind == .unavailable && error.deviceCount > 1 {
                count = error.deviceCount
                opened.skipped.append((index, error.description))
            }
        }
        let shares = request.shares
        func hasShare(_ index: Int) -> Bool { shares.map { index < $0.count && $0[index] > 0 } ?? true }
        if request.split == .layer, let devices = request.devices {
            // -dev's GPUs in its order (its positions are -ts's); one the driver lacks is refused by its probe.
            for (position, index) in devices.enumerated() where hasShare(position) { try open(index) }
            return opened
        }
        let firstIndex = request.split == .none ? request.mainGPU : (shares?.firstIndex { $0 > 0 } ?? 0)
        try open(firstIndex)
        guard request.split == .layer else { return opened }
        if let shares, let beyond = shares.indices.last(where: { shares[$0] > 0 }), beyond >= count {
            throw GPUError(.unavailable, "-ts gives GPU \(beyond) a share, but the driver sees \(count) GPU\(count == 1 ? "" : "s") (numbered from 0)")
        }
        for index in firstIndex + 1 ..< max(count, firstIndex + 1) where hasShare(index) { try open(index) }
        if opened.devices.isEmpty {
            throw GPUError(.unavailable, "no GPU can run the kernels: " + opened.skipped.map { "GPU \($0.index): \($0.why)" }.joined(separator: "; "))
        }
        return opened
    }

    /// The model with its offloaded layers attached, or on the CPU alone (with a note saying why when a GPU
    /// was asked for). Throws only when `--gpu nvidia` was given and the GPU cannot be used.
    static func inference(request: GPURequest, weights: LoadedWeights, interleave: Bool, contextLength: Int,
                          sequences: Int = 1, maxBatch: Int, threads: Int, cacheFormat: KVCache.Format,
                          note: (String) -> Void, checkCache: (_ cpuLayers: Int) throws -> Void) throws -> InferenceContext {
        var offload: GPULayerSplit?
        var remarks = ""
        let hyper = try HyperParameters(gguf: weights.gguf)
        if request.wanted {
            do {
                if let why = ModelWeights.offloadBlocker(gguf: weights.gguf, hyper: hyper) { throw GPUError(.unavailable, why) }
                if GPUOffload.workerCacheType(cacheFormat) == nil { throw GPUOffload.mixedCacheRefusal(cacheFormat) }
                (offload, remarks) = try attach(request, weights: weights, contextLength: contextLength, sequences: sequences,
                                                maxBatch: maxBatch, cacheFormat: cacheFormat)
            } catch let error as GPUError {
                if request.mode == .nvidia { throw RunnerError("GPU: \(error.description)") }
                note("GPU: \(error.description); running on the CPU")
            }
        }
        let blocks = hyper.blockCount
        let cpuLayers = offload?.firstLayer ?? blocks
        try checkCache(cpuLayers)
        let model = try TransformerModel(gguf: weights.gguf, interleave: interleave, offloadedLayers: blocks - cpuLayers,
                                         offloadedOutput: offload?.includesOutput ?? false)
        let context = InferenceContext(model: model, contextLength: contextLength, sequences: sequences, maxBatch: maxBatch,
                                       threads: threads, cacheFormat: cacheFormat, cachedLayers: cpuLayers)
        if let offload {
            context.offload = offload
            note(gpuLine(offload, blockCount: blocks, remarks: remarks))
        }
        return context
    }

    /// The one line that says where the layers went.
    static func gpuLine(_ split: GPULayerSplit, blockCount: Int, remarks: String) -> String {
        let parts = split.parts
        let what = "offloaded \(blockCount - split.firstLayer) of \(blockCount) layers\(split.includesOutput ? " and the output" : "")"
        func layers(_ p: GPUOffload) -> String {
            let range = p.lastLayer - p.firstLayer == 1 ? "layer \(p.firstLayer)" : "layers \(p.firstLayer)–\(p.lastLayer - 1)"
            return p.lastLayer == p.firstLayer ? "the output" : range + (p.includesOutput ? " and the output" : "")
        }
        var line: String
        if parts.count == 1 {
            let p = parts[0], device = p.device
            line = (device.count > 1 ? "GPU \(device.index) of \(device.count): " : "GPU: ") + "\(device.description); \(what) (\(p.loadSummary))"
        } else {
            line = "GPU: \(what), split over \(parts.count) GPUs by layers: "
                + parts.map { "GPU \($0.device.index) (\($0.device.name)) \(layers($0)) (\($0.loadSummary))" }.joined(separator: "; ")
        }
        line += remarks
        // A silent pause of seconds at start needs its reason said (the driver's cache makes it a first-run cost).
        let start = parts.reduce(0) { $0 + $1.device.startSeconds }
        if start >= 3 {
            line += "; starting took \(Int(start.rounded())) s: the driver compiles the kernels for this GPU on first use and caches them"
        }
        return line
    }

    private static func attach(_ request: GPURequest, weights: LoadedWeights, contextLength: Int, sequences: Int,
                               maxBatch: Int, cacheFormat: KVCache.Format) throws -> (GPULayerSplit, remarks: String) {
        let hyper = try HyperParameters(gguf: weights.gguf)
        guard let found = try openDevices(request, sharedBytes: GPUOffload.sharedBytes(hyper: hyper, maxBatch: maxBatch)) else {
            throw GPUError(.unavailable, "this runner has no GPU worker (built without GPU kernels)")
        }
        let opened = found.devices
        let blocks = hyper.blockCount
        // -ts's shares, else each device's free memory (as llama.cpp splits by default).
        let shares = opened.map { o in
            let position = request.devices.map { $0.firstIndex(of: o.device.index) ?? -1 } ?? o.device.index
            return request.shares.map { $0.indices.contains(position) ? $0[position] : 0 } ?? Double(o.device.freeBytes)
        }
        var layers = request.layers
        var fitted = ""
        if request.fitToMemory {
            let free = opened.reduce(0) { $0 + ($1.device.freeBytes >> 20) }
            let fit = layersThatFit(weights.gguf, hyper: hyper, devices: opened.map(\.device), positions: contextLength * sequences,
                                    maxBatch: maxBatch, cacheFormat: cacheFormat)
            guard fit.layers > 0 else { throw GPUError(.unavailable, "-ngl auto: not one layer fits with its KV cache in \(free) MiB free") }
            layers = fit.output ? GPURequest.everything : fit.layers
            fitted = "; -ngl auto: what \(free) MiB free holds"
        }
        let plan = GPULayerSplit.assign(layers: blocks - min(layers, blocks) ..< blocks, output: layers > blocks,
                                        shares: shares)
        let region = weights.resolved.region
        var parts: [GPUOffload] = []
        for a in plan {
            let o = opened[a.device]
            parts.append(try GPUOffload(worker: o.worker, device: o.device, gguf: weights.gguf, hyper: hyper, filePath: region.path,
                                        fileOffset: region.fileOffset, layers: a.layers, output: a.output, contextLength: contextLength,
                                        sequences: sequences, maxBatch: maxBatch, cacheFormat: cacheFormat))
        }
        return (try GPULayerSplit(parts), fitted + found.skippedText)
    }

    /// --info: the devices, and how many of the model's layers (counted from the last, as -ngl counts) fit
    /// their free memory with their KV cache for `contextLength` tokens.
    static func fitLine(_ weights: LoadedWeights, contextLength: Int?, request: GPURequest, cacheFormat: KVCache.Format = .f16,
                        maxBatch: Int = 512) -> String {
        do {
            guard let found = try openDevices(request, sharedBytes: 4096) else { return "gpu:          none (this runner was built without GPU kernels)" }
            let opened = found.devices
            let g = weights.gguf, h = try HyperParameters(gguf: g)
            let context = contextLength.map { $0 == 0 ? h.contextLength : $0 } ?? min(8192, h.contextLength)
            let (fit, output, kvPerLayer) = layersThatFit(g, hyper: h, devices: opened.map(\.device), positions: context,
                                                          maxBatch: maxBatch, cacheFormat: cacheFormat)
            let verdict = output ? "all \(h.blockCount) layers and the output fit (-ngl 999)"
                : "\(fit) of \(h.blockCount) layers fit (-ngl \(fit))"
            let devices = opened.map { "\($0.device.description), \($0.device.freeBytes >> 20) MiB free" }
            let which = opened.count > 1 ? "\(opened.count) GPUs split by layers: " + devices.joined(separator: "; ") : devices.joined()
            // Where the cache goes with the -ngl given: the GPU keeps its layers', the host the rest.
            var placed = ""
            if request.wanted, !request.fitToMemory, GPUOffload.workerCacheType(cacheFormat) != nil {
                let offloaded = min(request.layers, h.blockCount)
                func size(_ layers: Int) -> String { formatBytes(layers * kvPerLayer) }
                placed = "; -ngl \(request.layers): KV cache \(size(offloaded)) on the GPU (\(offloaded) layers), "
                    + "\(size(h.blockCount - offloaded)) on the host (\(h.blockCount - offloaded))"
            }
            return "gpu:          \(which); \(verdict) with a \(context)-token context\(placed)\(found.skippedText)"
        } catch {
            return "gpu:          none (\(error))"
        }
    }

    /// How many of the model's last layers the devices' free memory holds with their KV cache for `positions`
    /// tokens (all sequences together), and whether the output fits beside them all: an estimate, with each
    /// device's activations for `maxBatch` tokens and 256 MiB for the driver, the output's weights and logits
    /// once. Also the cache's bytes per layer.
    static func layersThatFit(_ g: GGUFFile, hyper h: HyperParameters, devices: [GPUDevice], positions: Int, maxBatch: Int,
                              cacheFormat: KVCache.Format) -> (layers: Int, output: Bool, kvBytesPerLayer: Int) {
        // the worker's cache: -ctk/-ctv's type where it keeps it, else F16 (the run falls back to the CPU)
        let kvPerLayer = positions * ((GPUOffload.workerCacheType(cacheFormat) != nil ? cacheFormat : .f16)
            .bytesPerToken(layers: 1, kvDimension: h.kvDimension) ?? 4 * h.kvDimension)
        func bytes(_ prefix: String) -> Int { g.tensors.filter { $0.name.hasPrefix(prefix) }.reduce(0) { $0 + $1.byteCount } }
        let activations = maxBatch * 4 * (4 * h.embeddingLength + 3 * h.feedForwardLength)
        let free = devices.reduce(0) { $0 + Int(min($1.freeBytes, 1 << 60)) - (256 << 20) - activations }
        let output = (g.tensor(named: TensorName.output) ?? g.tensor(named: TensorName.tokenEmbedding))?.byteCount ?? 0
        func fitting(_ budget: Int) -> Int {
            var budget = budget, fit = 0
            for layer in stride(from: h.blockCount - 1, through: 0, by: -1) {
                budget -= bytes("blk.\(layer).") + kvPerLayer
                if budget < 0 { break }
                fit += 1
            }
            return fit
        }
        if fitting(free - output - maxBatch * h.vocabularySize * 4) == h.blockCount { return (h.blockCount, true, kvPerLayer) }
        return (fitting(free), false, kvPerLayer)
    }

    /// Every GPU the driver sees, in its order: the device, or why the kernels cannot use it. Nil when this
    /// runner has no worker.
    private static func survey() throws -> [(index: Int, device: GPUDevice?, why: String)]? {
        guard let found = try openDevices(GPURequest(mode: .auto, layers: 0), sharedBytes: 4096) else { return nil }
        let usable = found.devices.map { (index: $0.device.index, device: Optional($0.device), why: "") }
        let unusable = found.skipped.map { (index: $0.index, device: GPUDevice?.none, why: $0.why) }
        return (usable + unusable).sorted { $0.index < $1.index }
    }

    /// --list-devices, as llama.cpp prints it: each GPU under the name -dev takes, its memory; one the kernels
    /// cannot use says why.
    static func deviceList() -> String {
        var lines = ["Available devices:"]
        do {
            guard let devices = try survey() else { return (lines + ["  (none: this runner was built without GPU kernels)"]).joined(separator: "\n") }
            lines += devices.map { d in
                guard let g = d.device else { return "  CUDA\(d.index): not usable (\(d.why))" }
                return "  CUDA\(d.index): \(g.name) (\(g.totalBytes >> 20) MiB, \(g.freeBytes >> 20) MiB free)"
            }
        } catch {
            lines.append("  (none: \(error))")
        }
        return lines.joined(separator: "\n")
    }

    /// For --version: the devices and what they offer (one line each), or why there is none.
    static func deviceLines() -> String {
        do {
            guard let devices = try survey() else { return "GPU: none (this runner was built without GPU kernels)" }
            // Each description ends with the module the driver took (PTX ISA 6.4: drivers from 418 on; 6.5 with
            // the int8 tensor cores: from 440 on, Turing and later).
            return devices.map { d in
                guard let g = d.device else { return "GPU \(d.index): not used (\(d.why))" }
                return (g.count > 1 ? "GPU \(g.index): " : "GPU: ") + "\(g.description), \(g.freeBytes >> 20) MiB free"
            }.joined(separator: "\n")
        } catch {
            return "GPU: none (\(error))"
        }
    }
}
