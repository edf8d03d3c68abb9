#!/usr/bin/env python3
"""Print (or write) the tokenizer.chat_template string stored in a GGUF file.

Usage: extract_template.py MODEL.gguf [OUT.jinja]
Needs the `gguf` package (Tools/setup-venv.sh creates .venv with it).
"""
import sys

from gguf import GGUFReader


def read_chat_template(path: str) -> str:
    reader = GGUFReader(path)
    field = reader.fields.get("tokenizer.chat_template")
    if field is None:
        raise SystemExit(f"{path}: no tokenizer.chat_template key")
    # A string field keeps its bytes in the part named by the last data index.
    return bytes(field.parts[field.data[-1]]).decode("utf-8")


def main() -> None:
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    text = read_chat_template(sys.argv[1])
    if len(sys.argv) == 3:
        with open(sys.argv[2], "w", encoding="utf-8", newline="") as out:
            out.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
