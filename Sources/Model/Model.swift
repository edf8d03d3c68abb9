// Model module: see DESIGN.md.
