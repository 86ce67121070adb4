"""Benchmarks of colonies-sync beside pycolonies: ``python -m bench`` (see docs/benchmarks.md)."""
