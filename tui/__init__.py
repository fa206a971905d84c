"""The Textual app (`mia chat`)."""
