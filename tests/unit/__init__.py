"""Unit tests: one module of the packages at a time, no server, no network."""
