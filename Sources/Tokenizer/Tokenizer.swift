// Tokenizer module: see DESIGN.md.
