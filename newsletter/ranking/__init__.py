"""Per-subscriber ranking of an edition's candidate papers."""
