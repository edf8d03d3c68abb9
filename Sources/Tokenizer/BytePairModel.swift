import Dispatch

/// Byte-level BPE (`tokenizer.ggml.model = gpt2`): each pre-tokenized piece starts as one symbol per
/// byte and adjacent pairs merge by rank (lowest first; equal ranks leftmost first, as llama.cpp),
/// through a heap of candidate pairs so a 100k-byte piece costs O(n log n). Immutable after init.
final class BytePairModel: Sendable {
    let merges: MergeTable
    /// Token id of each raw byte's alphabet character, -1 if the vocabulary lacks it.
    let byteTokens: FixedBuffer<Int32>
    /// Each byte's alphabet character as UTF-8, two slots per byte (second 0 when one byte long).
    let alphabetUTF8: FixedBuffer<UInt8>
    let preTokenizer: PreTokenizer

    /// Reads `tokenizer.ggml.merges` ("left right", rank = index). Every side and every merged text
    /// must be a token (as Hugging Face's BPE also demands); the first of two equal pairs wins.
    init(merges mergeTexts: [String], table: TokenTable, preTokenizer: PreTokenizer) throws {
        // Hundreds of thousands of lookups: parse in parallel chunks, then report the first bad merge.
        let chunkCount = mergeTexts.count < 4096 ? 1 : 8
        let chunkSize = (mergeTexts.count + chunkCount - 1) / max(chunkCount, 1)
        let results = ChunkResults(count: chunkCount)
        DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
            let range = min(chunk * chunkSize, mergeTexts.count)..<min((chunk + 1) * chunkSize, mergeTexts.count)
            results.set(chunk, Result { try Self.parseMerges(mergeTexts, range, table: table) })
        }
        var merges: [(left: Int32, right: Int32, result: Int32)] = []
        merges.reserveCapacity(mergeTexts.count)
        for result in results.all() { merges += try result.get() }
        self.merges = MergeTable(merges)
        var alphabet = [UInt8](repeating: 0, count: 512)
        var byteTokens = [Int32](repeating: -1, count: 256)
        for byte in 0..<256 {
            let utf8 = ByteLevelAlphabet.utf8ForByte[byte]
            for (offset, value) in utf8.prefix(2).enumerated() { alphabet[2 * byte + offset] = value }
            byteTokens[byte] = table.id(of: utf8).map(Int32.init) ?? -1
        }
        self.alphabetUTF8 = FixedBuffer(alphabet)
        self.byteTokens = FixedBuffer(byteTokens)
        self.preTokenizer = preTokenizer
    }

    /// Resolves `mergeTexts[range]` ("left right") to token ids; every side and every merged text
    /// must be a token (as Hugging Face's BPE also demands).
    private static func parseMerges(_ mergeTexts: [String], _ range: Range<Int>,
                                    table: TokenTable) throws -> [(left: Int32, right: Int32, result: Int32)] {
        var merges: [(left: Int32, right: Int32, result: Int32)] = []
        merges.reserveCapacity(range.count)
        var joined: [UInt8] = []
        for rank in range {
            var text = mergeTexts[rank]
            let merge = try text.withUTF8 { bytes in
                func failure(_ reason: String) -> TokenizerError {
                    .badMerge(key: TokenizerKey.merges, index: rank, text: String(decoding: bytes, as: UTF8.self), reason: reason)
                }
                // Split at the first space after the first byte, so a left side may start with a space.
                guard bytes.count >= 3, let space = bytes[1...].firstIndex(of: 0x20), space + 1 < bytes.count else {
                    throw failure("is not two tokens separated by a space")
                }
                let left = UnsafeBufferPointer(rebasing: bytes[..<space])
                let right = UnsafeBufferPointer(rebasing: bytes[(space + 1)...])
                guard let leftId = table.id(of: left) else {
                    throw failure("names \"\(String(decoding: left, as: UTF8.self))\", which is not in the vocabulary")
                }
                guard let rightId = table.id(of: right) else {
                    throw failure("names \"\(String(decoding: right, as: UTF8.self))\", which is not in the vocabulary")
                }
                joined.removeAll(keepingCapacity: true)
                joined.append(contentsOf: left)
                joined.append(contentsOf: right)
                guard let resultId = table.id(of: joined) else {
                    throw failure("names the merged token \"\(String(decoding: joined, as: UTF8.self))\", which is not in the vocabulary")
                }
                return (left: Int32(leftId), right: Int32(rightId), result: Int32(resultId))
            }
            merges.append(merge)
        }
        return merges
    }

    /// Reusable buffers for one encode call.
    struct Workspace {
        var ids: [Int32] = []
        var previous: [Int32] = []
        var next: [Int32] = []
        var alive: [Bool] = []
        var heap = BinaryHeap<Candidate>()
        var alphabetText: [UInt8] = []
    }

    /// A pair that may merge; `<` orders by rank, then leftmost first (llama.cpp's tie-break).
    struct Candidate: Comparable {
        let rank: UInt32
        let left: Int32
        let right: Int32
        let leftId: Int32
        let rightId: Int32
        let resultId: Int32

        static func < (a: Candidate, b: Candidate) -> Bool { a.rank != b.rank ? a.rank < b.rank : a.left < b.left }
    }

    /// Appends the ids of `bytes[range]` (text without special tokens) to `output`.
    func encode(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, table: TokenTable,
                workspace: inout Workspace, output: inout [Int]) {
        preTokenizer.split(bytes, range) { piece in
            encodePiece(UnsafeBufferPointer(rebasing: bytes[piece]), table: table, workspace: &workspace, output: &output)
        }
    }

    /// Pieces longer than this merge in chunks cut at character boundaries, which bounds the merge
    /// loop's memory (~40 bytes per byte) on absurd input; llama.cpp would merge across the cut, so
    /// ids can differ from it only for a single "word" of over a megabyte.
    static let maximumPieceBytes = 1 << 20

    private func encodePiece(_ piece: UnsafeBufferPointer<UInt8>, table: TokenTable,
                             workspace: inout Workspace, output: inout [Int]) {
        guard !piece.isEmpty else { return }
        if piece.count > Self.maximumPieceBytes {
            for chunk in characterAlignedChunks(piece.count, maximum: Self.maximumPieceBytes, { piece[$0] }) {
                encodePiece(UnsafeBufferPointer(rebasing: piece[chunk]), table: table, workspace: &workspace, output: &output)
            }
            return
        }
        if piece.count == 1 {
            let id = byteTokens[Int(piece[0])]
            if id >= 0 { output.append(Int(id)) }
            return
        }
        if preTokenizer.ignoresMerges {
            // A piece that is a whole token is taken as is (llama.cpp's ignore_merges).
            workspace.alphabetText.removeAll(keepingCapacity: true)
            for byte in piece {
                let first = alphabetUTF8[2 * Int(byte)], second = alphabetUTF8[2 * Int(byte) + 1]
                workspace.alphabetText.append(first)
                if second != 0 { workspace.alphabetText.append(second) }
            }
            if let id = workspace.alphabetText.withUnsafeBufferPointer({ table.id(of: $0) }) { output.append(id); return }
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
        guard leftId >= 0, rightId >= 0, let merge = merges.merge(leftId, rightId) else { return }
        workspace.heap.push(Candidate(rank: merge.rank, left: left, right: right, leftId: leftId, rightId: rightId,
                                      resultId: merge.result))
    }
}

/// Ranges of at most `maximum` bytes covering 0..<count, each ending at a UTF-8 character boundary
/// (a cut never lands before a continuation byte, unless a "character" is longer than `maximum`).
func characterAlignedChunks(_ count: Int, maximum: Int, _ byte: (Int) -> UInt8) -> [Range<Int>] {
    var chunks: [Range<Int>] = []
    var start = 0
    while start < count {
        var end = min(start + maximum, count)
        if end < count {
            var cut = end
            while cut > start && byte(cut) & 0xC0 == 0x80 { cut -= 1 }
            if cut > start { end = cut }
        }
        chunks.append(start..<end)
        start = end
    }
    return chunks
}

/// One result slot per parallel chunk. Each worker writes only its own slot, and
/// `concurrentPerform` returns after every worker has finished, so no lock is needed.
private final class ChunkResults: @unchecked Sendable {
    typealias Merges = [(left: Int32, right: Int32, result: Int32)]
    private let slots: UnsafeMutablePointer<Result<Merges, Error>>
    private let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: .success([]), count: count)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    func set(_ index: Int, _ result: Result<Merges, Error>) { slots[index] = result }

    func all() -> [Result<Merges, Error>] { Array(UnsafeBufferPointer(start: slots, count: count)) }
}
