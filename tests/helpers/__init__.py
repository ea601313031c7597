"""Helpers imported by tests (e.g. functions for the Python task type)."""
