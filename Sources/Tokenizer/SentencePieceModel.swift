/// SentencePiece-style BPE (`tokenizer.ggml.model = llama`), as llama.cpp's llm_tokenizer_spm:
/// spaces become ▁ (and one ▁ is prefixed), the text starts as one symbol per character, and the
/// adjacent pair whose concatenation is the best-scoring token merges first (equal scores: leftmost).
/// Symbols that are not tokens at the end fall back to `<0xNN>` byte tokens.
final class SentencePieceModel: Sendable {
    let scores: FixedBuffer<Float>
    /// Token id of `<0xNN>` for each byte, -1 where the vocabulary lacks it.
    let byteTokens: FixedBuffer<Int32>
    let unknownToken: Int?
    let addSpacePrefix: Bool
    /// True when no token holds a ▁ right after another character: then a ▁ that follows a non-▁
    /// starts a new independent segment, which keeps memory bounded on huge texts without changing
    /// the result (no merge can cross such a point).
    let segmentsAtSpaces: Bool

    static let spaceMark: [UInt8] = [0xE2, 0x96, 0x81]  // U+2581 ▁

    init(tokens: [String], scores: [Float], byteTokens: [Int32], unknownToken: Int?, addSpacePrefix: Bool) {
        self.scores = FixedBuffer(scores)
        self.byteTokens = FixedBuffer(byteTokens)
        self.unknownToken = unknownToken
        self.addSpacePrefix = addSpacePrefix
        segmentsAtSpaces = !tokens.contains { token in
            var previousIsOther = false
            for scalar in token.unicodeScalars {
                let isMark = scalar == "\u{2581}"
                if isMark && previousIsOther { return true }
                previousIsOther = !isMark
            }
            return false
        }
    }

    struct Workspace {
        var text: [UInt8] = []
        var starts: [Int32] = []
        var lengths: [Int32] = []
        var previous: [Int32] = []
        var next: [Int32] = []
        var heap = BinaryHeap<Candidate>()
    }

    /// A pair whose text is a token; `<` puts the higher score first, then the leftmost (llama.cpp).
    struct Candidate: Comparable {
        let score: Float
        let left: Int32
        let right: Int32
        let length: Int32

        static func < (a: Candidate, b: Candidate) -> Bool { a.score != b.score ? a.score > b.score : a.left < b.left }
    }

    /// Appends the ids of one text fragment. `prefixSpace`: the fragment opens the text or follows a
    /// special token, where llama.cpp adds the leading space.
    func encode(_ fragment: UnsafeBufferPointer<UInt8>, prefixSpace: Bool, table: TokenTable,
                workspace: inout Workspace, output: inout [Int]) {
        workspace.text.removeAll(keepingCapacity: true)
        if addSpacePrefix && prefixSpace { workspace.text.append(contentsOf: Self.spaceMark) }
        for byte in fragment {
            if byte == 0x20 { workspace.text.append(contentsOf: Self.spaceMark) } else { workspace.text.append(byte) }
        }
        let text = workspace.text
        text.withUnsafeBufferPointer { bytes in
            var segmentStart = 0
            var index = 0
            while index < bytes.count {
                if segmentsAtSpaces && index > segmentStart && isSpaceMark(bytes, index) && !isSpaceMark(bytes, index - 3) {
                    encodeSegment(bytes, segmentStart..<index, table: table, workspace: &workspace, output: &output)
                    segmentStart = index
                }
                index += 1
            }
            if segmentStart < bytes.count {
                encodeSegment(bytes, segmentStart..<bytes.count, table: table, workspace: &workspace, output: &output)
            }
        }
    }

    @inline(__always)
    private func isSpaceMark(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int) -> Bool {
        index >= 0 && index + 2 < bytes.count && bytes[index] == 0xE2 && bytes[index + 1] == 0x96 && bytes[index + 2] == 0x81
    }

    /// Longer segments (a megabyte without spaces) merge in chunks, bounding memory; see BytePairModel.
    static let maximumSegmentBytes = 1 << 20

    private func encodeSegment(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, table: TokenTable,
                               workspace: inout Workspace, output: inout [Int]) {
        if range.count > Self.maximumSegmentBytes {
            for chunk in characterAlignedChunks(range.count, maximum: Self.maximumSegmentBytes, { bytes[range.lowerBound + $0] }) {
                encodeSegment(bytes, (range.lowerBound + chunk.lowerBound)..<(range.lowerBound + chunk.upperBound),
                              table: table, workspace: &workspace, output: &output)
            }
            return
        }
        workspace.starts.removeAll(keepingCapacity: true)
        workspace.lengths.removeAll(keepingCapacity: true)
        workspace.previous.removeAll(keepingCapacity: true)
        workspace.next.removeAll(keepingCapacity: true)
        workspace.heap.removeAll()

        // One symbol per UTF-8 character.
        let scanner = UTF8Scanner(bytes: bytes, end: range.upperBound)
        var position = range.lowerBound
        while position < range.upperBound {
            let length = max(scanner.scalar(at: position).length, 1)
            let index = workspace.starts.count
            workspace.starts.append(Int32(position))
            workspace.lengths.append(Int32(length))
            workspace.previous.append(Int32(index - 1))
            position += length
            workspace.next.append(position < range.upperBound ? Int32(index + 1) : -1)
        }
        let count = workspace.starts.count
        guard count > 0 else { return }
        for index in 1..<max(count, 1) { addCandidate(Int32(index - 1), Int32(index), bytes, table, &workspace) }

        while let candidate = workspace.heap.pop() {
            let left = Int(candidate.left), right = Int(candidate.right)
            // Stale when either side merged away or grew since the pair was queued.
            guard workspace.lengths[left] > 0, workspace.lengths[right] > 0,
                  workspace.lengths[left] + workspace.lengths[right] == candidate.length else { continue }
            workspace.lengths[left] += workspace.lengths[right]
            workspace.lengths[right] = 0
            let after = workspace.next[right]
            workspace.next[left] = after
            if after >= 0 { workspace.previous[Int(after)] = candidate.left }
            addCandidate(workspace.previous[left], candidate.left, bytes, table, &workspace)
            addCandidate(candidate.left, after, bytes, table, &workspace)
        }

        var index: Int32 = 0
        while index >= 0 {
            let start = Int(workspace.starts[Int(index)])
            let symbol = UnsafeBufferPointer(rebasing: bytes[start..<start + Int(workspace.lengths[Int(index)])])
            if let id = table.id(of: symbol) {
                output.append(id)
            } else {
                for byte in symbol {
                    let id = byteTokens[Int(byte)]
                    if id >= 0 { output.append(Int(id)) } else if let unknownToken { output.append(unknownToken) }
                }
            }
            index = workspace.next[Int(index)]
        }
    }

    @inline(__always)
    private func addCandidate(_ left: Int32, _ right: Int32, _ bytes: UnsafeBufferPointer<UInt8>, _ table: TokenTable,
                              _ workspace: inout Workspace) {
        guard left >= 0, right >= 0 else { return }
        let start = Int(workspace.starts[Int(left)])
        let length = Int(workspace.lengths[Int(left)] + workspace.lengths[Int(right)])
        // Adjacent live symbols cover adjacent bytes, so the pair's text is one contiguous slice.
        guard let id = table.id(of: UnsafeBufferPointer(rebasing: bytes[start..<start + length])) else { return }
        workspace.heap.push(Candidate(score: scores[id], left: left, right: right, length: Int32(length)))
    }
}
