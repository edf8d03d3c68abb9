/// A binary min-heap: `pop` returns the smallest element (by the element's `<`, which here means
/// "merges first"). The merge loops push and pop a few times per symbol, so a long word costs
/// O(n log n), not O(n²).
struct BinaryHeap<Element: Comparable> {
    private(set) var elements: [Element] = []

    var isEmpty: Bool { elements.isEmpty }

    mutating func removeAll() { elements.removeAll(keepingCapacity: true) }

    mutating func push(_ element: Element) {
        elements.append(element)
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard elements[child] < elements[parent] else { break }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard let last = elements.popLast() else { return nil }
        guard !elements.isEmpty else { return last }
        let top = elements[0]
        elements[0] = last
        var parent = 0
        let count = elements.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            let right = left + 1
            var best = left
            if right < count && elements[right] < elements[left] { best = right }
            guard elements[best] < elements[parent] else { break }
            elements.swapAt(best, parent)
            parent = best
        }
        return top
    }
}
