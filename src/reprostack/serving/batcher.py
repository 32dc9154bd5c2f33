"""The queue between request handlers and the one inference worker.

Handlers put their texts on a bounded queue and await a future; one asyncio task takes queued
texts and runs them on a single dedicated thread, the only one that touches the model. The event
loop never blocks on inference, and concurrent requests share forward passes. The encoding is
batch-invariant (model/encoding.py), so an answer does not depend on who shared its batch, and
the worker may split a request's texts over several batches.

Which texts run together: with a bucketNxR scheme every forward pass holds exactly R texts of
one padded width, and a pass of 3 texts costs what a pass of R=16 costs. So when the encoder says
each text's pass shape (`shape`), the worker runs the full passes that are queued and leaves the
texts of partial ones to gather; when no pass is full it runs everything queued (it never idles
while texts wait), and a text that has waited `max_hold_s` runs next whatever its pass holds.
Under load texts of one width gather into full passes; alone, a text runs at once. Without shapes (other schemes,
stand-in encoders) texts run in arrival order, up to `max_batch` at a time.

A request that would take the queue past `queue_size` texts is refused at once (Overloaded ->
503 with Retry-After) instead of growing an unbounded backlog. close() stops taking new work and
returns once everything already queued has been answered.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

# texts -> each text's pass shape (width, rows per pass), or None when passes have no fixed shape
Shape = Callable[[list[str]], "list[tuple[int, int]] | None"]


class Overloaded(Exception):
    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future
    results: list = field(default_factory=list)
    left: int = 0


@dataclass
class _Item:
    job: _Job
    index: int  # which of the job's texts
    key: Hashable  # (width, rows) or None
    since: float


def select(items: Sequence[_Item], max_batch: int, now: float, max_hold_s: float) -> list[_Item]:
    """The queued texts the next batch takes (`items` in arrival order, not empty)."""
    groups: dict[Hashable, list[_Item]] = {}
    for item in items:
        groups.setdefault(item.key, []).append(item)
    oldest = items[0]
    if oldest.key is None or now - oldest.since >= max_hold_s:  # arrival order, or one waited long enough
        chosen = groups.pop(oldest.key)[:max_batch]
    else:
        chosen = []
    for key, group in sorted(groups.items(), key=lambda kv: -len(kv[1])):  # full passes, fullest first
        rows = key[1] if key is not None else 1
        room = (max_batch - len(chosen)) // rows * rows
        chosen += group[: min(len(group) // rows * rows, room)]
    if not chosen:  # no full pass to run: everything queued, rather than wait for one
        chosen = list(itertools.islice(items, max_batch))
    return chosen


class Batcher:
    def __init__(
        self,
        run: Callable[[list[str]], list[Any]],
        max_batch: int,
        max_wait_s: float,
        queue_size: int,
        observe_batch: Callable[[int], None] = lambda n: None,
        shape: Shape | None = None,
        max_hold_s: float = 0.25,
    ) -> None:
        self.run, self.max_batch, self.max_wait_s, self.queue_size = run, max_batch, max_wait_s, queue_size
        self.observe_batch, self.shape, self.max_hold_s = observe_batch, shape, max_hold_s
        self.pending = 0  # texts queued, not yet taken by the worker
        self._items: collections.deque[_Item] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._closing = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")

    def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def submit(self, texts: list[str]) -> list[Any]:
        """The worker's results for `texts`, in order."""
        if self._closing or self._task is None:
            raise Overloaded("the server is shutting down", retry_after=5)
        if self.pending and self.pending + len(texts) > self.queue_size:
            raise Overloaded(f"{self.pending} texts are queued (limit {self.queue_size}); retry shortly")
        loop = asyncio.get_running_loop()
        try:
            keys = self.shape(texts) if self.shape else None
        except Exception:  # noqa: BLE001 (the shapes only order the work: without them, arrival order)
            keys = None
        keys = keys or [None] * len(texts)
        job = _Job(texts, loop.create_future(), [None] * len(texts), len(texts))
        now = loop.time()
        self._items.extend(_Item(job, i, key, now) for i, key in enumerate(keys))
        self.pending += len(texts)
        self._wakeup.set()
        return await job.future

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._wakeup.set()
            await self._task
        self._executor.shutdown(wait=True)

    async def _wait_for_company(self, loop) -> None:
        deadline = loop.time() + self.max_wait_s
        while self.pending < self.max_batch and not self._closing and (left := deadline - loop.time()) > 0:
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), left)
            except TimeoutError:
                break

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        idle = True
        while True:
            if any(item.job.future.done() for item in self._items):  # failed, or its client went away
                kept = [item for item in self._items if not item.job.future.done()]
                self.pending -= len(self._items) - len(kept)
                self._items = collections.deque(kept)
            if not self._items:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                idle = True
                continue
            if idle:  # the first request after a quiet spell waits a moment for company; under load, none
                await self._wait_for_company(loop)
            batch = select(self._items, self.max_batch, loop.time(), self.max_hold_s)
            taken = {id(item) for item in batch}
            self._items = collections.deque(item for item in self._items if id(item) not in taken)
            self.pending -= len(batch)
            self.observe_batch(len(batch))
            try:
                results = await loop.run_in_executor(self._executor, self.run, [i.job.texts[i.index] for i in batch])
            except Exception as exc:  # every request of the batch gets the error, none hangs
                for item in batch:
                    if not item.job.future.done():
                        item.job.future.set_exception(exc)
                continue
            finally:
                idle = not self._items
            for item, result in zip(batch, results):
                job = item.job
                if not job.future.done():
                    job.results[item.index] = result
                    job.left -= 1
                    if not job.left:
                        job.future.set_result(job.results)
