"""sFlow v5: listener → decoder (pure) → records → points."""
