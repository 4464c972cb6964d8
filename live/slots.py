"""Hand-off points between the live threads: one-item slots, so no queue can ever build up.

`LatestSlot` joins two pipeline stages (one producer, one consumer). In latest-wins mode a new
item replaces one the consumer has not taken yet (the stale one is dropped and counted), so a slow
consumer always gets the newest frame and latency cannot grow. In lossless mode the producer waits
for the consumer instead (a video file processed as fast as possible keeps every frame).

`LatestFrame` publishes the pipeline's output to any number of readers (the window, the WebRTC
server): each reader asks for "something newer than the version I last saw", from a thread or
from an asyncio coroutine, and never receives a backlog.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """A one-item hand-off between a producer thread and a consumer thread."""

    def __init__(self, latest_wins: bool = True) -> None:
        self.latest_wins = latest_wins
        self.dropped = 0  # items replaced before the consumer took them
        self.taken_at: float | None = None  # time.perf_counter() of the consumer's last take
        self._item: T | None = None
        self._full = False
        self._closed = False
        self._cond = threading.Condition()

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: T) -> bool:
        """Offer an item; returns False when the slot is closed (the consumer has gone).

        Latest-wins: never blocks, an untaken item is dropped. Lossless: waits until the consumer
        took the previous item.
        """
        with self._cond:
            if not self.latest_wins:
                while self._full and not self._closed:
                    self._cond.wait()
            if self._closed:
                return False
            if self._full:
                self.dropped += 1
            self._item, self._full = item, True
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> T | None:
        """Take the newest item, waiting up to `timeout` seconds. None means nothing came in time
        or the slot was closed and is empty (check `closed` to tell them apart)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._closed, timeout):
                return None
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            self.taken_at = time.perf_counter()
            self._cond.notify_all()
            return item

    def wait_empty(self, timeout: float | None = None) -> bool:
        """Wait until the consumer has taken the item (True), or the slot closed / time ran out (False).
        Lets a producer start its next item only when it will be wanted."""
        with self._cond:
            self._cond.wait_for(lambda: not self._full or self._closed, timeout)
            return not self._full and not self._closed

    def close(self) -> None:
        """No more items: a waiting consumer gets what is left, then None; producers stop."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class HandoffClosed(Exception):
    """The publisher has stopped; no newer item will come."""


@dataclass(frozen=True)
class Published(Generic[T]):
    version: int  # 1 for the first item, then +1 per item
    item: T


class LatestFrame(Generic[T]):
    """The newest output, for any number of readers (threads or asyncio tasks).

        seen = 0
        while True:
            got = await handoff.next_async(seen)   # or handoff.next(seen, timeout) in a thread
            seen = got.version
            send(got.item)

    A reader slower than the publisher skips versions; it never queues them.
    """

    def __init__(self) -> None:
        self._latest: Published[T] | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def latest(self) -> Published[T] | None:
        return self._latest

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self, item: T) -> int:
        with self._cond:
            version = 1 if self._latest is None else self._latest.version + 1
            self._latest = Published(version, item)
            self._wake()
            return version

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._wake()

    def _wake(self) -> None:
        """Called with the lock held: wake thread readers and asyncio readers."""
        self._cond.notify_all()
        waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # that reader's event loop is closed: nobody is waiting any more
                pass

    def _newer(self, after: int) -> Published[T] | None:
        latest = self._latest
        return latest if latest is not None and latest.version > after else None

    def next(self, after: int = 0, timeout: float | None = None) -> Published[T] | None:
        """The newest item with a version above `after`, waiting up to `timeout` seconds (None on
        timeout). Raises HandoffClosed once closed with nothing newer."""
        with self._cond:
            self._cond.wait_for(lambda: self._newer(after) is not None or self._closed, timeout)
            found = self._newer(after)
            if found is None and self._closed:
                raise HandoffClosed
            return found

    async def next_async(self, after: int = 0) -> Published[T]:
        """Like `next`, for a coroutine: waits without blocking the event loop."""
        loop = asyncio.get_running_loop()
        while True:
            with self._cond:
                found = self._newer(after)
                if found is not None:
                    return found
                if self._closed:
                    raise HandoffClosed
                future: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, future))
            await future


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
