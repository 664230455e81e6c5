"""MovieLens data, title matching, the ALS model and its evaluation (no Telegram here)."""
