"""Helpers shared by test modules (import as `helpers.x`; tests/ is on pytest's pythonpath)."""
