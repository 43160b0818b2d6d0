"""Scenario files: loading, validating and expanding them into runs."""
