"""CSV exports (streamed, formula-safe)."""
