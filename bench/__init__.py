"""Benchmarks of the project (run from the repository root; nothing here is a test)."""
