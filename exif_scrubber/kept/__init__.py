"""Kept items in the canonical form the engine checks."""
