"""kitetui: a trading desk in a terminal for Zerodha Kite."""

__version__ = "0.1.0"
