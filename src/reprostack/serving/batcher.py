"""The queue between request handlers and the one inference worker.

Handlers put their texts on a bounded queue and await a future; one asyncio task takes what is
queued (up to `max_batch` texts, waiting at most `max_wait` for company once the first request
is in) and runs it on a single dedicated thread, the only one that touches the model. The event
loop never blocks on inference, and concurrent requests share forward passes. The encoding is
batch-invariant (model/encoding.py), so an answer does not depend on who shared its batch.

A request that would take the queue past `queue_size` texts is refused at once (Overloaded ->
503 with Retry-After) instead of growing an unbounded backlog. close() stops taking new work and
returns once everything already queued has been answered.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any


class Overloaded(Exception):
    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future


class Batcher:
    def __init__(
        self,
        run: Callable[[list[str]], list[Any]],
        max_batch: int,
        max_wait_s: float,
        queue_size: int,
        observe_batch: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.run, self.max_batch, self.max_wait_s, self.queue_size = run, max_batch, max_wait_s, queue_size
        self.observe_batch = observe_batch
        self.pending = 0  # texts queued, not yet taken by the worker
        self._jobs: collections.deque[_Job] = collections.deque()
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
        job = _Job(texts, asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self.pending += len(texts)
        self._wakeup.set()
        return await job.future

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._wakeup.set()
            await self._task
        self._executor.shutdown(wait=True)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._jobs:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            deadline = loop.time() + self.max_wait_s
            while self.pending < self.max_batch and not self._closing and (left := deadline - loop.time()) > 0:
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), left)
                except TimeoutError:
                    break
            batch = [self._jobs.popleft()]
            size = len(batch[0].texts)
            while self._jobs and size + len(self._jobs[0].texts) <= self.max_batch:
                batch.append(self._jobs.popleft())
                size += len(batch[-1].texts)
            self.pending -= size
            self.observe_batch(size)
            try:
                results = await loop.run_in_executor(self._executor, self.run, [t for j in batch for t in j.texts])
            except Exception as exc:  # every request of the batch gets the error, none hangs
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            start = 0
            for job in batch:
                if not job.future.done():  # a client that went away cancelled its future
                    job.future.set_result(results[start : start + len(job.texts)])
                start += len(job.texts)
