"""Records a real `swiftfile --chat` session on SmolLM2 through a pseudo-terminal and writes what the
terminal showed as plain text (docs/chat-transcript.txt by default), for the README.

    .venv/bin/python Tests/chat/make_transcript.py [OUTPUT]
"""
import io
import re
import sys
import time

import pexpect
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import KEY_UP, ROOT, Chat  # noqa: E402

CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z~])")


def screen_text(raw):
    """Replays carriage returns, line feeds, cursor-forward and erase-to-end so each line reads as drawn."""
    lines, line, column, index = [], [], 0, 0
    while index < len(raw):
        match = CSI.match(raw, index)
        if match:
            parameters, final = match.groups()
            if final == "C":
                column += int(parameters or "1")
            elif final == "K":
                del line[column:]
            index = match.end()
            continue
        character = raw[index]
        index += 1
        if character == "\r":
            column = 0
        elif character == "\n":
            lines.append("".join(line).rstrip())
            line, column = [], 0
        elif character >= " ":
            while len(line) < column:
                line.append(" ")
            if column < len(line):
                line[column] = character
            else:
                line.append(character)
            column += 1
    if line:
        lines.append("".join(line).rstrip())
    return "\n".join(lines) + "\n"


def main():
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/chat-transcript.txt"
    log = io.StringIO()
    chat = Chat(tokens=200, log=log)
    for line in ["/system You are a helpful assistant.", "What is the capital of France?",
                 "What is it famous for? Answer in one sentence.", "/stats",
                 "/system You are a poet. Answer in two short lines.", "Describe the sea."]:
        chat.ask(line)
    chat.send_line("Write a long story about a robot.")
    chat.child.expect(r"robot\.[^\n]*\n")
    chat.child.expect(r"\w+ \w+ \w+ \w+ \w+ \w+ \w+ \w+ \w+ \w+")
    time.sleep(1)
    chat.child.sendintr()
    chat.wait_prompt()
    chat.child.send(KEY_UP)
    chat.child.expect("Write a long story")
    chat.child.send("\x15/exit\r")   # Ctrl-U clears the recalled line
    chat.child.expect(pexpect.EOF)
    chat.child.close()
    output.parent.mkdir(parents=True, exist_ok=True)
    text = screen_text(log.getvalue())
    output.write_text("$ swiftfile -m SmolLM2-135M-Instruct.Q4_1.gguf --chat --temp 0 -c 2048\n" + text)
    print(f"wrote {output} ({len(text)} characters, exit status {chat.child.exitstatus})")


if __name__ == "__main__":
    main()
