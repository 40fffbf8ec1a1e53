"""The service layer: one async API per language pair over the engines (batching, caches, sessions, metrics)."""
