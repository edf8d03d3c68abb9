/// The working set of a sampling step: token ids with their logits (and, once computed, probabilities).
/// Samplers narrow or reshape it; `sorted` records whether it is in descending logit order.
public struct Candidates {
    public var ids: [Int]
    public var logits: [Float]
    public var sorted = false

    public init(logits raw: UnsafeBufferPointer<Float>) {
        ids = Array(0..<raw.count)
        logits = Array(raw)
    }

    public init(ids: [Int], logits: [Float], sorted: Bool = false) {
        self.ids = ids; self.logits = logits; self.sorted = sorted
    }

    public var count: Int { ids.count }

    /// Sorts by descending logit, ties by ascending id (so greedy and top-k are deterministic). Keeps only the
    /// best `limit` when given, using a partial selection so a 128k vocabulary is not fully sorted.
    public mutating func sortDescending(keeping limit: Int? = nil) {
        let order: [Int]
        let better: (Int, Int) -> Bool = { a, b in
            self.logits[a] > self.logits[b] || (self.logits[a] == self.logits[b] && self.ids[a] < self.ids[b])
        }
        if let limit, limit < count {
            order = Self.topIndices(count: count, limit: limit, better: better)
        } else {
            order = (0..<count).sorted(by: better)
        }
        ids = order.map { ids[$0] }
        logits = order.map { logits[$0] }
        sorted = true
    }

    /// Indices of the best `limit` elements, best first (a bounded min-heap, O(n log k)).
    static func topIndices(count: Int, limit: Int, better: (Int, Int) -> Bool) -> [Int] {
        guard limit > 0 else { return [] }
        var heap: [Int] = []  // worst of the kept at heap[0]
        heap.reserveCapacity(limit)
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var worst = i
                if l < heap.count, better(heap[worst], heap[l]) { worst = l }
                if r < heap.count, better(heap[worst], heap[r]) { worst = r }
                if worst == i { return }
                heap.swapAt(i, worst); i = worst
            }
        }
        func siftUp(_ start: Int) {
            var i = start
            while i > 0 {
                let parent = (i - 1) / 2
                if better(heap[parent], heap[i]) { heap.swapAt(parent, i); i = parent } else { return }
            }
        }
        for index in 0..<count {
            if heap.count < limit {
                heap.append(index); siftUp(heap.count - 1)
            } else if better(index, heap[0]) {
                heap[0] = index; siftDown(0)
            }
        }
        return heap.sorted(by: better)
    }

    /// Softmax of the current logits (max-subtracted, summed in double).
    public func probabilities() -> [Float] {
        guard let maximum = logits.max() else { return [] }
        var sum: Double = 0
        var p = logits.map { l -> Float in let v = expNoOverflow(l - maximum); sum += Double(v); return v }
        let inverse = sum > 0 ? Float(1 / sum) : 0
        for i in p.indices { p[i] *= inverse }
        return p
    }

    public mutating func keepFirst(_ n: Int) {
        if n < count { ids.removeSubrange(n...); logits.removeSubrange(n...) }
    }
}

@inline(__always) func expNoOverflow(_ x: Float) -> Float {
    x < -87 ? 0 : Float(Foundation_exp(Double(x)))
}

#if canImport(Glibc)
import Glibc
@inline(__always) func Foundation_exp(_ x: Double) -> Double { Glibc.exp(x) }
#else
import Darwin
@inline(__always) func Foundation_exp(_ x: Double) -> Double { Darwin.exp(x) }
#endif
