"""The SQLite schema as an ordered list of forward migrations.

``PRAGMA user_version`` is the index of the last migration applied. Migrations only
ever append: a database written by an older kitetui is upgraded in place inside one
transaction, and one written by a newer kitetui is refused rather than guessed at.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the spine — runs, the order/fill ledger, journals, risk state, checkpoints.
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        mode TEXT NOT NULL,
        config_path TEXT NOT NULL,
        config_hash TEXT NOT NULL,
        status TEXT NOT NULL,            -- RUNNING / FINISHED / STOPPED / FAILED
        started_wall_ns INTEGER NOT NULL,
        ended_wall_ns INTEGER,
        cursor_ns INTEGER NOT NULL DEFAULT 0,  -- data time of the last fully processed batch
        restarts INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE orders (
        tag TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        engine TEXT NOT NULL,
        symbol TEXT NOT NULL,
        exchange TEXT NOT NULL,
        side TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        order_type TEXT NOT NULL,
        product TEXT NOT NULL,
        purpose TEXT NOT NULL,
        status TEXT NOT NULL,
        ts_ns INTEGER NOT NULL,
        price REAL NOT NULL,
        trigger_price REAL NOT NULL,
        stop_price REAL NOT NULL,
        filled_qty INTEGER NOT NULL,
        avg_price REAL NOT NULL,
        broker_order_id TEXT NOT NULL,
        signal_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        validity TEXT NOT NULL,
        variety TEXT NOT NULL,
        seq INTEGER NOT NULL
    );
    CREATE INDEX orders_run ON orders(run_id, seq);
    CREATE INDEX orders_open ON orders(run_id, status);
    CREATE TABLE order_events (
        id INTEGER PRIMARY KEY,
        tag TEXT NOT NULL,
        ts_ns INTEGER NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX order_events_tag ON order_events(tag);
    CREATE TABLE fills (
        fill_id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        run_id TEXT NOT NULL,
        tag TEXT NOT NULL,
        engine TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        price REAL NOT NULL,
        product TEXT NOT NULL,
        ts_ns INTEGER NOT NULL,
        clock_ns INTEGER NOT NULL         -- data clock when it was processed (for rebuilds)
    );
    CREATE INDEX fills_run ON fills(run_id, seq);
    CREATE TABLE signals (
        signal_id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        ts_ns INTEGER NOT NULL,
        engine TEXT NOT NULL,
        strategy TEXT NOT NULL,
        symbol TEXT NOT NULL,
        timeframe_s INTEGER NOT NULL,
        kind TEXT NOT NULL,
        price REAL NOT NULL,
        reason TEXT NOT NULL,
        confidence REAL NOT NULL,
        indicators TEXT NOT NULL          -- JSON object of the indicator snapshot
    );
    CREATE INDEX signals_run ON signals(run_id, ts_ns);
    CREATE TABLE risk_decisions (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        ts_ns INTEGER NOT NULL,
        signal_id TEXT NOT NULL,
        engine TEXT NOT NULL,
        symbol TEXT NOT NULL,
        purpose TEXT NOT NULL,
        side TEXT NOT NULL,
        requested_qty INTEGER NOT NULL,
        verdict TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        rule TEXT NOT NULL,
        reason TEXT NOT NULL,
        UNIQUE (run_id, signal_id, purpose)
    );
    CREATE TABLE risk_state (
        run_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,              -- JSON from RiskEngine.to_state()
        updated_ns INTEGER NOT NULL
    );
    CREATE TABLE desk_state (
        key TEXT PRIMARY KEY,             -- e.g. kill_switch: survives runs and restarts
        value TEXT NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        ts_ns INTEGER NOT NULL,
        kind TEXT NOT NULL,
        level TEXT NOT NULL,
        symbol TEXT NOT NULL,
        engine TEXT NOT NULL,
        message TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX events_run ON events(run_id, kind);
    CREATE TABLE positions (
        run_id TEXT NOT NULL,
        symbol TEXT NOT NULL,
        engine TEXT NOT NULL,
        product TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        avg_price REAL NOT NULL,
        last_price REAL NOT NULL,
        realized_paise INTEGER NOT NULL,
        unrealized_paise INTEGER NOT NULL,
        PRIMARY KEY (run_id, symbol)
    );
    CREATE TABLE equity_curve (
        run_id TEXT NOT NULL,
        ts_ns INTEGER NOT NULL,
        equity_paise INTEGER NOT NULL,
        PRIMARY KEY (run_id, ts_ns)
    );
    """,
    # 2: market structure — the instrument master cached per trading day, and each
    # engine's daily universe (what it chose to trade, and why it left the rest out).
    """
    CREATE TABLE instruments (
        trading_day TEXT NOT NULL,
        instrument_token INTEGER NOT NULL,
        exchange_token INTEGER NOT NULL,
        tradingsymbol TEXT NOT NULL,
        name TEXT NOT NULL,
        last_price REAL NOT NULL,
        expiry TEXT NOT NULL,
        strike REAL NOT NULL,
        tick_size REAL NOT NULL,
        lot_size INTEGER NOT NULL,
        instrument_type TEXT NOT NULL,
        segment TEXT NOT NULL,
        exchange TEXT NOT NULL,
        PRIMARY KEY (trading_day, instrument_token)
    );
    CREATE INDEX instruments_symbol ON instruments(trading_day, exchange, tradingsymbol);
    CREATE TABLE universe (
        run_id TEXT NOT NULL,
        trading_day TEXT NOT NULL,
        engine TEXT NOT NULL,
        symbol TEXT NOT NULL,
        selected INTEGER NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (run_id, trading_day, engine, symbol)
    );
    """,
    # 3: checksum chains over the rows recovery trusts (see kitetui/store/chain.py), and the
    # file's identity (see kitetui/store/verify.py). Every
    # chained row starts unsealed (chk = x''); the partial indexes find unsealed rows in
    # O(their number), and the migration seals the rows an older kitetui wrote in the
    # same transaction (database.py, after start-up has decoded every one of them).
    """
    ALTER TABLE runs ADD COLUMN link BLOB NOT NULL DEFAULT x'';
    ALTER TABLE runs ADD COLUMN chk BLOB NOT NULL DEFAULT x'';
    CREATE INDEX runs_unsealed ON runs(chk) WHERE chk = x'';
    ALTER TABLE orders ADD COLUMN link BLOB NOT NULL DEFAULT x'';
    ALTER TABLE orders ADD COLUMN chk BLOB NOT NULL DEFAULT x'';
    CREATE INDEX orders_unsealed ON orders(chk) WHERE chk = x'';
    ALTER TABLE order_events ADD COLUMN chk BLOB NOT NULL DEFAULT x'';
    CREATE INDEX order_events_unsealed ON order_events(chk) WHERE chk = x'';
    ALTER TABLE fills ADD COLUMN chk BLOB NOT NULL DEFAULT x'';
    CREATE INDEX fills_unsealed ON fills(chk) WHERE chk = x'';
    ALTER TABLE risk_state ADD COLUMN link BLOB NOT NULL DEFAULT x'';
    ALTER TABLE risk_state ADD COLUMN chk BLOB NOT NULL DEFAULT x'';
    CREATE INDEX risk_state_unsealed ON risk_state(chk) WHERE chk = x'';
    ALTER TABLE desk_state ADD COLUMN link BLOB NOT NULL DEFAULT x'';
    ALTER TABLE desk_state ADD COLUMN chk BLOB NOT NULL DEFAULT x'';
    CREATE INDEX desk_state_unsealed ON desk_state(chk) WHERE chk = x'';
    CREATE TABLE kitetui_identity (
        db_id TEXT NOT NULL               -- one random id per file: a WAL whose pages carry
    );                                    -- another file's id belongs to another database
    INSERT INTO kitetui_identity (db_id) VALUES (lower(hex(randomblob(16))));
    CREATE TABLE chain_heads (
        tbl TEXT PRIMARY KEY,             -- a chained table
        rows INTEGER NOT NULL,            -- rows in its chain
        head BLOB NOT NULL,               -- the last checksum (link, for tables that change)
        last_rowid INTEGER NOT NULL       -- the rowid of its last chained row
    );
    """,
    # 4: charges on every fill, as the contract note bills them (kitetui/trading/charges.py):
    # each component in exact rupees as decimal text (Kite bills fractions of a paisa;
    # charge_exchange includes NSE's IPFT levy, charge_ipft is that part of it), and
    # charges_paise, the fill's share of its ORDER's total rounded to paise (the order's
    # rounded total after this fill minus before it, so an order's fills sum to it).
    # A fill journaled before this migration has NULL in every charge column: its charges
    # were never recorded, and readers compute them from the rate table (fill_charges.py).
    # A row with some charge columns NULL and others not is refused as damaged (rows.py).
    """
    ALTER TABLE fills ADD COLUMN charge_brokerage TEXT;
    ALTER TABLE fills ADD COLUMN charge_stt TEXT;
    ALTER TABLE fills ADD COLUMN charge_exchange TEXT;
    ALTER TABLE fills ADD COLUMN charge_ipft TEXT;
    ALTER TABLE fills ADD COLUMN charge_sebi TEXT;
    ALTER TABLE fills ADD COLUMN charge_stamp TEXT;
    ALTER TABLE fills ADD COLUMN charge_gst TEXT;
    ALTER TABLE fills ADD COLUMN charges_paise INTEGER
    """,
    # 5: the risk decisions and the equity curve join the chains. Recovery reads the
    # decisions (an entry still owed after a crash, the Blocked tab's counts) and the
    # report reads the curve, so random bytes landing in them must refuse the file, not
    # steer a resumed run. Both are append-only (an equity point already written is kept).
    """
    ALTER TABLE risk_decisions ADD COLUMN chk BLOB NOT NULL DEFAULT x'';
    CREATE INDEX risk_decisions_unsealed ON risk_decisions(chk) WHERE chk = x'';
    ALTER TABLE equity_curve ADD COLUMN chk BLOB NOT NULL DEFAULT x'';
    CREATE INDEX equity_curve_unsealed ON equity_curve(chk) WHERE chk = x''
    """,
    # 6: HOLD decisions that change nothing are counted, not written as a signal row per
    # bar (kitetui/store/holds.py): per trading day, engine, symbol and reason, with the
    # first and last bar counted. A run's signals are its signal rows plus these counts.
    # Rows an older kitetui wrote stay as they are (its HOLDs are rows, counted as such).
    # WITHOUT ROWID: the key is most of a row, so the table is its own index (half the
    # size); it is not chained (a count steers nothing a resumed run does).
    """
    CREATE TABLE hold_counts (
        run_id TEXT NOT NULL,
        trading_day TEXT NOT NULL,
        engine TEXT NOT NULL,
        symbol TEXT NOT NULL,
        reason TEXT NOT NULL,
        holds INTEGER NOT NULL,
        first_ts_ns INTEGER NOT NULL,
        last_ts_ns INTEGER NOT NULL,
        PRIMARY KEY (run_id, trading_day, engine, symbol, reason)
    ) WITHOUT ROWID
    """,
    # 7: the equity curve in chunks (kitetui/store/equity_chunks.py): one row per commit
    # instead of one row and one index entry per minute, each repeating the run id (a
    # year of minutes was 10.6 MB, a sixth of the database). ``points`` is JSON
    # ``[[steps after first_ts_ns, equity paise], ...]`` with one step of ``step_ns``;
    # the view ``equity_curve`` reads it back as the rows of schema 5, so every reader's
    # SQL stays as it was. The rows of an older kitetui become one chunk per run and UTC
    # day, and their chain moves to the new table (database.py reseals it in the same
    # transaction). orders_open (run_id, status) goes: no query ever filtered on it.
    # An order event's reason is NULL when it is the order's previous event's reason (most
    # are: NEW, OPEN and COMPLETE of one entry all say why it was placed; 2.9 MB of a
    # year's 81,000 events): readers carry the last reason forward (runs.py). SQLite
    # cannot drop NOT NULL in place, so the table is rebuilt, ids kept, and resealed.
    # universe becomes WITHOUT ROWID: its key is the row, so it need not be kept twice.
    """
    CREATE TABLE equity_chunks (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        first_ts_ns INTEGER NOT NULL,
        last_ts_ns INTEGER NOT NULL,
        step_ns INTEGER NOT NULL,
        points TEXT NOT NULL,
        chk BLOB NOT NULL DEFAULT x''
    );
    CREATE INDEX equity_chunks_run ON equity_chunks(run_id, first_ts_ns);
    CREATE INDEX equity_chunks_unsealed ON equity_chunks(chk) WHERE chk = x'';
    INSERT INTO equity_chunks (run_id, first_ts_ns, last_ts_ns, step_ns, points)
        SELECT run_id, first_ts_ns, last_ts_ns, step_ns,
               json_group_array(json_array((ts_ns - first_ts_ns) / step_ns, equity_paise))
        FROM (
            SELECT e.run_id, e.ts_ns, e.equity_paise, d.first_ts_ns, d.last_ts_ns, d.step_ns
            FROM equity_curve e JOIN (
                SELECT run_id, ts_ns / 86400000000000 AS day, MIN(ts_ns) AS first_ts_ns,
                       MAX(ts_ns) AS last_ts_ns,
                       CASE WHEN MAX(ts_ns % 60000000000) = 0 THEN 60000000000
                            WHEN MAX(ts_ns % 1000000000) = 0 THEN 1000000000
                            ELSE 1 END AS step_ns
                FROM equity_curve GROUP BY run_id, day
            ) d ON d.run_id = e.run_id AND d.day = e.ts_ns / 86400000000000
            ORDER BY e.run_id, e.ts_ns
        )
        GROUP BY run_id, first_ts_ns
        ORDER BY run_id, first_ts_ns;
    DROP TABLE equity_curve;
    DELETE FROM chain_heads WHERE tbl = 'equity_curve';
    CREATE VIEW equity_curve (run_id, ts_ns, equity_paise) AS
        SELECT c.run_id, c.first_ts_ns + c.step_ns * json_extract(p.value, '$[0]'),
               json_extract(p.value, '$[1]')
        FROM equity_chunks c, json_each(c.points) p;
    DROP INDEX orders_open;
    CREATE TABLE order_events_7 (
        id INTEGER PRIMARY KEY,
        tag TEXT NOT NULL,
        ts_ns INTEGER NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        chk BLOB NOT NULL DEFAULT x''
    );
    INSERT INTO order_events_7 (id, tag, ts_ns, status, reason)
        SELECT id, tag, ts_ns, status,
               CASE WHEN reason = lag(reason) OVER (PARTITION BY tag ORDER BY id)
                    THEN NULL ELSE reason END
        FROM order_events ORDER BY id;
    DROP TABLE order_events;
    ALTER TABLE order_events_7 RENAME TO order_events;
    CREATE INDEX order_events_tag ON order_events(tag);
    CREATE INDEX order_events_unsealed ON order_events(chk) WHERE chk = x'';
    CREATE TABLE universe_7 (
        run_id TEXT NOT NULL,
        trading_day TEXT NOT NULL,
        engine TEXT NOT NULL,
        symbol TEXT NOT NULL,
        selected INTEGER NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (run_id, trading_day, engine, symbol)
    ) WITHOUT ROWID;
    INSERT INTO universe_7 SELECT run_id, trading_day, engine, symbol, selected, reason
        FROM universe;
    DROP TABLE universe;
    ALTER TABLE universe_7 RENAME TO universe
    """,
    # 8: the depository (DP) charge of a CNC fill (kitetui/trading/same_day.py): ₹13.50 +
    # GST per scrip and IST day with a delivery sale, booked on the fill that gives the
    # scrip its day's delivery sale and handed back by one that nets it away; exact rupees
    # as decimal text, inside charges_paise. It is not on the contract note. A fill
    # journaled before has NULL here, read as no DP charge (rows.py); adding the column
    # changes every fill row's hashed bytes, so the fills chain is resealed (database.py).
    """
    ALTER TABLE fills ADD COLUMN charge_dp TEXT
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
