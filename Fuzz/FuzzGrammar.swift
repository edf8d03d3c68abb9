// libFuzzer entry point for constrained output: GBNF text or a JSON Schema (both come from any client of the
// server), then text fed to the recogniser. Built by Tools/fuzz.sh with Sources/Grammar and Sources/JSON.
// Input: a grammar, or a JSON document taken as a schema; a NUL byte; then bytes to match. Everything
// must parse or throw a typed error, and matching must stay within the matcher's bounds.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGrammar(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    let split = bytes.firstIndex(of: 0) ?? bytes.count
    let head = Array(bytes[..<split]), tail = split < bytes.count ? Array(bytes[(split + 1)...]) : []
    var text = String(decoding: head, as: UTF8.self)
    if let schema = try? JSONParser.parse(head) {
        guard let converted = try? JSONSchemaGrammar.grammar(for: schema) else { return 0 }
        text = converted
    }
    guard let grammar = try? Grammar.parse(text) else { return 0 }
    var matcher = GrammarMatcher(grammar)
    for byte in tail {
        guard matcher.accept(byte) else { break }
        _ = matcher.canEnd
    }
    return 0
}
