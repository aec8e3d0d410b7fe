"""Strategy plugins on one small interface (``strategies.base``), found by name
through ``strategies.registry``. Importing the package registers the built-ins."""

from strategies import ema_cross, mean_reversion  # noqa: F401  (register on import)
