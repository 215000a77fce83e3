"""engine.midi (see DESIGN.md)."""
