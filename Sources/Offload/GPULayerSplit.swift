import Model

/// The offloaded layers spread over several GPUs by layers (llama.cpp's `--split-mode layer`): each device
/// runs a contiguous range in its own worker, and the hidden state passes through the host from one to the
/// next (a row of embeddingLength floats per token, small beside the layers' work). The last range also
/// takes the output when it is offloaded. One device is the case of one range.
public final class GPULayerSplit: LayerOffload, @unchecked Sendable {
    public let parts: [GPUOffload]
    public let firstLayer: Int
    public let includesOutput: Bool

    /// `parts` in layer order, each starting where the one before ended.
    public init(_ parts: [GPUOffload]) throws {
        guard let first = parts.first, let last = parts.last else { throw GPUError(.failed, "no GPU to offload to") }
        for (a, b) in zip(parts, parts.dropFirst()) where a.lastLayer != b.firstLayer || a.includesOutput {
            throw GPUError(.failed, "GPU ranges \(a.firstLayer)..<\(a.lastLayer) and \(b.firstLayer)..<\(b.lastLayer) do not follow each other")
        }
        self.parts = parts
        firstLayer = first.firstLayer
        includesOutput = last.includesOutput
    }

    public func run(hidden: UnsafeMutablePointer<Float>, rope: UnsafePointer<Float>, batch: [BatchEntry], wanted: [Int],
                    logits: UnsafeMutablePointer<Float>) throws {
        for (i, part) in parts.enumerated() {
            let last = i == parts.count - 1
            try part.run(hidden: hidden, rope: rope, batch: batch, wanted: last ? wanted : [], logits: logits)
        }
    }

    public func runHidden(hidden: UnsafeMutablePointer<Float>, rope: UnsafePointer<Float>, batch: [BatchEntry]) throws {
        for part in parts { try part.runHidden(hidden: hidden, rope: rope, batch: batch) }
    }

    public func shift(sequence: Int, keep: Int, discard: Int, count: Int, turns: UnsafePointer<Float>) throws {
        for part in parts { try part.shift(sequence: sequence, keep: keep, discard: discard, count: count, turns: turns) }
    }

    /// One device's share of the work.
    public struct Assignment: Equatable, Sendable {
        public let device: Int
        public let layers: Range<Int>
        public let output: Bool
        public init(device: Int, layers: Range<Int>, output: Bool) {
            self.device = device
            self.layers = layers
            self.output = output
        }
    }

    /// `layers` split in proportion to `shares` (one per device, ≥ 0: llama.cpp's `--tensor-split`, or each
    /// device's free memory) as llama.cpp splits them: the output, when offloaded, counts as one more layer
    /// after the last; slot j of the n slots goes to the first device whose cumulative share exceeds j/n. So
    /// the devices take consecutive ranges in device order, a device of a small share may get nothing (it is
    /// left out), and the output lands with the last layers. Empty when no share is positive.
    public static func assign(layers: Range<Int>, output: Bool, shares: [Double]) -> [Assignment] {
        let positive = shares.map { $0 > 0 && $0.isFinite ? $0 : 0 }
        let total = positive.reduce(0, +)
        guard total > 0, total.isFinite else { return [] }
        var cumulative: [Double] = []
        var sum = 0.0
        for s in positive { sum += s; cumulative.append(sum / total) }
        let slots = layers.count + (output ? 1 : 0)
        var owner: [Int] = []  // device of each slot
        for j in 0..<slots {
            let at = Double(j) / Double(slots)
            owner.append(cumulative.firstIndex { $0 > at } ?? positive.lastIndex { $0 > 0 } ?? 0)
        }
        var result: [Assignment] = []
        var j = 0
        while j < slots {
            let device = owner[j]
            var end = j
            while end < slots && owner[end] == device { end += 1 }
            let layerEnd = min(end, layers.count)
            result.append(Assignment(device: device, layers: layers.lowerBound + min(j, layers.count) ..< layers.lowerBound + layerEnd,
                                     output: output && end == slots))
            j = end
        }
        return result
    }
}
