"""The batcher's contract without a server: list in, list out, in order, bounded."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from modelport.errors import ModelNotReady, Overloaded
from modelport.runtime.batching import Batcher


def test_results_return_to_their_own_callers_in_order() -> None:
    calls: list[list[int]] = []

    def double(items: list[int]) -> list[int]:
        calls.append(items)
        time.sleep(0.01)  # while this runs, the other submissions queue up
        return [i * 2 for i in items]

    async def main() -> list[int]:
        batcher: Batcher[int, int] = Batcher(double, max_batch_size=8)
        results = await asyncio.gather(*(batcher.submit(i) for i in range(50)))
        await batcher.aclose()
        return list(results)

    assert asyncio.run(main()) == [i * 2 for i in range(50)]
    assert all(len(c) <= 8 for c in calls)
    assert len(calls) < 50  # requests were batched
    assert [i for c in calls for i in c] == list(range(50))  # FIFO


def test_idle_batcher_dispatches_at_once_and_max_wait_gathers() -> None:
    sizes: list[int] = []

    async def run(wait_ms: float) -> float:
        batcher: Batcher[int, int] = Batcher(
            lambda xs: xs, max_batch_size=4, max_wait_ms=wait_ms, on_batch=sizes.append
        )
        t0 = time.perf_counter()
        await batcher.submit(1)
        elapsed = time.perf_counter() - t0
        await batcher.aclose()
        return elapsed

    assert asyncio.run(run(0)) < 0.05
    assert asyncio.run(run(150)) >= 0.14  # waited for company that never came

    async def gathered() -> None:
        batcher: Batcher[int, int] = Batcher(
            lambda xs: xs, max_batch_size=4, max_wait_ms=1000, on_batch=sizes.append
        )
        sizes.clear()
        t0 = time.perf_counter()
        tasks = [asyncio.ensure_future(batcher.submit(i)) for i in range(4)]
        assert await asyncio.gather(*tasks) == [0, 1, 2, 3]
        assert time.perf_counter() - t0 < 0.5  # a full batch does not wait out max_wait
        await batcher.aclose()

    asyncio.run(gathered())
    assert sizes == [4]


def test_full_queue_raises_overloaded_and_recovers() -> None:
    release = threading.Event()

    def slow(items: list[int]) -> list[int]:
        release.wait(5)
        return items

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher(slow, max_batch_size=1, max_queue=2)
        first = asyncio.ensure_future(batcher.submit(0))
        await asyncio.sleep(0.05)  # item 0 is running; the queue is empty again
        queued = [asyncio.ensure_future(batcher.submit(i)) for i in (1, 2)]
        await asyncio.sleep(0)
        with pytest.raises(Overloaded):
            await batcher.submit(3)
        release.set()
        assert await asyncio.gather(first, *queued) == [0, 1, 2]
        assert await batcher.submit(4) == 4
        await batcher.aclose()

    asyncio.run(main())


def test_errors_reach_the_right_callers() -> None:
    def fn(items: list[int]) -> list[object]:
        if any(i < 0 for i in items) and len(items) == 1:
            raise RuntimeError("whole batch failed")
        return [ValueError(f"bad {i}") if i % 2 else i for i in items]

    async def main() -> None:
        batcher: Batcher[int, object] = Batcher(fn)
        with pytest.raises(RuntimeError, match="whole batch"):
            await batcher.submit(-1)
        results = await asyncio.gather(
            *(batcher.submit(i) for i in range(4)), return_exceptions=True
        )
        assert results[0] == 0 and results[2] == 2
        assert isinstance(results[1], ValueError) and isinstance(results[3], ValueError)
        await batcher.aclose()

    asyncio.run(main())


def test_wrong_result_count_is_an_error_not_a_hang() -> None:
    async def main() -> None:
        batcher: Batcher[int, int] = Batcher(lambda xs: xs[:-1])
        with pytest.raises(RuntimeError, match="1 items in, 0 results out"):
            await batcher.submit(1)
        await batcher.aclose()

    asyncio.run(main())


def test_close_finishes_queued_items_then_refuses() -> None:
    def slow(items: list[int]) -> list[int]:
        time.sleep(0.02)
        return items

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher(slow, max_batch_size=2)
        tasks = [asyncio.ensure_future(batcher.submit(i)) for i in range(6)]
        await asyncio.sleep(0)
        await batcher.aclose()
        assert [t.result() for t in tasks] == list(range(6))
        with pytest.raises(ModelNotReady):
            await batcher.submit(7)

    asyncio.run(main())


def test_under_load_the_next_batch_waits_for_returning_callers() -> None:
    sizes: list[int] = []

    def slow(items: list[int]) -> list[int]:
        time.sleep(0.02)
        return items

    async def caller(batcher: Batcher[int, int], i: int) -> None:
        await batcher.submit(i)
        await asyncio.sleep(0.0003 * i)  # callers come back one by one, as over a network
        await batcher.submit(i)

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher(slow, max_batch_size=8, on_batch=sizes.append)
        await asyncio.gather(*(caller(batcher, i) for i in range(8)))
        await batcher.aclose()

    asyncio.run(main())
    assert sizes[0] == 8
    assert sizes[1] >= 4  # without lingering, the first caller back would go alone


def test_a_failing_batch_fails_only_the_items_that_fail_alone() -> None:
    calls: list[list[int]] = []
    sizes: list[int] = []

    def double_unless_negative(items: list[int]) -> list[int]:
        calls.append(items)
        if any(i < 0 for i in items):  # one bad value fails the whole model call
            raise ValueError(f"cannot take {min(items)}")
        return [i * 2 for i in items]

    async def main() -> list[object]:
        batcher: Batcher[int, int] = Batcher(
            double_unless_negative, max_batch_size=64, on_batch=sizes.append
        )
        items = [*range(40), -1, *range(40, 60), -7]
        results = await asyncio.gather(*(batcher.submit(i) for i in items), return_exceptions=True)
        await batcher.aclose()
        return list(results)

    results = asyncio.run(main())
    assert sizes == [62]  # all of them were in one batch, poison included
    good = [r for r in results if not isinstance(r, BaseException)]
    assert good == [i * 2 for i in range(60)]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert [str(e) for e in errors] == ["cannot take -1", "cannot take -7"]
    assert results[40] is errors[0] and results[61] is errors[1]
    assert len(calls) <= 1 + 2 * 2 * 6  # bisection: 2 per level per bad item, not 1 per item
    succeeded = [c for c in calls if not any(i < 0 for i in c)]
    assert sorted(i for c in succeeded for i in c) == list(range(60))  # each good item once


def test_isolation_runs_only_when_a_batch_fails() -> None:
    calls: list[int] = []
    sizes: list[int] = []

    def slow(items: list[int]) -> list[int]:
        calls.append(len(items))
        time.sleep(0.005)
        return items

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher(slow, max_batch_size=8, on_batch=sizes.append)
        assert await asyncio.gather(*(batcher.submit(i) for i in range(40))) == list(range(40))
        await batcher.aclose()

    asyncio.run(main())
    assert calls == sizes  # one model call per batch


def test_a_fast_model_runs_on_the_loop_once_measured_and_a_heavier_batch_in_the_thread() -> None:
    where: list[tuple[bool, int]] = []  # (on the loop's thread, rows)

    def fn(items: list[int]) -> list[int]:
        where.append((threading.current_thread() is threading.main_thread(), sum(items)))
        return items

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher(fn, weigh=lambda rows: rows)
        for _ in range(12):  # one at a time: batches of one item, one row
            assert await batcher.submit(1) == 1
        assert await batcher.submit(1000) == 1000  # heavier than any measured batch
        await batcher.aclose()

    asyncio.run(main())
    assert [on_loop for on_loop, _ in where[:8]] == [False] * 8  # measured in the thread first
    assert all(on_loop for on_loop, _ in where[8:12])
    assert where[12] == (False, 1000)


def test_a_slow_batch_sends_the_next_ones_back_to_the_thread() -> None:
    where: list[bool] = []
    slow = threading.Event()

    def fn(items: list[int]) -> list[int]:
        where.append(threading.current_thread() is threading.main_thread())
        if slow.is_set():
            slow.clear()
            time.sleep(0.01)  # on the loop: 10 ms of wall time
        return items

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher(fn)
        for _ in range(9):
            await batcher.submit(0)
        slow.set()
        await batcher.submit(0)  # runs on the loop, and is slow
        await batcher.submit(0)
        await batcher.aclose()

    asyncio.run(main())
    assert where[8] and where[9]  # on the loop (the eighth measured batch made it eligible)
    assert where[10] is False  # the slow one sent it back to the thread


def test_no_inline_runs_when_switched_off() -> None:
    where: list[bool] = []

    def fn(items: list[int]) -> list[int]:
        where.append(threading.current_thread() is threading.main_thread())
        return items

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher(fn, inline_seconds=0.0)
        for _ in range(20):
            await batcher.submit(0)
        await batcher.aclose()

    asyncio.run(main())
    assert not any(where)
