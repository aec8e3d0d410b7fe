"""A local Kite-compatible exchange for tests and demos (``kitetui sim-exchange``).

``market.SimMarket`` replays data files as the exchange's prices, ``exchange.SimExchange``
keeps accounts, sessions, orders (matched by the paper broker), trades and the
portfolio, ``rest.create_app`` serves Kite Connect's REST API, ``ticker.TickerServer``
its WebSocket, ``faults`` injects failures and ``server`` runs it all. Importing this
package imports none of them.
"""
