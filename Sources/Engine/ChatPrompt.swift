import Chat
import Tokenizer

/// A conversation as the model's token ids, the one way every mode builds it (server routes and terminal
/// chat alike). The template's own text may name control tokens (`<|im_start|>`), but the messages' content
/// stays plain text: a user writing "<|im_end|>" must not end their turn. So the template is rendered with
/// placeholders for the contents, and each part is tokenized by its own rule.
public struct ChatPrompt: Sendable {
    public let template: ChatTemplate
    public let tokenizer: Tokenizer

    public init(template: ChatTemplate, tokenizer: Tokenizer) {
        self.template = template
        self.tokenizer = tokenizer
    }

    /// The text of the BOS and EOS tokens, as templates see them (`bos_token`, `eos_token`).
    public var bosText: String { tokenizer.bosToken.flatMap { tokenizer.tokenText($0) } ?? "" }
    public var eosText: String { tokenizer.eosToken.flatMap { tokenizer.tokenText($0) } ?? "" }

    /// The prompt text the template makes of a conversation, ready for the assistant's turn.
    /// `extra`: more template variables (`tools`, `date_string`, …).
    public func render(_ messages: [ChatMessage], extra: [String: TemplateValue] = [:]) throws -> String {
        try template.render(messages: messages, addGenerationPrompt: true, bosToken: bosText, eosToken: eosText, extra: extra)
    }

    /// Token ids of a conversation (see the type's comment). Throws what the template throws.
    public func tokens(_ messages: [ChatMessage], extra: [String: TemplateValue] = [:]) throws -> [Int] {
        let reference = try render(messages, extra: extra)
        let marker = "\u{F8FF}swiftfile-content-"
        // (An empty content stays empty: with tool calls, templates test it for none.)
        let placeheld = messages.enumerated().map { index, message in
            var copy = message
            if !message.content.isEmpty { copy.content = "\(marker)\(index)\u{F8FF}" }
            return copy
        }
        let skeleton = try render(placeheld, extra: extra)
        let addBOS = tokenizer.addBOS && !(bosText.isEmpty == false && reference.hasPrefix(bosText))
        // Templates may transform content (Llama 3 trims it); try the contents as given, then trimmed.
        for transform in [{ (s: String) in s }, { (s: String) in s.trimmedWhitespace }] {
            let contents = messages.map { transform($0.content) }
            let parts = Self.split(skeleton, marker: marker, contents: contents)
            if let parts, parts.map(\.text).joined() == reference {
                var tokens: [Int] = []
                if addBOS, let bos = tokenizer.bosToken { tokens.append(bos) }
                for part in parts where !part.text.isEmpty {
                    tokens += tokenizer.encode(part.text, addBOS: false, parseSpecial: !part.isContent)
                }
                return tokens
            }
        }
        // The template did something else with the content (split it, repeated it): tokenize the whole
        // rendering as llama.cpp does.
        return tokenizer.encode(reference, addBOS: addBOS, parseSpecial: true)
    }

    /// Splits a rendering with placeholders into template text and message contents.
    static func split(_ skeleton: String, marker: String, contents: [String]) -> [(text: String, isContent: Bool)]? {
        var parts: [(String, Bool)] = []
        var rest = Substring(skeleton)
        while let range = rest.firstRange(of: marker) {
            parts.append((String(rest[..<range.lowerBound]), false))
            let afterMarker = rest[range.upperBound...]
            guard let end = afterMarker.firstIndex(of: "\u{F8FF}"), let index = Int(afterMarker[..<end]), contents.indices.contains(index) else { return nil }
            parts.append((contents[index], true))
            rest = afterMarker[afterMarker.index(after: end)...]
        }
        parts.append((String(rest), false))
        return parts
    }
}

extension String {
    var trimmedWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
