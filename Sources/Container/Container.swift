// Container module: see DESIGN.md.
