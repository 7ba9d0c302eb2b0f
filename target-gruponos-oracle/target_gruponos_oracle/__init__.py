"""Singer target loading WMS streams into Oracle (SQLite as the embedded default)."""
