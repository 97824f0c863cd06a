"""The province's sync server: receives kiosk batches, keeps the unit registry, reports results."""

__version__ = "0.1.0"
