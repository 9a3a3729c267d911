"""Benchmarks: one command each, printing measurements side by side."""
