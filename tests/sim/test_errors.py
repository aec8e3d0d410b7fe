"""kitetui.sim.errors: the three helpers are Kite's envelopes (status + error_type)."""

from __future__ import annotations

import pytest

from kitetui.sim.errors import KiteError, input_error, order_error, token_error


@pytest.mark.parametrize(
    ("error", "status", "error_type", "message"),
    [
        (input_error("Invalid `price`."), 400, "InputException", "Invalid `price`."),
        (
            order_error("Order cannot be cancelled."),
            400,
            "OrderException",
            "Order cannot be cancelled.",
        ),
        (token_error(), 403, "TokenException", "Incorrect `api_key` or `access_token`."),
        (token_error("Invalid `checksum`."), 403, "TokenException", "Invalid `checksum`."),
    ],
)
def test_helper_with_message_builds_kites_envelope(error, status, error_type, message):
    assert isinstance(error, KiteError)
    assert (error.status, error.error_type, error.message, str(error)) == (
        status,
        error_type,
        message,
        message,
    )
