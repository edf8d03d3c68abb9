"""`swiftfile --chat` through a pseudo-terminal on SmolLM2-135M-Instruct: answers, commands, Ctrl-C,
history and line editing."""
import re
import time

import pexpect

from conftest import CTRL, KEY_DELETE, KEY_DOWN, KEY_END, KEY_HOME, KEY_LEFT, KEY_RIGHT, KEY_UP, Chat


# Greedy SmolLM2 (Q4_1) with its default system prompt starts this answer near a tie ("The" vs "L'"); the
# plain system prompt below makes "The capital of France is Paris." a clear first choice.
HELPFUL = "/system You are a helpful assistant."


def test_answers_capital_of_france(chat):
    chat.ask(HELPFUL)
    answer = chat.ask("What is the capital of France?")
    assert "Paris" in answer, answer


def test_stats_before_and_after_an_answer(chat):
    assert "no answer yet" in chat.ask("/stats")
    chat.ask("What is the capital of France?")
    stats = chat.ask("/stats")
    prefill = re.search(r"prefill: (\d+) tokens in ([\d.]+) ms, ([\d.]+) tokens/s \((\d+) reused", stats)
    generation = re.search(r"generation: (\d+) tokens in ([\d.]+) ms, ([\d.]+) tokens/s", stats)
    context = re.search(r"context: (\d+) of 2048 tokens used", stats)
    assert prefill and generation and context, stats
    prompt_tokens, generated = int(prefill.group(1)), int(generation.group(1))
    assert prompt_tokens > 10 and float(prefill.group(3)) > 0
    assert generated > 0 and float(generation.group(3)) > 0
    # Context used = the whole prompt (evaluated + reused) plus the answer.
    assert int(context.group(1)) == prompt_tokens + int(prefill.group(4)) + generated


def test_second_turn_reuses_the_cached_conversation(chat):
    chat.ask("What is the capital of France?")
    first = re.search(r"context: (\d+) of", chat.ask("/stats"))
    chat.ask("And of Germany?")
    stats = chat.ask("/stats")
    reused = re.search(r"\((\d+) reused", stats)
    assert first and reused, stats
    # Everything before the first answer's end-of-turn token is still in the KV cache.
    assert int(reused.group(1)) >= int(first.group(1)) - 2, stats


def test_system_prompt_is_acknowledged_and_changes_the_answer(chat):
    plain = chat.ask("Say hello.")
    reply = chat.ask("/system You are a pirate. Always talk like a pirate, say Arrr.")
    assert "system prompt set: You are a pirate. Always talk like a pirate, say Arrr." in reply
    assert "new conversation" in reply
    pirate = chat.ask("Say hello.")
    assert pirate.strip() and pirate != plain, (plain, pirate)
    removed = chat.ask("/system")
    assert "system prompt removed" in removed


def test_clear_and_unknown_command_and_help(chat):
    assert "new conversation" in chat.ask("/clear")
    assert "unknown command /nope" in chat.ask("/nope")
    help_text = chat.ask("/help")
    for command in ("/help", "/clear", "/stats", "/system TEXT", "/exit"):
        assert command in help_text


def test_ctrl_c_stops_the_answer_not_the_program():
    chat = Chat(tokens=1500)
    try:
        chat.send_line("Write a very long story about a dragon who learns to cook, with many chapters.")
        chat.child.expect(r"chapters\.[^\n]*\n")                   # the end of the echoed line
        chat.child.expect(r"\w+ \w+ \w+ \w+", timeout=60)   # the answer is streaming
        started = time.monotonic()
        chat.child.sendintr()
        after = chat.wait_prompt(timeout=30)
        assert "[stopped]" in after, after
        assert time.monotonic() - started < 5
        assert chat.child.isalive()
        chat.ask(HELPFUL)
        assert "Paris" in chat.ask("What is the capital of France?")
    finally:
        chat.close()


def test_ctrl_c_at_the_prompt_clears_the_line_and_twice_exits():
    chat = Chat()
    chat.child.send("some half-typed words")
    chat.child.send(CTRL["c"])
    chat.child.expect(r"\^C")
    after = chat.wait_prompt()
    assert "Ctrl-C again" in after
    # The cleared line is gone: typing a command now runs it alone.
    assert "system prompt set: fresh" in chat.ask("/system fresh")
    chat.child.send(CTRL["c"])
    chat.child.expect(r"\^C")
    chat.wait_prompt()
    chat.child.send(CTRL["c"])
    chat.child.expect(pexpect.EOF, timeout=10)
    chat.child.close()
    assert chat.child.exitstatus == 130


def test_up_arrow_recalls_the_previous_line(chat):
    chat.ask("/system alpha")
    chat.ask("/system beta")
    chat.child.send(KEY_UP + KEY_UP)
    reply = chat.ask("")
    assert "system prompt set: alpha" in reply, reply
    # Up then Down comes back to the line being typed.
    chat.child.send("/system gam")
    chat.child.send(KEY_UP + KEY_DOWN)
    assert "system prompt set: gamma" in chat.ask("ma")


def test_line_editing_keys(chat):
    # Left/Right and insertion in the middle.
    chat.child.send("/system bc" + KEY_LEFT + KEY_LEFT + "a" + KEY_RIGHT + KEY_RIGHT + "d")
    assert "system prompt set: abcd" in chat.ask("")
    # Home/End (escape sequences and Ctrl-A/Ctrl-E), Delete.
    chat.child.send("system x" + KEY_HOME + "/" + KEY_END + "y" + CTRL["a"] + KEY_DELETE + "/" + CTRL["e"] + "z")
    assert "system prompt set: xyz" in chat.ask("")
    # Ctrl-U clears before the cursor, Ctrl-K after it, Ctrl-W deletes the word before the cursor.
    chat.child.send("junk" + CTRL["u"] + "/system one two three" + CTRL["w"] + "four")
    assert "system prompt set: one two four" in chat.ask("")
    chat.child.send("/system keep" + KEY_LEFT * 2 + CTRL["k"])
    assert "system prompt set: ke\r\n" in chat.ask("")


def test_utf8_editing_moves_by_character(chat):
    # "é" typed as two bytes, "👍🏽" as one emoji with a skin-tone modifier: one backspace removes each.
    chat.child.send("/system café 👍🏽" + "\x7f")
    assert "system prompt set: café\r\n" in chat.ask("")   # the space left over is trimmed
    chat.child.send("/system naïve" + KEY_LEFT * 2 + "\x7f")
    assert "system prompt set: nave" in chat.ask("")


def test_multiline_with_backslash_and_bracketed_paste(chat):
    chat.send_line("/system first line\\")
    chat.child.expect("… ")
    reply = chat.ask("second line")
    assert "system prompt set: first line\r\nsecond line" in reply, reply
    # A bracketed paste of two lines keeps both in one message; Enter sends it.
    chat.child.send("\x1b[200~/system pasted one\rpasted two\x1b[201~")
    reply = chat.ask(" and more")
    assert "system prompt set: pasted one\r\npasted two and more" in reply, reply


def test_exit_command_exits_zero():
    chat = Chat()
    chat.send_line("/exit")
    chat.child.expect(pexpect.EOF, timeout=10)
    chat.child.close()
    assert chat.child.exitstatus == 0


def test_ctrl_d_on_an_empty_line_exits_zero():
    chat = Chat()
    chat.child.send("abc" + CTRL["a"] + CTRL["d"])   # Ctrl-D on a non-empty line deletes a character
    assert "unknown command /bc" in chat.ask(CTRL["a"] + "/")
    chat.child.send(CTRL["d"])
    chat.child.expect(pexpect.EOF, timeout=10)
    chat.child.close()
    assert chat.child.exitstatus == 0


def test_colours_only_without_no_color():
    coloured = Chat(color=True)
    try:
        assert "\x1b[1mswiftfile chat\x1b[0m" in coloured.banner
        coloured.send_line("/clear")
        coloured.child.expect("\x1b\\[2mnew conversation")
    finally:
        coloured.close()
    plain = Chat(color=False)
    try:
        plain.send_line("/clear")
        plain.child.expect("new conversation")
        assert "\x1b[1m" not in plain.banner and "\x1b[2m" not in plain.child.before
    finally:
        plain.close()


LONG_TEXT = " ".join(f"Item {n} is a small blue box." for n in range(1, 46))   # about 400 tokens


def test_long_pasted_prompt_is_read_in_batches_and_ctrl_c_stops_it():
    chat = Chat("-b", "32")
    try:
        chat.child.send("\x1b[200~" + LONG_TEXT + "\x1b[201~\r")
        chat.child.expect(r"\[reading the prompt: \d+ of \d+ tokens\]", timeout=60)
        chat.child.sendintr()
        assert "[stopped]" in chat.wait_prompt(timeout=30)
        # A long prompt read to the end: every token is counted once in the prefill statistics.
        chat.ask("/clear")
        chat.child.send("\x1b[200~" + LONG_TEXT + "\x1b[201~\r")
        chat.wait_prompt(timeout=300)
        stats = chat.ask("/stats")
        prefill = re.search(r"prefill: (\d+) tokens .* \((\d+) reused", stats)
        context = re.search(r"context: (\d+) of", stats)
        generated = re.search(r"generation: (\d+) tokens", stats)
        assert prefill and context and generated, stats
        assert int(prefill.group(1)) > 400
        assert int(prefill.group(1)) + int(prefill.group(2)) + int(generated.group(1)) == int(context.group(1))
    finally:
        chat.close()


def test_a_line_wider_than_the_terminal_scrolls_sideways(chat):
    chat.child.send("/system " + "a" * 200)
    chat.child.expect("a" * 100)
    chat.child.send(CTRL["a"] + KEY_RIGHT * 8 + "b")
    chat.child.expect(r"baaa[^\r]*\r\x1b\[11C")   # the cursor drawn right after the inserted "b"
    # Every redraw fits the 120 columns of the pseudo-terminal (the prompt takes 2, one column stays free).
    drawn = [Chat.plain(segment) for segment in (chat.child.before + chat.child.after).split("\r")]
    assert max(len(segment) for segment in drawn) <= 119, drawn
    assert any(segment.startswith("> /system baaa") for segment in drawn), drawn
    reply = chat.ask("")
    assert "system prompt set: b" + "a" * 200 in reply.replace("\r\n", "")


def prompt_length(stats):
    prefill = re.search(r"prefill: (\d+) tokens .* \((\d+) reused", stats)
    assert prefill, stats
    return int(prefill.group(1)) + int(prefill.group(2))


def test_control_token_text_typed_by_the_user_stays_plain_text():
    chat = Chat(tokens=4)
    try:
        chat.ask("x")
        plain = prompt_length(chat.ask("/stats"))
        chat.ask("/clear")
        chat.ask("<|im_end|>")
        typed = prompt_length(chat.ask("/stats"))
        # "x" is one token; "<|im_end|>" as text is several (as the control token it would be one).
        assert typed - plain >= 3, (plain, typed)
    finally:
        chat.close()
