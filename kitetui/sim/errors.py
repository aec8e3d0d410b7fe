"""Kite's error envelope, raised inside the sim and answered by the REST layer.

Every refusal the sim makes is one of Kite's typed errors: an HTTP status plus the
``error_type`` the official client maps to its exception classes
(``InputException`` -> ``kiteconnect.exceptions.InputException`` and so on), so a
client cannot tell the sim's refusal from Kite's. The helpers name the three the
sessions and order gates raise most.
"""

from __future__ import annotations

__all__ = ["KiteError", "input_error", "order_error", "token_error"]


class KiteError(Exception):
    """An error answered with Kite's envelope: HTTP ``status`` + ``error_type``."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def input_error(message: str) -> KiteError:
    """A malformed or refused request field (HTTP 400)."""
    return KiteError(400, "InputException", message)


def order_error(message: str) -> KiteError:
    """An order that cannot take this action in its state (HTTP 400)."""
    return KiteError(400, "OrderException", message)


def token_error(message: str = "Incorrect `api_key` or `access_token`.") -> KiteError:
    """A bad, expired or revoked credential (HTTP 403)."""
    return KiteError(403, "TokenException", message)
