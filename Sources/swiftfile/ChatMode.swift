import Chat
import Engine
import GGUF
import Grammar
import Model
import Sampling
import Synchronization
import Tensors
import Tokenizer
#if canImport(Glibc)
import Glibc
#endif

/// `--chat`: a chat on the terminal. Each turn re-sends the whole conversation to the `Generator`, which
/// evaluates only what follows the prefix already in the KV cache. A model with no chat template that does not
/// look like an instruct model gets completion mode instead: everything typed continues one text.
enum ChatMode {
    static func run(_ options: RunnerOptions, weights: LoadedWeights, note: (String) -> Void) throws -> Int32 {
        let model = try ModelSession.open(weights, ModelSession.Sizing(options), note: note)
        let tokenizer = model.tokenizer, inference = model.inference, contextLength = model.contextLength
        let terminal = TerminalModes(fileDescriptor: 0)
        let style = TextStyle(enabled: isatty(1) == 1 && (getenv("NO_COLOR").map { String(cString: $0).isEmpty } ?? true))

        var templateName: String?
        var prompter: ChatPrompt?
        if let template = try chatTemplate(options, session: model, note: note) {
            templateName = template.name
            // The server's ChatPrompt, so the terminal and the server turn a conversation into the same tokens:
            // special tokens are parsed in the template's own text only; what the user typed stays plain text
            // (typing "<|im_end|>" does not end the turn).
            prompter = ChatPrompt(template: template.template, tokenizer: tokenizer)
        }

        let generator = Generator(context: inference, tokenizer: tokenizer)
        generator.contextShiftKeep = options.contextShiftKeep
        let chat = ChatSession(generator: generator, prompter: prompter,
                                  sampling: options.samplingParameters, grammar: try options.constraintOptions.load(),
                                  maxTokens: options.nPredict, terminal: terminal, style: style)
        let editor = LineEditor(terminal: terminal)

        // The banner goes to stdout on a terminal; with piped input stdout carries only the answers.
        let banner: (String) -> Void = terminal != nil ? { Output.out($0) } : { if !options.logDisable { Output.err($0) } }
        let name = modelName(options, weights: weights)
        let mode = templateName.map { "chat template: \($0)" } ?? "no chat template: completion mode, each input continues the text"
        banner(style.bold("swiftfile chat") + " · \(name) · context \(contextLength) tokens · \(mode)\n")
        banner(style.dim("Enter sends; end a line with \\ to continue it. /help lists commands; Ctrl-C stops an answer; Ctrl-D or /exit quits.") + "\n")

        ChatInterrupt.install()
        defer { terminal?.set(.original) }
        if !options.unsecure { Sandbox.enter(weights: weights.resolved.origin, pool: inference.pool, note: note) }
        return chat.loop(editor: editor)
    }


    static func modelName(_ options: RunnerOptions, weights: LoadedWeights) -> String {
        if let name = (try? weights.gguf.string("general.name")) ?? nil, !name.isEmpty { return name }
        let path = options.model ?? CommandLine.arguments.first ?? "swiftfile"
        return path.split(separator: "/").last.map(String.init) ?? path
    }

    /// The chat template, or nil for completion mode: a model chats when --chat-template names a template,
    /// when its GGUF carries `tokenizer.chat_template`, or when its name says instruct/chat.
    static func chatTemplate(_ options: RunnerOptions, session: ModelSession,
                             note: (String) -> Void) throws -> (template: ChatTemplate, name: String)? {
        let own = (try? session.weights.gguf.string("tokenizer.chat_template")) ?? nil
        let name = (((try? session.weights.gguf.string("general.name")) ?? nil) ?? "").lowercased()
        let looksInstruct = ["instruct", "chat", "-it"].contains { name.contains($0) }
        guard options.serverOptions.chatTemplate != nil || own != nil || looksInstruct else { return nil }
        let template = try session.chatTemplate(options, note: note)
        let described: String
        if let choice = options.serverOptions.chatTemplate {
            described = choice
        } else if let own, template.source == own {
            described = "the model's own" + (ChatTemplate.detectBuiltinName(source: own).map { " (\($0)-style)" } ?? "")
        } else {
            described = "built-in " + (ChatTemplate.detectBuiltinName(source: template.source) ?? "format")
        }
        return (template, described)
    }
}

/// Set by SIGINT while an answer streams; read by the token callback, which then stops the answer.
///
/// A signal handler is a C function pointer: it cannot capture context, so the flag must be reachable
/// statically, and the only thing it may safely do is a lock-free atomic store (async-signal-safe). An
/// immutable `static let` holding an `Atomic` is that, with no mutable global.
enum ChatInterrupt {
    static let requested = Atomic<Bool>(false)

    static func install() {
        // Touch the lazily initialised static now, so the handler never runs its one-time initialisation.
        requested.store(false, ordering: .relaxed)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in ChatInterrupt.requested.store(true, ordering: .relaxed) }
        sigemptyset(&action.sa_mask)
        // No SA_RESTART: a blocked read of piped stdin returns EINTR, so Ctrl-C there is seen too.
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
    }

    /// Clears and returns the flag.
    static func take() -> Bool { requested.exchange(false, ordering: .relaxed) }
}

/// ANSI styles, or plain text when colours are off (stdout not a terminal, or NO_COLOR set).
struct TextStyle {
    let enabled: Bool
    func wrap(_ text: String, _ code: String) -> String { enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
    func bold(_ text: String) -> String { wrap(text, "1") }
    func dim(_ text: String) -> String { wrap(text, "2") }
    func error(_ text: String) -> String { wrap(text, "31") }
    var promptCode: String? { enabled ? "1;32" : nil }
}

/// The conversation and its commands.
final class ChatSession {
    let generator: Generator
    /// nil: completion mode.
    let prompter: ChatPrompt?
    let sampling: SamplingParameters
    /// Every answer follows this grammar (--grammar, --json-schema).
    let grammar: Grammar?
    let maxTokens: Int
    let terminal: TerminalModes?
    let style: TextStyle

    private var systemPrompt: String?
    private var messages: [ChatMessage] = []
    /// Completion mode: the one growing text.
    private var document = ""
    private var lastTimings: GenerationTimings?
    private var lastContextUsed = 0
    private var lastReused = 0
    /// What the generator's KV cache holds (mirrors its own record), so long prompts are read in steps from
    /// where the cache ends.
    private var evaluated: [Int] = []

    /// Completion mode with -n -1 would run a base model to the end of the context on every input.
    static let completionTurnTokens = 256

    init(generator: Generator, prompter: ChatPrompt?, sampling: SamplingParameters, grammar: Grammar?, maxTokens: Int,
         terminal: TerminalModes?, style: TextStyle) {
        self.generator = generator
        self.prompter = prompter
        self.sampling = sampling
        self.grammar = grammar
        self.maxTokens = maxTokens
        self.terminal = terminal
        self.style = style
    }

    var contextLength: Int { generator.context.contextLength }

    /// Reads and answers until /exit, Ctrl-D, the end of piped input, or Ctrl-C twice at the prompt.
    func loop(editor: LineEditor) -> Int32 {
        let prompt = EditorPrompt("> ", style: style.promptCode)
        let continuation = EditorPrompt("… ", style: style.promptCode)
        var interruptedAtPrompt = false
        while true {
            let input = editor.readMessage(prompt: prompt, continuation: continuation)
            switch input {
            case .endOfInput:
                return 0
            case .interrupted:
                // Piped input has no line to clear: Ctrl-C ends the program as it would any filter.
                if !editor.isInteractive || interruptedAtPrompt { return 130 }
                interruptedAtPrompt = true
                Output.out(style.dim("(Ctrl-C again, Ctrl-D or /exit to quit)") + "\n")
                continue
            case .message(let text):
                interruptedAtPrompt = false
                if text.hasPrefix("/") && !text.hasPrefix("//") {
                    if !command(text) { return 0 }
                } else if !text.isEmpty {
                    answer(text.hasPrefix("//") ? String(text.dropFirst()) : text)
                }
            }
        }
    }

    /// Runs a slash command; false means quit.
    private func command(_ line: String) -> Bool {
        let trimmed = line.trimming(characters: " \t\r\n")
        let name = String(trimmed.prefix { !$0.isWhitespace })
        let argument = String(trimmed.dropFirst(name.count)).trimming(characters: " \t\r\n")
        switch name {
        case "/exit", "/quit":
            return false
        case "/help":
            info("""
                /help          this list
                /clear         start a new conversation
                /stats         speed of the last answer and context used
                /system TEXT   set the system prompt and start a new conversation (/system alone removes it)
                /exit          quit (also Ctrl-D on an empty line)
                Enter sends; a line ending with \\ continues on the next line; pasting several lines keeps them
                in one message. Up/Down recall earlier lines; Ctrl-A/E start/end, Ctrl-K/U/W delete.
                Ctrl-C stops an answer; at the prompt it clears the line, twice quits. Start with // to send a /.
                """)
        case "/clear":
            messages.removeAll()
            document = ""
            info("new conversation")
        case "/stats":
            showStats()
        case "/system":
            guard prompter != nil else { info("completion mode has no system prompt"); break }
            systemPrompt = argument.isEmpty ? nil : argument
            messages.removeAll()
            info(argument.isEmpty ? "system prompt removed; new conversation" : "system prompt set: \(argument)\nnew conversation")
        default:
            info("unknown command \(name); /help lists the commands")
        }
        return true
    }

    private func showStats() {
        guard let timings = lastTimings else { info("no answer yet"); return }
        info(String(format3: "prefill: %d tokens in %.1f ms, %.2f tokens/s (%d reused from the cache)\n",
                    timings.promptTokens, timings.promptMilliseconds, timings.promptTokensPerSecond, lastReused)
             + String(format3: "generation: %d tokens in %.1f ms, %.2f tokens/s\n",
                      timings.generatedTokens, timings.generationMilliseconds, timings.generationTokensPerSecond)
             + "context: \(lastContextUsed) of \(contextLength) tokens used")
    }

    private func info(_ text: String) { Output.out(style.dim(text) + "\n") }

    /// Sends one user message (or continues the text in completion mode) and streams the answer.
    private func answer(_ text: String) {
        let prompt: [Int]
        if let prompter {
            messages.append(ChatMessage(role: "user", content: text))
            guard let tokens = chatTokens(prompter) else { messages.removeLast(); return }
            prompt = tokens
        } else {
            let tokenizer = generator.tokenizer
            let tokens = tokenizer.encode(document + text, addBOS: tokenizer.addBOS, parseSpecial: false)
            guard !tokens.isEmpty else { return }
            guard tokens.count < contextLength else {
                info("the text fills the context of \(contextLength) tokens; /clear starts over")
                return
            }
            document += text
            prompt = tokens
        }

        _ = ChatInterrupt.take()
        terminal?.set(.answering)
        defer { terminal?.set(.original) }
        var reply = ""
        var offered: [Int] = []
        let limit = prompter == nil && maxTokens < 0 ? Self.completionTurnTokens : maxTokens
        do {
            let (interrupted, promptTimings) = try evaluateLongPrompt(prompt)
            var timings = promptTimings
            var reason = StopReason.cancelled
            if !interrupted {
                var display = ToolCallDisplay()
                let (stop, last) = try generator.generate(prompt: prompt, maxTokens: limit, sampling: sampling, grammar: grammar) { token in
                    if ChatInterrupt.requested.load(ordering: .relaxed) { return false }
                    if token.id >= 0 { offered.append(token.id) }
                    Output.out(display.feed(token.text, style: style))
                    reply += token.text
                    return true
                }
                Output.out(display.finish(style: style))
                reason = stop
                timings.promptTokens += last.promptTokens
                timings.promptMilliseconds += last.promptMilliseconds
                timings.generatedTokens = last.generatedTokens
                timings.generationMilliseconds = last.generationMilliseconds
                // The last token offered is never evaluated: generation ended on it. After a context shift the
                // cache holds only the kept prefix of this prompt in place.
                let shifted = generator.lastShifts
                evaluated = shifted.count > 0 ? Array(prompt.prefix(shifted.kept)) : prompt + offered.dropLast()
            }
            lastTimings = timings
            lastReused = prompt.count - timings.promptTokens
            lastContextUsed = min(contextLength, prompt.count + timings.generatedTokens)
            if !reply.isEmpty && !reply.hasSuffix("\n") { Output.out("\n") }
            let shifts = generator.lastShifts
            if !interrupted, shifts.count > 0 {
                info("[context shift: the context filled; \(shifts.dropped) tokens after the first \(shifts.kept) were dropped]")
            }
            switch reason {
            case .cancelled: info("[stopped]")
            case .contextFull:
                let hint = generator.contextShiftKeep == nil ? " (or --context-shift to go on when it fills)" : ""
                info("[the context of \(contextLength) tokens is full; /clear starts a new conversation\(hint)]")
            case .length, .endOfGeneration: break
            }
        } catch {
            Output.out("\n" + style.error("error: \(error)") + "\n")
        }
        _ = ChatInterrupt.take()
        if prompter != nil {
            messages.append(ChatMessage(role: "assistant", content: reply))
        } else {
            document += reply
        }
        if terminal != nil { Output.out("\n") }
    }

    /// Evaluates all but the last batch of a prompt that is longer than one batch beyond what the cache already
    /// holds, one batch per `generate` call (no tokens sampled), so Ctrl-C is seen between batches and a
    /// progress line can be drawn. Returns whether Ctrl-C stopped it, and the prompt timings so far.
    private func evaluateLongPrompt(_ prompt: [Int]) throws -> (interrupted: Bool, timings: GenerationTimings) {
        var timings = GenerationTimings()
        let step = max(1, generator.context.maxBatch)
        var done = 0
        while done < min(evaluated.count, prompt.count) && evaluated[done] == prompt[done] { done += 1 }
        guard prompt.count - done > step else { return (false, timings) }
        defer { if terminal != nil { Output.out("\r\u{1B}[K") } }
        while prompt.count - done > step {
            if ChatInterrupt.requested.load(ordering: .relaxed) { return (true, timings) }
            if terminal != nil { Output.out("\r" + style.dim("[reading the prompt: \(done) of \(prompt.count) tokens]")) }
            let end = done + step
            let (_, chunk) = try generator.generate(prompt: Array(prompt[..<end]), maxTokens: 0, sampling: sampling) { _ in true }
            timings.promptTokens += chunk.promptTokens
            timings.promptMilliseconds += chunk.promptMilliseconds
            evaluated = Array(prompt[..<end])
            done = end
        }
        return (false, timings)
    }

    /// The conversation's prompt tokens; the oldest turns are dropped while it does not leave room for an answer.
    private func chatTokens(_ prompter: ChatPrompt) -> [Int]? {
        // Room for at least a short answer, so a conversation near the end of the context is trimmed early.
        let answerRoom = min(256, contextLength / 4)
        while true {
            let conversation = (systemPrompt.map { [ChatMessage(role: "system", content: $0)] } ?? []) + messages
            let tokens: [Int]
            do { tokens = try prompter.tokens(conversation) } catch {
                Output.out(style.error("error: \(error)") + "\n")
                return nil
            }
            if tokens.count + answerRoom <= contextLength { return tokens }
            guard messages.count > 1 else {
                if tokens.count < contextLength { return tokens }
                info("this message is \(tokens.count) tokens, more than the context of \(contextLength) holds")
                return nil
            }
            // Drop the oldest user turn and the assistant reply after it.
            messages.removeFirst(min(2, messages.count - 1))
            info("[the oldest turn was dropped to fit the context]")
        }
    }
}
