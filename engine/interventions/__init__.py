"""engine.interventions (see DESIGN.md)."""
