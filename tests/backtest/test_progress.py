"""The backtest's progress bar: the data clock against the data's span, on a terminal only."""

from __future__ import annotations

import asyncio
import io

from kitetui.backtest.progress import BacktestProgress, fraction_done


def test_fraction_done_is_clamped_to_the_span() -> None:
    assert fraction_done(0, 100, 200) == 0.0
    assert fraction_done(150, 100, 200) == 0.5
    assert fraction_done(250, 100, 200) == 1.0
    assert fraction_done(150, 200, 200) == 0.0  # an empty span never divides by zero


def test_progress_stays_silent_when_not_on_a_terminal() -> None:
    stream = io.StringIO()
    progress = BacktestProgress(lambda: 0, stream=stream)
    assert not progress.enabled
    progress.start(0, 10)
    asyncio.run(progress.stop())
    assert stream.getvalue() == ""


async def test_progress_follows_the_data_clock_until_stopped() -> None:
    stream = io.StringIO()
    clock = {"now": 0}
    start = 1_704_166_500 * 10**9  # 2024-01-02 09:05 IST
    progress = BacktestProgress(lambda: clock["now"], stream=stream, interval_s=0.01, force=True)
    progress.start(start, start + 10 * 86_400 * 10**9)
    for day in range(1, 6):
        clock["now"] = start + day * 86_400 * 10**9
        await asyncio.wait_for(asyncio.sleep(0.03), 1)
    await asyncio.wait_for(progress.stop(), 5)
    text = stream.getvalue()
    assert "backtest" in text and "of 11 d" in text and "ETA" in text
