/// Byte-level BPE (`tokenizer.ggml.model = gpt2`): each pre-tokenized piece starts as one symbol per
/// byte and adjacent pairs merge by rank (lowest first; equal ranks leftmost first, as llama.cpp),
/// through a heap of candidate pairs so a 100k-byte piece costs O(n log n).
struct BytePairModel: Sendable {
    /// (left id << 32 | right id) → (rank << 32 | merged id).
    let merges: [UInt64: UInt64]
    /// Token id of each raw byte's alphabet character, -1 if the vocabulary lacks it.
    let byteTokens: [Int32]
    let preTokenizer: PreTokenizer

    /// Reads `tokenizer.ggml.merges` ("left right", rank = index). Every side and every merged text
    /// must be a token (as Hugging Face's BPE also demands); the first of two equal pairs wins.
    init(merges mergeTexts: [String], table: TokenTable, preTokenizer: PreTokenizer) throws {
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(mergeTexts.count)
        var joined: [UInt8] = []
        for (rank, text) in mergeTexts.enumerated() {
            var text = text
            let (leftId, rightId, resultId) = try text.withUTF8 { bytes in
                // Split at the first space after the first byte, so a left side may start with a space.
                guard bytes.count >= 3, let space = bytes[1...].firstIndex(of: 0x20), space + 1 < bytes.count else {
                    throw TokenizerError.badMerge(key: TokenizerKey.merges, index: rank, text: String(decoding: bytes, as: UTF8.self),
                                                  reason: "is not two tokens separated by a space")
                }
                let left = UnsafeBufferPointer(rebasing: bytes[..<space])
                let right = UnsafeBufferPointer(rebasing: bytes[(space + 1)...])
                func require(_ id: Int?, _ what: String) throws -> Int {
                    guard let id else {
                        throw TokenizerError.badMerge(key: TokenizerKey.merges, index: rank, text: String(decoding: bytes, as: UTF8.self),
                                                      reason: "names \(what), which is not in the vocabulary")
                    }
                    return id
                }
                let leftId = try require(table.id(of: left), "\"\(String(decoding: left, as: UTF8.self))\"")
                let rightId = try require(table.id(of: right), "\"\(String(decoding: right, as: UTF8.self))\"")
                joined.removeAll(keepingCapacity: true)
                joined.append(contentsOf: left)
                joined.append(contentsOf: right)
                let resultId = try require(table.id(of: joined), "the merged token \"\(String(decoding: joined, as: UTF8.self))\"")
                return (leftId, rightId, resultId)
            }
            let key = UInt64(leftId) << 32 | UInt64(rightId)
            if merges[key] == nil { merges[key] = UInt64(rank) << 32 | UInt64(resultId) }
        }
        self.merges = merges
        self.byteTokens = ByteLevelAlphabet.utf8ForByte.map { table.id(of: $0).map(Int32.init) ?? -1 }
        self.preTokenizer = preTokenizer
    }

    /// Reusable buffers for one encode call.
    struct Workspace {
        var ids: [Int32] = []
        var previous: [Int32] = []
        var next: [Int32] = []
        var alive: [Bool] = []
        var heap = BinaryHeap<Candidate> { a, b in a.rank != b.rank ? a.rank < b.rank : a.left < b.left }
        var alphabetText: [UInt8] = []
    }

    struct Candidate {
        let rank: UInt32
        let left: Int32
        let right: Int32
        let leftId: Int32
        let rightId: Int32
        let resultId: Int32
    }

    /// Appends the ids of `bytes[range]` (text without special tokens) to `output`.
    func encode(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, table: TokenTable,
                workspace: inout Workspace, output: inout [Int]) {
        preTokenizer.split(bytes, range) { piece in
            encodePiece(UnsafeBufferPointer(rebasing: bytes[piece]), table: table, workspace: &workspace, output: &output)
        }
    }

    private func encodePiece(_ piece: UnsafeBufferPointer<UInt8>, table: TokenTable,
                             workspace: inout Workspace, output: inout [Int]) {
        guard !piece.isEmpty else { return }
        if piece.count == 1 {
            let id = byteTokens[Int(piece[0])]
            if id >= 0 { output.append(Int(id)) }
            return
        }
        if preTokenizer.ignoresMerges {
            // A piece that is a whole token is taken as is (llama.cpp's ignore_merges).
            workspace.alphabetText.removeAll(keepingCapacity: true)
            for byte in piece { workspace.alphabetText.append(contentsOf: ByteLevelAlphabet.utf8ForByte[Int(byte)]) }
            if let id = table.id(of: workspace.alphabetText) { output.append(id); return }
        }

        let count = piece.count
        workspace.ids.removeAll(keepingCapacity: true)
        workspace.previous.removeAll(keepingCapacity: true)
        workspace.next.removeAll(keepingCapacity: true)
        workspace.alive.removeAll(keepingCapacity: true)
        workspace.heap.removeAll()
        for index in 0..<count {
            workspace.ids.append(byteTokens[Int(piece[index])])
            workspace.previous.append(Int32(index - 1))
            workspace.next.append(index + 1 < count ? Int32(index + 1) : -1)
            workspace.alive.append(true)
        }
        for index in 1..<count { addCandidate(Int32(index - 1), Int32(index), &workspace) }

        while let candidate = workspace.heap.pop() {
            let left = Int(candidate.left), right = Int(candidate.right)
            // Skip pairs that went stale: a side merged away or changed since the pair was queued.
            guard workspace.alive[left], workspace.alive[right], workspace.next[left] == candidate.right,
                  workspace.ids[left] == candidate.leftId, workspace.ids[right] == candidate.rightId else { continue }
            workspace.ids[left] = candidate.resultId
            workspace.alive[right] = false
            let after = workspace.next[right]
            workspace.next[left] = after
            if after >= 0 { workspace.previous[Int(after)] = candidate.left }
            addCandidate(workspace.previous[left], candidate.left, &workspace)
            addCandidate(candidate.left, after, &workspace)
        }

        var index: Int32 = 0
        while index >= 0 {
            let id = workspace.ids[Int(index)]
            if id >= 0 { output.append(Int(id)) }  // a byte missing from the vocabulary is dropped, as llama.cpp does
            index = workspace.next[Int(index)]
        }
    }

    @inline(__always)
    private func addCandidate(_ left: Int32, _ right: Int32, _ workspace: inout Workspace) {
        guard left >= 0, right >= 0 else { return }
        let leftId = workspace.ids[Int(left)], rightId = workspace.ids[Int(right)]
        guard leftId >= 0, rightId >= 0, let merge = merges[UInt64(leftId) << 32 | UInt64(rightId)] else { return }
        workspace.heap.push(Candidate(rank: UInt32(merge >> 32), left: left, right: right, leftId: leftId, rightId: rightId,
                                      resultId: Int32(truncatingIfNeeded: merge & 0xFFFF_FFFF)))
    }
}
