"""The `agegate` command."""

from .main import main

__all__ = ["main"]
