"""Helpers for tests that talk HTTP to a fake or simulated Kite on 127.0.0.1.

Imported by ``brokers/test_kite.py`` and ``test_kite_session.py`` (``tests/`` is on
``sys.path`` as the test modules' own folder, as ``tests/sim/sim_support.py`` is for the
sim tests). The fixtures stay in the test modules; this module only holds the pieces
they would otherwise each carry a copy of.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Any, Self

from aiohttp import web


def kite_ok(data: Any) -> web.Response:
    """Kite's success envelope, ``{"status": "success", "data": ...}``."""
    return web.json_response({"status": "success", "data": data})


def kite_error(status: int, error_type: str, message: str) -> web.Response:
    """Kite's error envelope with its HTTP status; kiteconnect maps ``error_type`` to
    its exception class."""
    return web.json_response(
        {"status": "error", "message": message, "error_type": error_type}, status=status
    )


class ThreadedServer:
    """An aiohttp app on 127.0.0.1 (an OS-chosen port), served by a loop in a daemon thread.

    The clients under test (kiteconnect, the login helpers) block, so the server they
    call must run on an event loop of its own. A subclass says which app (``make_app``)
    and names its thread; ``with server:`` starts it and stops it again.
    """

    thread_name = "test-server"

    def __init__(self) -> None:
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def make_app(self) -> web.Application:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        runner = web.AppRunner(self.make_app(), shutdown_timeout=0.2, access_log=None)
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
            self.port = runner.addresses[0][1]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            # Handlers still sleeping on a scripted delay are cancelled, not awaited.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True, name=self.thread_name)
        self._thread.start()
        assert ready.wait(5), f"{self.thread_name} did not start"

    def stop(self) -> None:
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
