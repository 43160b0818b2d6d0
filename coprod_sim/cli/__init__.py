"""The ``coprod`` command."""
