"""engine.scoring (see DESIGN.md)."""
