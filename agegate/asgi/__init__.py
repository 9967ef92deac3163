"""The ASGI door: the gate that screens requests before an app sees them."""

from .notice import Notice

__all__ = ["Notice"]
