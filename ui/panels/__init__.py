"""Widgets (st.*) that pages compose, one module per page family."""
