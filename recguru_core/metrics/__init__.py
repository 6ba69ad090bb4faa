"""Measures: ranking metrics and paired bootstrap (`ranking`), the GUR spectrum and
uniformity (`spectrum`). Above nn."""
