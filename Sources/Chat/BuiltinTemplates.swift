/// Formats used when a model carries no `tokenizer.chat_template`, or chosen with `--chat-template NAME`.
extension ChatTemplate {
    static let builtinSources: [String: String] = [
        // Llama 3 / 3.1 / 3.2 instruct: BOS once, then a header per turn; content trimmed as Meta's template does.
        "llama3": """
            {{- bos_token }}{% for message in messages %}<|start_header_id|>{{ message.role }}<|end_header_id|>

            {{ message.content | trim }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>

            {% endif %}
            """ + "\n",
        "chatml": """
            {%- for message in messages %}<|im_start|>{{ message.role }}
            {{ message.content }}<|im_end|>
            {% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
            {% endif %}
            """ + "\n",
        // Llama 2 chat: the system prompt folds into the first user turn inside <<SYS>> markers.
        "llama2": """
            {%- set system = messages[0].content if messages and messages[0].role == 'system' else none %}
            {%- set turns = messages[1:] if system is not none else messages %}
            {%- for message in turns %}
            {%- if (message.role == 'user') != loop.index0 is even %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}
            {%- if message.role == 'user' %}
            {%- set prefix = ('<<SYS>>\\n' ~ system | trim ~ '\\n<</SYS>>\\n\\n') if loop.first and system is not none else '' %}
            {{- bos_token ~ '[INST] ' ~ prefix ~ message.content | trim ~ ' [/INST]' }}
            {%- else %}
            {{- ' ' ~ message.content | trim ~ ' ' ~ eos_token }}
            {%- endif %}
            {%- endfor %}
            """,
        // Mistral instruct (v0.1 style, as its HF template): no system role, so a system prompt prefixes the first user turn.
        "mistral": """
            {{- bos_token }}
            {%- set system = messages[0].content if messages and messages[0].role == 'system' else none %}
            {%- set turns = messages[1:] if system is not none else messages %}
            {%- for message in turns %}
            {%- if message.role == 'user' %}
            {{- '[INST] ' ~ ((system | trim ~ '\\n\\n') if loop.first and system is not none else '') ~ message.content | trim ~ ' [/INST]' }}
            {%- else %}
            {{- message.content | trim ~ eos_token }}
            {%- endif %}
            {%- endfor %}
            """,
        // Gemma: "model" instead of "assistant"; system text prefixes the first user turn.
        "gemma": """
            {{- bos_token }}
            {%- set system = messages[0].content if messages and messages[0].role == 'system' else none %}
            {%- set turns = messages[1:] if system is not none else messages %}
            {%- for message in turns %}
            {%- set role = 'model' if message.role == 'assistant' else message.role %}
            {{- '<start_of_turn>' ~ role ~ '\\n' ~ ((system ~ '\\n\\n') if loop.first and system is not none else '') ~ message.content | trim ~ '<end_of_turn>\\n' }}
            {%- endfor %}
            {%- if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}
            """,
    ]

    public static var builtinNames: [String] { builtinSources.keys.sorted() }

    public static func builtin(_ name: String) -> ChatTemplate? {
        guard let source = builtinSources[name.lowercased()] else { return nil }
        return try? ChatTemplate(source: source)
    }

    /// Guesses which built-in format a Jinja source follows, from its marker tokens.
    public static func detectBuiltinName(source: String) -> String? {
        if source.contains("<|start_header_id|>") { return "llama3" }
        if source.contains("<|im_start|>") { return "chatml" }
        if source.contains("<start_of_turn>") { return "gemma" }
        if source.contains("[INST]") { return source.contains("<<SYS>>") ? "llama2" : "mistral" }
        return nil
    }
}
