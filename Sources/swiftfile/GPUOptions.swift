import ArgumentParser

/// The offload flags as llama.cpp spells them (`--gpu` as llamafile's), shared by the runner and --bench.
struct GPUOptions: ParsableArguments {
    @Option(name: [.customLong("ngl", withSingleDash: true), .customLong("n-gpu-layers"), .customLong("gpu-layers")], parsing: .unconditional, help: "Layers to offload to the GPU: the last N (999 or all: every one, with the output layer; auto: as many as the GPUs' free memory holds).")
    var gpuLayers: String?

    @Option(name: .customLong("gpu"), help: "auto (use the GPU -ngl asks for if there is one, else the CPU with a note) | nvidia (fail if it cannot be used; alone means -ngl 999) | disable.")
    var gpu: String?

    @Option(name: [.customLong("sm", withSingleDash: true), .customLong("split-mode")], help: "With several GPUs: layer (default: each takes a range of the offloaded layers) or none (one GPU: -mg).")
    var splitMode: String?

    @Option(name: [.customLong("mg", withSingleDash: true), .customLong("main-gpu")], parsing: .unconditional, help: "The one GPU of -sm none, numbered from 0 as the driver sees them (alone it means -sm none).")
    var mainGPU: Int?

    @Option(name: [.customLong("ts", withSingleDash: true), .customLong("tensor-split")], help: "The GPUs' shares of the layers with -sm layer, e.g. 3,1 (default: their free memory).")
    var tensorSplit: String?

    @Option(name: [.customLong("dev", withSingleDash: true), .customLong("device")], help: "The GPUs to use, named as llama.cpp names them: CUDA0,CUDA1 (the layers split over them in this order; -ts and -mg count in this list), or none.")
    var device: String?

    @Flag(name: .customLong("list-devices"), help: "Print the GPUs with their llama.cpp names and memory, then exit.")
    var listDevices = false

    @Option(name: [.customLong("ot", withSingleDash: true), .customLong("override-tensor")], help: "llama.cpp's per-tensor placement: refused (-ngl places whole layers).")
    var overrideTensor: String?

    @Option(name: [.customLong("fa", withSingleDash: true), .customLong("flash-attn")], help: "on | off | auto (alone: on), as llama.cpp's. Changes nothing here: attention never builds the score matrix that flash attention avoids.")
    var flashAttention: String?

    @Flag(exclusivity: .chooseLast, help: "-kvo (default) keeps an offloaded layer's KV cache on its GPU; -nkvo (llama.cpp's cache on the host) is refused with offload.")
    var kvOffload: KVOffload?

    func validate() throws {
        do {
            if let overrideTensor {
                throw RunnerError("-ot/--override-tensor '\(overrideTensor)' (a tensor's own placement) is not supported: -ngl N places whole layers, the last N")
            }
            _ = try request()
            _ = try flashAttentionSetting()
        } catch { throw ValidationError("\(error)") }
    }

    func request() throws -> GPURequest {
        // llama.cpp's words for -ngl: all (everything, as 999) and auto (what the free memory holds).
        var layers: Int?
        switch gpuLayers?.lowercased() {
        case nil: layers = nil
        case "all", "auto": layers = GPURequest.everything
        case let text?:
            guard let count = Int(text) else { throw RunnerError("-ngl/--n-gpu-layers takes a number of layers, all or auto, got '\(gpuLayers ?? "")'") }
            layers = count
        }
        var request = try GPURequest.parse(gpu: gpu, layers: layers, splitMode: splitMode, mainGPU: mainGPU, tensorSplit: tensorSplit,
                                           device: device, kvOffload: kvOffload ?? .onGPU)
        request.fitToMemory = gpuLayers?.lowercased() == "auto" && request.wanted
        return request
    }

    enum FlashAttention { case on, off, auto }

    /// What `-fa on` gets: one note that it changes nothing, rather than silence.
    var flashAttentionNote: String? {
        (try? flashAttentionSetting()) == .on ? "-fa on changes nothing here: attention never builds the score matrix that flash attention avoids" : nil
    }

    /// `-fa`'s value in llama.cpp's spellings (nil: not given).
    func flashAttentionSetting() throws -> FlashAttention? {
        guard let value = flashAttention else { return nil }
        switch value.lowercased() {
        case "on", "enabled", "true", "1": return .on
        case "off", "disabled", "false", "0": return .off
        case "auto", "-1": return .auto
        default: throw RunnerError("-fa/--flash-attn must be on, off or auto, got '\(value)'")
        }
    }

    /// `-fa` alone (llamafile's and older llama.cpp's flag) or followed by its value (llama.cpp's today), as one
    /// `--flash-attn=VALUE` the parser takes: an option's value can't be optional there.
    static func joiningFlashAttentionValue(_ arguments: [String]) -> [String] {
        let values: Set<String> = ["on", "enabled", "true", "1", "off", "disabled", "false", "0", "auto", "-1"]
        var joined: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { joined += arguments[index...]; break }
            if argument == "-fa" || argument == "--flash-attn" {
                let next = index + 1 < arguments.count ? arguments[index + 1] : nil
                // A word after it is its value, right or wrong (the runner takes no positional arguments).
                if let next, values.contains(next.lowercased()) || !next.hasPrefix("-") {
                    joined.append("--flash-attn=\(next)")
                    index += 2
                    continue
                }
                joined.append("--flash-attn=on")
            } else {
                joined.append(argument)
            }
            index += 1
        }
        return joined
    }

    /// The request, checked (validate() already ran it once).
    var checkedRequest: GPURequest { (try? request()) ?? .cpuOnly }
}

/// `-kvo`/`-nkvo`: where an offloaded layer's KV cache lives (llama.cpp's `--kv-offload`, `--no-kv-offload`).
enum KVOffload: EnumerableFlag {
    case onGPU, onHost

    static func name(for value: KVOffload) -> NameSpecification {
        switch value {
        case .onGPU: return [.customLong("kvo", withSingleDash: true), .customLong("kv-offload")]
        case .onHost: return [.customLong("nkvo", withSingleDash: true), .customLong("no-kv-offload")]
        }
    }
}

/// `-ngl N` / `--gpu auto|nvidia|disable`, as llama.cpp and llamafile mean them: the last N repeating layers
/// (and the output layer once N exceeds the layer count; `-ngl 999` = everything) run in GPU workers.
/// `auto` falls back to the CPU with one line saying why; `nvidia` makes any failure fatal. With several
/// GPUs the layers are split by ranges (`-sm layer`, shares from `-ts` or free memory) or go to one (`-sm
/// none`, `-mg`); llama.cpp's row split (one matrix over several GPUs) is refused, not approximated.
struct GPURequest: Equatable {
    enum Mode: String { case auto, nvidia, disable }
    enum Split: String { case none, layer }
    var mode: Mode
    var layers: Int
    var split: Split = .layer
    /// The GPU of `-sm none`.
    var mainGPU = 0
    /// `-ts`: one share per device in the driver's order, or in `devices`' (nil: the devices' free memory).
    var shares: [Double]? = nil
    /// `-dev`: the GPUs a layer split uses, in its order (nil: every GPU the driver sees).
    var devices: [Int]? = nil
    /// `-ngl auto`: of `layers`, the last ones the GPUs' free memory holds with their KV cache.
    var fitToMemory = false

    /// `-ngl 999`: every layer and the output.
    static let everything = 999

    static let cpuOnly = GPURequest(mode: .disable, layers: 0)

    static func parse(gpu: String?, layers: Int?, splitMode: String? = nil, mainGPU: Int? = nil,
                      tensorSplit: String? = nil, device: String? = nil, kvOffload: KVOffload = .onGPU) throws -> GPURequest {
        guard let mode = Mode(rawValue: (gpu ?? "auto").lowercased()) else {
            let other = ["amd", "apple", "metal", "rocm", "hip", "vulkan"].contains((gpu ?? "").lowercased())
            throw RunnerError("--gpu must be auto, nvidia or disable, got '\(gpu ?? "")'\(other ? " (this runner offloads to NVIDIA GPUs only)" : "")")
        }
        if let layers, layers < 0 { throw RunnerError("-ngl/--n-gpu-layers must be 0 or more, got \(layers)") }
        // `--gpu nvidia` alone means everything, as llamafile's; `auto` offloads only what -ngl names.
        var request = GPURequest(mode: mode, layers: mode == .disable ? 0 : (layers ?? (mode == .nvidia ? everything : 0)))
        if let mainGPU {
            guard mainGPU >= 0 else { throw RunnerError("-mg/--main-gpu must be 0 or more, got \(mainGPU)") }
            request.mainGPU = mainGPU
        }
        switch splitMode?.lowercased() {
        case nil: request.split = mainGPU == nil ? .layer : .none  // -mg alone picks the one GPU
        case "none": request.split = .none
        case "layer":
            if mainGPU != nil {
                throw RunnerError("-mg/--main-gpu picks the one GPU of -sm none; -sm layer spreads the layers over all of them (-ts sets their shares)")
            }
            request.split = .layer
        case "row":
            throw RunnerError("-sm row (each matrix split over several GPUs) is not supported: -sm layer gives each GPU a range of layers")
        default:
            throw RunnerError("-sm/--split-mode must be none or layer, got '\(splitMode ?? "")'")
        }
        if let tensorSplit {
            guard request.split == .layer else { throw RunnerError("-ts/--tensor-split sets the GPUs' shares of -sm layer; -sm none uses one GPU (-mg)") }
            // llama.cpp takes commas or slashes between the shares.
            let fields = tensorSplit.split(omittingEmptySubsequences: false) { $0 == "," || $0 == "/" }
            var shares: [Double] = []
            for field in fields {
                guard let share = Double(String(field.filter { $0 != " " })), share.isFinite, share >= 0 else {
                    throw RunnerError("-ts/--tensor-split takes shares ≥ 0 separated by commas (e.g. 3,1), got '\(tensorSplit)'")
                }
                shares.append(share)
            }
            guard shares.count <= 1024 else { throw RunnerError("-ts/--tensor-split names at most 1024 GPUs, got \(shares.count)") }
            guard shares.contains(where: { $0 > 0 }) else {
                throw RunnerError("-ts/--tensor-split needs a share above 0 for at least one GPU, got '\(tensorSplit)'")
            }
            request.shares = shares
        }
        if let device {
            let devices = try parseDevices(device)
            if devices.isEmpty {
                // llama.cpp's "none": nothing offloaded, whatever -ngl says.
                if mode == .nvidia { throw RunnerError("--gpu nvidia asks for a GPU and -dev none for none") }
                request.layers = 0
            } else {
                if let shares = request.shares, shares.count > devices.count {
                    throw RunnerError("-ts/--tensor-split gives \(shares.count) shares for the \(devices.count) GPU\(devices.count == 1 ? "" : "s") of -dev")
                }
                // -mg counts in -dev's list, as llama.cpp's main GPU does.
                guard request.mainGPU < devices.count else {
                    throw RunnerError("-mg/--main-gpu \(request.mainGPU) counts in -dev's list (from 0), which names \(devices.count) GPU\(devices.count == 1 ? "" : "s")")
                }
                request.mainGPU = devices[request.mainGPU]
                request.devices = devices
            }
        }
        // The worker runs a layer's attention beside its cache; without offload the cache is on the host anyway.
        if kvOffload == .onHost && request.wanted {
            throw RunnerError("-nkvo/--no-kv-offload (an offloaded layer's KV cache on the host) is not supported: each offloaded layer keeps its cache on the GPU; a smaller -ngl keeps more of the cache on the host")
        }
        return request
    }

    var wanted: Bool { mode != .disable && layers > 0 }

    /// `-dev CUDA0,CUDA2` → [0, 2] (the driver's numbering, as CUDA_VISIBLE_DEVICES leaves it); `none` → [].
    static func parseDevices(_ text: String) throws -> [Int] {
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0.filter { $0 != " " }) }
        if names.count == 1 && names[0].lowercased() == "none" { return [] }
        var devices: [Int] = []
        for name in names {
            let digits = name.dropFirst(4)
            guard name.lowercased().hasPrefix("cuda"), !digits.isEmpty, digits.count <= 4, digits.allSatisfy({ ("0"..."9").contains($0) }),
                  let index = Int(digits), index >= 0 else {
                throw RunnerError("-dev/--device names GPUs CUDA0, CUDA1, … (see --list-devices) or none, got '\(name)'")
            }
            guard !devices.contains(index) else { throw RunnerError("-dev/--device names CUDA\(index) twice") }
            devices.append(index)
        }
        return devices
    }
}
