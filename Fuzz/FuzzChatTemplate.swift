// libFuzzer entry point for the chat template engine (a Jinja subset read from GGUF metadata, so from
// any downloaded file). Built by Tools/fuzz.sh with Sources/Chat/*.swift. The input is a template; it
// must parse or throw, and render or throw, within the engine's step, output and depth limits.

import FoundationEssentials

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChatTemplate(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let source = String(decoding: UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size), as: UTF8.self)
    // Smaller limits than the defaults: the same checks, less time per input under the sanitizers.
    let limits = ChatTemplateLimits(maximumSteps: 20_000, maximumOutputBytes: 64 << 10, maximumDepth: 32)
    guard let template = try? ChatTemplate(source: source, limits: limits) else { return 0 }
    let messages = [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi {{ there }}"),
                    ChatMessage(role: "assistant", content: "Hello."), ChatMessage(role: "user", content: "Bye")]
    let fixed = Date(timeIntervalSince1970: 1_700_000_000)
    for generationPrompt in [true, false] {
        _ = try? template.render(messages: messages, addGenerationPrompt: generationPrompt, bosToken: "<s>", eosToken: "</s>", now: fixed)
    }
    return 0
}
