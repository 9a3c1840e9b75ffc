"""The embedded sample corpus."""
