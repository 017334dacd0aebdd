"""A generic adaptive batcher: concurrent callers in, one list-in/list-out call out.

The batcher never looks inside items. ``fn(items) -> results`` must return one result per
item, in order; a result that is an exception is raised to that item's caller only. ``fn``
runs in a dedicated thread so the event loop keeps accepting requests meanwhile, and
whatever arrives while a batch runs forms the next batch (up to ``max_batch_size``). An
idle batcher dispatches at once unless ``max_wait_ms`` asks it to wait for company. The
queue is bounded: a full queue raises :class:`~modelport.errors.Overloaded` (503) instead
of growing without end.

When ``fn`` raises for a whole batch (one caller's input that the model cannot take fails
the call for everybody), the batcher isolates the failing items by bisection: each half is
run again, down to single items, so every good item still gets its own result and only the
items that fail alone get the error. Nothing extra runs while batches succeed. On failure,
a few bad items ``k`` among ``n`` cost about ``2 k log2(n / k)`` more calls (12 for one
poisoned request in a batch of 64, where retrying every item alone would cost 64); the
worst case, a model that fails on every item, costs ``2 n - 2``.

The worker task and its wake-up event are created inside the running loop, on the first
``submit``, so a batcher can be built anywhere (tests, import time, another thread).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from modelport.errors import ModelNotReady, Overloaded

log = logging.getLogger("modelport.serving")

#: the longest the batcher lingers for requests that are still arriving
_MAX_LINGER = 0.005
#: a batch expected to run for less than this runs on the event loop itself (see _inline)
INLINE_SECONDS = 0.002
#: how many recent batches that expectation looks back on
_INLINE_MEMORY = 8

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Gather items from concurrent ``submit`` calls and run them through ``fn`` in batches."""

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R | BaseException]],
        *,
        max_batch_size: int = 64,
        max_wait_ms: float = 0.0,
        max_queue: int = 2048,
        name: str = "batcher",
        on_batch: Callable[[int], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
        weigh: Callable[[T], int] | None = None,
        inline_seconds: float = INLINE_SECONDS,
    ) -> None:
        self._fn = fn
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.name = name
        self._on_batch = on_batch
        #: told the queue's depth whenever it changes (None: nobody follows it)
        self._on_depth = on_depth
        self._pending: deque[tuple[T, asyncio.Future[R]]] = deque()
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"predict-{name}")
        self._closed = False
        self._last_seconds = 0.0  # how long the last batch ran
        #: an item's weight (a request's rows) for the expected run time of a batch
        self._weigh = weigh
        self.inline_seconds = inline_seconds
        #: (seconds, weight) of the recent batches, measured where they ran
        self._runs: deque[tuple[float, int]] = deque(maxlen=_INLINE_MEMORY)
        #: batches the event loop ran itself (the others ran in the thread)
        self.inline_batches = 0
        self._recent = (0, 0)  # sizes of the last two batches

    @property
    def depth(self) -> int:
        """Items waiting for a batch (not counting the batch running now)."""
        return len(self._pending)

    async def submit(self, item: T) -> R:
        """Queue ``item`` and wait for its result (raises what ``fn`` raised for it)."""
        return await self.enqueue(item)

    def enqueue(self, item: T) -> asyncio.Future[R]:
        """Queue ``item``; its future gets the result. For callers that do not wait (shadows):
        no task and no coroutine per item, just the future."""
        if self._closed:
            raise ModelNotReady(f"{self.name} is shutting down", hint="retry the request")
        if len(self._pending) >= self.max_queue:
            raise Overloaded(
                f"{self.name}: {len(self._pending)} requests are already queued",
                hint="retry with backoff, or add replicas / workers",
            )
        loop = asyncio.get_running_loop()
        if self._worker is None:
            self._wakeup = asyncio.Event()
            self._worker = loop.create_task(self._run(), name=f"batcher-{self.name}")
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if self._on_depth is not None:
            self._on_depth(len(self._pending))
        assert self._wakeup is not None
        self._wakeup.set()
        return future

    def call(self, items: list[T]) -> list[R | BaseException]:
        """Run ``fn`` directly (warm-up before serving), checking the list-out contract."""
        results = list(self._fn(items))
        if len(results) != len(items):
            raise RuntimeError(f"{self.name}: {len(items)} items in, {len(results)} results out")
        return results

    def _timed(self, items: list[T], *, inline: bool = False) -> list[R | BaseException]:
        """:meth:`_call_isolating`, remembering how long it ran for its weight.

        In the thread that is the thread's own CPU time: its wall time would count the
        loop's turns while the thread waited for the GIL. On the loop it is the wall time,
        which is what the loop was held for (a model's own threads included).
        """
        clock = time.perf_counter if inline else time.thread_time
        started = clock()
        try:
            return self._call_isolating(items)
        finally:
            self._runs.append((clock() - started, self._weight(items)))

    def _weight(self, items: list[T]) -> int:
        weigh = self._weigh
        return max(1, len(items) if weigh is None else sum(weigh(item) for item in items))

    def _inline(self, items: list[T]) -> bool:
        """Whether to run ``items`` on the event loop instead of the batcher's thread.

        Handing a batch to a thread costs a wake-up of the thread, a switch of the GIL each
        way (the thread waits for the loop to let go of it, up to the interpreter's switch
        interval under load) and a wake-up of the loop: for a model that answers a batch in
        a hundred microseconds that is as much as the model call, and it adds latency. So
        every recent batch ran for less than ``inline_seconds`` and this one weighs no more
        than the heaviest of them, the loop runs it itself (on one core it would have waited
        for the GIL as long); after one slow batch, for a slower model, or for a batch
        heavier than those measured (one large request), the thread runs it, so the loop
        is never held for long. The first batches always go to the thread.
        """
        runs = self._runs
        if len(runs) < _INLINE_MEMORY or self.inline_seconds <= 0:
            return False
        if max(seconds for seconds, _ in runs) >= self.inline_seconds:
            return False
        return self._weight(items) <= max(weight for _, weight in runs)

    def _call_isolating(self, items: list[T]) -> list[R | BaseException]:
        """:meth:`call`, but a failing call gives each item its own outcome (see the module).

        Runs in the batcher's thread, so the retries never block the event loop.
        """
        try:
            return self.call(items)
        except Exception as exc:
            if len(items) == 1:
                return [exc]
            log.debug(
                "%s: a batch of %d failed (%s: %s); retrying its halves apart",
                self.name,
                len(items),
                type(exc).__name__,
                exc,
            )
            middle = len(items) // 2
            return self._call_isolating(items[:middle]) + self._call_isolating(items[middle:])

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        wakeup = self._wakeup
        assert wakeup is not None
        while True:
            while not self._pending:
                if self._closed:
                    return
                wakeup.clear()
                await wakeup.wait()
            if len(self._pending) < self.max_batch_size:
                await self._gather_arrivals(loop)
            if self.max_wait > 0 and len(self._pending) < self.max_batch_size:
                await self._wait_for_more(loop, wakeup)
            size = min(len(self._pending), self.max_batch_size)
            batch = [self._pending.popleft() for _ in range(size)]
            if self._on_depth is not None:
                self._on_depth(len(self._pending))
            batch = [(item, fut) for item, fut in batch if not fut.done()]  # drop cancelled
            if not batch:
                continue
            self._recent = (len(batch), self._recent[0])
            if self._on_batch is not None:
                self._on_batch(len(batch))
            started = loop.time()
            items = [item for item, _ in batch]
            inline = self._inline(items)
            try:
                if inline:
                    self.inline_batches += 1
                    results = self._timed(items, inline=True)
                else:
                    results = await loop.run_in_executor(self._executor, self._timed, items)
            except Exception as exc:  # the thread could not run it: answer, never hang
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self._last_seconds = loop.time() - started
            for (_, fut), result in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)
            if inline:  # let the callers answer before the next batch holds the loop again
                await asyncio.sleep(0)

    async def _gather_arrivals(self, loop: asyncio.AbstractEventLoop) -> None:
        """Under load, let the callers of the last batches catch up before dispatching.

        Dispatching the moment one request waits makes batches alternate between the
        first arrival alone and everybody else. So when the last batch held several
        requests, keep turning the loop (no timer: each turn parses what the sockets
        hold) until as many are queued as the larger of the last two batches, for at
        most half the last batch's run time. A lone caller never waits.
        """
        target = min(max(self._recent), self.max_batch_size)
        if self._recent[0] <= 1 or len(self._pending) >= target:
            return
        deadline = loop.time() + min(self._last_seconds / 2, _MAX_LINGER)
        while len(self._pending) < target and loop.time() < deadline:
            await asyncio.sleep(0)

    async def _wait_for_more(self, loop: asyncio.AbstractEventLoop, wakeup: asyncio.Event) -> None:
        deadline = loop.time() + self.max_wait
        while len(self._pending) < self.max_batch_size:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            wakeup.clear()
            try:
                await asyncio.wait_for(wakeup.wait(), remaining)
            except TimeoutError:
                return

    async def aclose(self) -> None:
        """Refuse new items, finish every queued one, then stop the worker and its thread."""
        self._closed = True
        if self._worker is not None:
            assert self._wakeup is not None
            self._wakeup.set()
            await self._worker
        self._executor.shutdown(wait=False)
