"""The package version, in a module of its own so any stage can read it without importing
the package root (whose API functions reach every stage)."""

__version__ = "0.1.0"
