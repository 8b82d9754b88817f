"""Remote drivers, one small module per kind, found by URL scheme (muse.remote_registry)."""
