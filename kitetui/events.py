"""Every kind of event kitetui journals, declared once.

An ``Event`` (``kitetui.domain``) carries a ``kind`` and a payload (message, symbol,
engine, level, data); the journal stores the kind as its string. This catalogue is the
only place that spells one: code names ``EventKind.RUN_STARTED``, never ``"RunStarted"``
(``tests/test_events.py`` walks the source and fails on a kind spelt anywhere
else), so a misspelt kind cannot be journaled and every kind can be found from here.

``EventKind`` is a ``StrEnum``: a member *is* its string, so the journal, the log line
``kind=RunStarted``, the control socket's JSON and every reader of old journals see
exactly the strings they always did. Kinds are past tense (what happened); a few older
names are states or nouns (``DataGap``, ``PositionNaked``, ``ReconcileDrift``...): they
are kept as stored, since journals already hold them and readers filter on them.
"""

from __future__ import annotations

from enum import StrEnum, unique

__all__ = ["FEED_STATE_EVENTS", "EventKind"]


@unique
class EventKind(StrEnum):
    # -- the run ----------------------------------------------------------------------
    RUN_STARTED = "RunStarted"
    RUN_RESUMED = "RunResumed"
    KILL_SWITCH_PULLED = "KillSwitchPulled"  # journaled before its flatten goes out
    PREVIOUS_RUN_LEFT = "PreviousRunLeft"  # the last run, unfinished, left unresumed; what it held
    STATE_REBUILT = "StateRebuilt"  # a resumed run's book, orders, stops and risk
    SUPERVISOR_FAILED = "SupervisorFailed"
    COMMAND_EXECUTED = "CommandExecuted"  # a person's command, carried out
    COMMAND_REFUSED = "CommandRefused"

    # -- the session's clock ----------------------------------------------------------
    SPECIAL_SESSION = "SpecialSession"  # a trading day with its own hours (Muhurat...)
    DATA_ON_HOLIDAY = "DataOnHoliday"
    SQUARED_OFF = "SquaredOff"  # intraday positions closed at the segment's time
    SQUARED_OFF_ON_STOP = "SquaredOffOnStop"
    AUTO_SQUARED_OFF = "AutoSquaredOff"  # the broker squared off what we had not
    LEFT_TO_BROKER = "LeftToBroker"  # past the broker's MIS cut-off: its RMS closes it
    INTRADAY_CARRIED = "IntradayCarried"
    EXPIRY_SETTLED = "ExpirySettled"  # a contract held into its expiry, settled or left

    # -- the batch gate: data that does not pass ----------------------------------------
    TICK_SKIPPED = "TickSkipped"
    BAR_SKIPPED = "BarSkipped"
    DATA_GAP = "DataGap"
    UNKNOWN_SYMBOL = "UnknownSymbol"  # data for a symbol no master lists
    JUMP_CONFIRMED = "JumpConfirmed"  # a price jump confirmed by the prints after it
    SPIKE_REJECTED = "SpikeRejected"
    HELD_DROPPED = "HeldDropped"
    OPENING_GAP = "OpeningGap"  # an equity/future opens beyond the bands: a split?
    BAND_JUMP = "BandJump"  # an equity's confirmed move past the bands in a session

    # -- risk -------------------------------------------------------------------------
    RISK_REDUCED = "RiskReduced"
    RISK_BLOCKED = "RiskBlocked"
    RISK_HALTED = "RiskHalted"
    TRADING_HALTED = "TradingHalted"  # the daily loss limit
    SYMBOL_BLOCKED = "SymbolBlocked"  # a symbol's loss limit
    RISK_LIMIT_CHANGED = "RiskLimitChanged"  # a person changed a limit (set-limit)
    MARGINS_READ_FAILED = "MarginsReadFailed"  # Kite's margins() did not answer

    # -- orders -----------------------------------------------------------------------
    ORDER_SLICED = "OrderSliced"  # above freeze quantity: whole-lot children
    MANUAL_ORDER_PLACED = "ManualOrderPlaced"  # a person's order ticket, past the gate
    STOP_MOVED = "StopMoved"  # a person moved a position's protective stop
    ORDER_NOT_ACCEPTED = "OrderNotAccepted"
    ORDER_REJECTED = "OrderRejected"
    ORDER_MODIFIED = "OrderModified"
    ORDER_MODIFY_REFUSED = "OrderModifyRefused"
    ORDER_REVIVED = "OrderRevived"  # declared not placed, then listed by the broker
    ORDER_LAPSED = "OrderLapsed"  # a DAY order from an earlier session, never heard closed
    ORDER_UPDATE_SKIPPED = "OrderUpdateSkipped"
    FOREIGN_ORDER = "ForeignOrder"  # an order update for an order we did not place
    PLACEMENT_UNKNOWN = "PlacementUnknown"
    PLACEMENT_RESOLVED = "PlacementResolved"
    CANCEL_FAILED = "CancelFailed"
    PLACEMENT_ANSWERED_LATE = "PlacementAnsweredLate"  # live: an entry's answer took > 1 s
    CANCEL_DEFERRED = "CancelDeferred"  # asked while its placement was in flight or unknown
    LOGIN_REQUIRED = "LoginRequired"  # the token expired: nothing is sent until login
    RATE_LIMIT_WAITED = "RateLimitWaited"  # live: a stop, close or cancel stood at Kite's limits

    # -- exits and protection (rule 11) -------------------------------------------------
    STOP_FILLED = "StopFilled"
    STOP_REJECTED = "StopRejected"
    STOP_RETRY_SCHEDULED = "StopRetryScheduled"
    EXIT_MODIFY_REFUSED = "ExitModifyRefused"
    EXIT_RETRY_SCHEDULED = "ExitRetryScheduled"
    CLOSE_NOT_SENT = "CloseNotSent"  # Kite was flat already: its stop had filled first
    POSITION_NAKED = "PositionNaked"
    POSITION_COVERED = "PositionCovered"
    # an earlier day's exit order written off while Kite holds less of the position than
    # kitetui (it may have filled unheard): cover capped at Kite's, entries blocked
    POSITION_UNCONFIRMED = "PositionUnconfirmed"
    POSITION_CONFIRMED = "PositionConfirmed"  # Kite holds it all again (or it is flat)

    # -- venues: Kite, the feed, the reconciler -----------------------------------------
    KITE_TOKEN_LOADED = "KiteTokenLoaded"
    EXCHANGE_CLOCK_UNKNOWN = "ExchangeClockUnknown"
    OPENING_PRICES_UNREAD = "OpeningPricesUnread"  # the universe chosen without them
    EXIT_SERVICE_FAILED = "ExitServiceFailed"
    FINAL_POLL_FAILED = "FinalPollFailed"
    SUBSCRIPTION_REFUSED = "SubscriptionRefused"
    TICK_BATCH_DROPPED = "TickBatchDropped"
    FEED_CONNECTING = "FeedConnecting"
    FEED_CONNECTED = "FeedConnected"
    FEED_STALE = "FeedStale"
    FEED_RECONNECTING = "FeedReconnecting"
    FEED_CLOSED = "FeedClosed"
    RECONCILE_CLEAN = "ReconcileClean"
    RECONCILE_DRIFT = "ReconcileDrift"
    RECONCILE_FAILED = "ReconcileFailed"
    RECONCILE_RECOVERED = "ReconcileRecovered"

    # -- engines ----------------------------------------------------------------------
    ENGINE_FAILED = "EngineFailed"
    ENGINE_IDLE = "EngineIdle"  # nothing to trade today (NO CONTRACTS, IDLE): a state
    CONTRACT_RESOLVED = "ContractResolved"
    INSTRUMENT_MISSING = "InstrumentMissing"
    NO_DATA_FOR_CONTRACT = "NoDataForContract"
    OPTIONS_ROLLED = "OptionsRolled"
    UNIVERSE_SELECTED = "UniverseSelected"

    # -- loading data and masters -------------------------------------------------------
    ROW_SKIPPED = "RowSkipped"
    VOLUME_ROUNDED = "VolumeRounded"
    VOLUME_MISSING = "VolumeMissing"  # a candle file without a volume column: volume 0
    SERIES_ASSUMED = "SeriesAssumed"  # a vendor's NIFTY-I etc. taken as an undatable future
    ROWS_REORDERED = "RowsReordered"
    DUPLICATE_BARS_DROPPED = "DuplicateBarsDropped"
    BAR_OUTSIDE_SESSION = "BarOutsideSession"
    TICK_OUTSIDE_SESSION = "TickOutsideSession"
    NOT_GZIP = "NotGzip"
    SOURCE_EMPTY = "SourceEmpty"
    SOURCE_FILE_EMPTY = "SourceFileEmpty"
    LOAD_CACHE_DAMAGED = "LoadCacheDamaged"  # a parsed-data cache entry, rebuilt
    LOAD_CACHE_WRITE_FAILED = "LoadCacheWriteFailed"  # loading went on without the cache
    # A session's recording a killed run left cut short (mended) or damaged (set aside).
    RECORDING_MENDED = "RecordingMended"
    DUPLICATE_INSTRUMENTS_DROPPED = "DuplicateInstrumentsDropped"
    EXPIRY_FROM_SYMBOL = "ExpiryFromSymbol"
    EXPIRY_MISMATCH = "ExpiryMismatch"
    SYMBOL_UNPARSED = "SymbolUnparsed"
    UNDERLYING_UNLISTED = "UnderlyingUnlisted"
    CALENDAR_NOT_COVERED = "CalendarNotCovered"
    SESSION_MISSING = "SessionMissing"  # a calendar session the data has no row of
    SESSION_SHORT = "SessionShort"  # the data end long before the session's close

    # -- the control socket -----------------------------------------------------------
    CONTROL_SOCKET_RESTORED = "ControlSocketRestored"  # removed while running: re-bound
    CONTROL_SOCKET_TAKEN = "ControlSocketTaken"  # another file at its path: left alone

    # -- the database -----------------------------------------------------------------
    DATABASE_DIRECTORY_CREATED = "DatabaseDirectoryCreated"
    DATABASE_CHANGED_SINCE_CLOSE = "DatabaseChangedSinceClose"
    DATABASE_LINKED = "DatabaseLinked"  # the file has other names (hard links)
    DATABASE_PERMISSIONS_OPEN = "DatabasePermissionsOpen"
    DATABASE_PERMISSIONS_TIGHTENED = "DatabasePermissionsTightened"
    DATABASE_MIGRATED = "DatabaseMigrated"  # an older schema brought up to date
    DATABASE_NOT_COMPACTED = "DatabaseNotCompacted"  # a finished backtest's file left as is

    # -- charges ----------------------------------------------------------------------
    CHARGES_UNPRICED = "ChargesUnpriced"  # a fill the rate table cannot price
    CHARGES_MISMATCHED = "ChargesMismatched"  # ours differ from Kite's contract note
    CONTRACT_NOTE_CHECKED = "ContractNoteChecked"
    CONTRACT_NOTE_CHECK_FAILED = "ContractNoteCheckFailed"

    # -- alerts and backtests ---------------------------------------------------------
    ALERTS_SUPPRESSED = "AlertsSuppressed"  # over the hook's rate: counted, not sent
    ALERT_HOOK_FAILED = "AlertHookFailed"
    ALERT_HOOK_OFF = "AlertHookOff"  # a backtest or sweep point: its fills are not real
    BACKTEST_STARTED = "BacktestStarted"  # what the report needs: capital, strategies

    # -- the local exchange -----------------------------------------------------------
    SIM_INSTRUMENT_SYNTHESISED = "SimInstrumentSynthesised"


# The feed's state (``kitetui.market.kite_feed.FeedState``'s values) as the event that
# journals a change to it.
FEED_STATE_EVENTS: dict[str, EventKind] = {
    "CONNECTING": EventKind.FEED_CONNECTING,
    "CONNECTED": EventKind.FEED_CONNECTED,
    "STALE": EventKind.FEED_STALE,
    "RECONNECTING": EventKind.FEED_RECONNECTING,
    "CLOSED": EventKind.FEED_CLOSED,
}
