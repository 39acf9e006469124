"""The one exception the store raises on purpose."""

from __future__ import annotations


class StoreError(Exception):
    """The store refused an operation or could not be reached: a message for a person,
    naming the database without its password. The CLI shows it as one line, the API as 503."""
