"""The Muse hub: a stateless HTTP server over an index database and a blob store (docs/hub.md)."""
