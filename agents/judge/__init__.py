"""The judge model that rates sessions (evaluation)."""

from .judge import DEFAULT_VERSION, Judge, dimensions

__all__ = ["DEFAULT_VERSION", "Judge", "dimensions"]
