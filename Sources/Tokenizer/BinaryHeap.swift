/// A binary heap: `pop` returns the element for which `comesBefore` holds against all others.
/// The merge loops push and pop a few times per symbol, so a long word costs O(n log n), not O(n²).
struct BinaryHeap<Element> {
    private(set) var elements: [Element] = []
    let comesBefore: (Element, Element) -> Bool

    init(comesBefore: @escaping (Element, Element) -> Bool) { self.comesBefore = comesBefore }

    var isEmpty: Bool { elements.isEmpty }

    mutating func removeAll() { elements.removeAll(keepingCapacity: true) }

    mutating func push(_ element: Element) {
        elements.append(element)
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard comesBefore(elements[child], elements[parent]) else { break }
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
            if right < count && comesBefore(elements[right], elements[left]) { best = right }
            guard comesBefore(elements[best], elements[parent]) else { break }
            elements.swapAt(best, parent)
            parent = best
        }
        return top
    }
}
