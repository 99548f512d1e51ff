"""Shared constants for test users."""

PASSWORD = "correct-horse-battery-staple"
