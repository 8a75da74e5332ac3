"""Benchmark suites behind ``make bench`` (speed targets live here, never in unit tests)."""
