"""`swiftfile --chat` with piped stdin (no terminal), and the completion fallback for a base model."""
import signal
import subprocess

from conftest import BASE_MODEL, BIN, MODEL, ROOT, Chat, chat_arguments, require_files


def run_piped(text, *extra, model=MODEL):
    require_files(model)
    return subprocess.run([str(BIN), *chat_arguments(model, "-n", "64", *extra)], input=text, capture_output=True,
                          text=True, timeout=300)


def test_piped_questions_are_answered_in_order():
    result = run_piped("/system You are a helpful assistant.\nWhat is the capital of France?\nWhat is 2 plus 2?\n")
    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout, result.stdout
    # Two answers, and nothing but answers on stdout: no prompt, no banner, no colour.
    assert "\x1b" not in result.stdout and "> " not in result.stdout and "swiftfile chat" not in result.stdout
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines[:2] == ["system prompt set: You are a helpful assistant.", "new conversation"], lines
    assert len(lines) >= 4, result.stdout


def test_piped_commands_and_continuation():
    result = run_piped("/system You are terse.\\\nVery terse.\n/stats\nWhat is the capital of France?\n/stats\n/exit\nnot read\n")
    assert result.returncode == 0, result.stderr
    assert "system prompt set: You are terse.\nVery terse." in result.stdout
    assert "no answer yet" in result.stdout
    assert "generation: " in result.stdout and "tokens/s" in result.stdout


def test_piped_banner_goes_to_stderr_unless_log_disable():
    require_files(MODEL)
    result = subprocess.run([str(BIN), "-m", str(MODEL), "--chat", "-n", "8", "--temp", "0", "-c", "512"],
                            input="/exit\n", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert "swiftfile chat" in result.stderr and "context 512 tokens" in result.stderr
    assert result.stdout == ""


def test_a_full_context_stops_the_answer_or_shifts_with_context_shift():
    question = "Write a long story about a robot.\n"
    stopped = run_piped(question, "-c", "128", "-n", "300")
    assert stopped.returncode == 0, stopped.stderr
    assert "[the context of 128 tokens is full; /clear starts a new conversation (or --context-shift to go on when it fills)]" \
        in stopped.stdout, stopped.stdout
    shifted = run_piped(question, "-c", "128", "-n", "300", "--context-shift", "--keep", "-1")
    assert shifted.returncode == 0, shifted.stderr
    assert "is full" not in shifted.stdout
    # The whole prompt (the templated question) is kept; the answer's oldest tokens go.
    assert "[context shift: the context filled; " in shifted.stdout and " tokens after the first " in shifted.stdout, shifted.stdout
    assert len(shifted.stdout) > len(stopped.stdout)


def test_base_model_falls_back_to_completion():
    chat = Chat(model=BASE_MODEL, tokens=8)
    try:
        assert "completion mode" in chat.banner
        assert "completion mode has no system prompt" in chat.ask("/system be nice")
        text = chat.ask("The capital of France is")
        assert text.strip(), text
        stats = chat.ask("/stats")
        assert "generation: 8 tokens" in stats, stats
        # The second input continues the same text: the first turn's tokens are reused from the cache.
        chat.ask(" and")
        stats = chat.ask("/stats")
        assert "generation: 8 tokens" in stats and "(0 reused" not in stats, stats
    finally:
        chat.close()


def test_sigint_with_piped_input_stops_the_answer_and_reads_on():
    require_files(MODEL)
    process = subprocess.Popen([str(BIN), *chat_arguments(MODEL, "-n", "1500")], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        process.stdin.write(b"Write a very long story about a dragon who learns to cook, with many chapters.\n")
        process.stdin.flush()
        first = process.stdout.read(40)   # the answer is streaming
        assert first
        process.send_signal(signal.SIGINT)
        process.stdin.write(b"/stats\n/exit\n")
        process.stdin.flush()
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    output = (first + rest).decode()
    assert process.returncode == 0, output
    assert "[stopped]" in output and "generation: " in output, output
    generated = int(output.split("generation: ")[1].split(" ")[0])
    assert generated < 1500


def test_tool_call_text_is_shown_as_a_block():
    """A tool call the model writes (<tool_call>{…}</tool_call>, here forced by a grammar) is shown as a block: the
    function's name, then its arguments indented; the text before it streams as usual."""
    grammar = r'root ::= "Checking. <tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": [1, 2]}}</tool_call>"'
    result = run_piped("What is the weather in Paris?\n", "--grammar", grammar)
    assert result.returncode == 0, result.stderr
    assert "Checking. [tool call] get_weather\n{\n  \"city\": \"Paris\",\n  \"days\": [\n    1,\n    2\n  ]\n}\n" in result.stdout, result.stdout
    assert "<tool_call>" not in result.stdout


GEMMA = ROOT / ".cache/models/gemma-3-270m-q4_k_m.gguf"


def test_gemma3_chats_with_the_builtin_gemma_format():
    """Gemma 3 270M (architecture gemma3) is a base model without a template: --chat completes text unless
    --chat-template gemma asks for turns, which then end at <end_of_turn>."""
    require_files(GEMMA)
    base = subprocess.run([str(BIN), *chat_arguments(GEMMA, "-n", "12")], input="The capital of France is\n",
                          capture_output=True, text=True, timeout=300)
    assert base.returncode == 0, base.stderr
    assert base.stdout.startswith(" the capital of the country of France"), base.stdout
    turns = subprocess.run([str(BIN), "-m", str(GEMMA), "--chat", "--chat-template", "gemma", "--temp", "0", "-c", "2048",
                            "-n", "32"], input="What is the capital of France?\nAnd of Italy?\n", capture_output=True,
                           text=True, timeout=300)
    assert turns.returncode == 0, turns.stderr
    assert "chat template: gemma" in turns.stderr, turns.stderr
    answers = [line for line in turns.stdout.splitlines() if line.strip()]
    assert len(answers) >= 2 and "<end_of_turn>" not in turns.stdout, turns.stdout
