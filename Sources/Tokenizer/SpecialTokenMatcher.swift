/// Finds special-token texts inside raw text and cuts the text around them.
/// At each position the longest special token that matches wins. llama.cpp instead applies tokens
/// longest-first over the whole text; the two agree unless two special texts partially overlap,
/// which does not happen for delimited tokens such as `<|eot_id|>` or `<|im_end|>`.
struct SpecialTokenMatcher: Sendable {
    enum Fragment {
        case text(Range<Int>)
        case token(Int)
    }

    private let texts: [[UInt8]]
    private let ids: [Int]
    /// Indices into texts/ids for each first byte, longest text first (then lowest id).
    private let candidatesByFirstByte: [[Int]]

    init(_ tokens: [(id: Int, text: [UInt8])]) {
        let usable = tokens.filter { !$0.text.isEmpty }
            .sorted { $0.text.count != $1.text.count ? $0.text.count > $1.text.count : $0.id < $1.id }
        texts = usable.map(\.text)
        ids = usable.map(\.id)
        var buckets = [[Int]](repeating: [], count: 256)
        for (index, entry) in usable.enumerated() { buckets[Int(entry.text[0])].append(index) }
        candidatesByFirstByte = buckets
    }

    var isEmpty: Bool { texts.isEmpty }

    /// Calls `emit` with the text between matches and the matched token ids, in order.
    func partition(_ bytes: UnsafeBufferPointer<UInt8>, emit: (Fragment) -> Void) {
        guard !texts.isEmpty else {
            if !bytes.isEmpty { emit(.text(0..<bytes.count)) }
            return
        }
        var gapStart = 0
        var position = 0
        scan: while position < bytes.count {
            for candidate in candidatesByFirstByte[Int(bytes[position])] {
                let text = texts[candidate]
                guard position + text.count <= bytes.count else { continue }
                var matches = true
                for offset in 1..<text.count where bytes[position + offset] != text[offset] { matches = false; break }
                if matches {
                    if gapStart < position { emit(.text(gapStart..<position)) }
                    emit(.token(ids[candidate]))
                    position += text.count
                    gapStart = position
                    continue scan
                }
            }
            position += 1
        }
        if gapStart < bytes.count { emit(.text(gapStart..<bytes.count)) }
    }
}
