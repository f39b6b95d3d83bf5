"""Embedded infrastructure for zero-install runs (demo, tests on a bare machine)."""
