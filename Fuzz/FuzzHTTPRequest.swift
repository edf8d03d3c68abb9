// libFuzzer entry point for what the server does with a request's bytes after NIO has framed them: the
// security checks on its headers, the bounded JSON parser on its body, and the typed field reads every
// route makes. Built by Tools/fuzz.sh with Sources/Server's files that need no other module.
// Input: up to three header lines (Host, Origin, Authorization), a blank line, then the body.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    var headerLines: [String] = []
    var body = bytes[...]
    if let blank = findBlankLine(bytes) {
        headerLines = String(decoding: bytes[..<blank], as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        body = bytes[(blank + 2)...]
    }
    func header(_ index: Int) -> String? { index < headerLines.count ? headerLines[index] : nil }
    for policy in [SecurityPolicy(apiKey: nil, allowedOrigins: [], bindHost: "127.0.0.1"),
                   SecurityPolicy(apiKey: "sk-key", allowedOrigins: ["https://app.example"], bindHost: "0.0.0.0")] {
        _ = policy.refusal(host: header(0), origin: header(1), authorization: header(2), apiKeyHeader: header(2), requiresKey: true)
        if let origin = header(1) { _ = policy.isAllowed(origin: origin, host: header(0)) }
    }
    guard let json = try? JSONParser.parse(Array(body), maximumDepth: 64) else { return 0 }
    // What a serializer must survive: every parsed value prints, and prints as JSON that parses again.
    let printed = json.serialized
    guard (try? JSONParser.parse(Array(printed.utf8), maximumDepth: 70)) != nil else {
        fatalError("the server's own JSON does not parse again: \(printed.prefix(200))")
    }
    guard let fields = try? RequestFields(json) else { return 0 }
    _ = try? fields.integer("max_tokens", "n_predict", in: -1...1_000_000)
    _ = try? fields.integer("seed", in: Int.min...Int.max)
    _ = try? fields.number("temperature", in: 0...100)
    _ = try? fields.number("top_p", in: 0...1)
    _ = try? fields.bool("stream")
    _ = try? fields.string("model")
    _ = fields.value(["messages", "prompt"])
    return 0
}

/// Index of the first "\n\n" (end of the header lines), if any.
private func findBlankLine(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 2 else { return nil }
    for i in 0..<(bytes.count - 1) where bytes[i] == 0x0A && bytes[i + 1] == 0x0A { return i }
    return nil
}
