"""Strategy plugins on one small interface (``strategies.base``), found by name
through ``strategies.registry``. Importing the package registers the built-ins."""

from strategies import (  # noqa: F401  (register on import)
    ema_cross,
    fno_intraday_trend,
    htf_trend,
    mean_reversion,
    rsi_pullback,
    supertrend,
    vol_regime,
    vwap_filter,
)
