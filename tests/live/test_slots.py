from __future__ import annotations

import asyncio
import threading

import pytest

from live.slots import HandoffClosed, LatestFrame, LatestSlot


def test_latest_wins_keeps_the_newest_and_counts_the_stale_ones() -> None:
    slot: LatestSlot[int] = LatestSlot(latest_wins=True)
    for i in range(5):
        assert slot.put(i)  # never blocks, however slow the consumer
    assert slot.get(timeout=0) == 4
    assert slot.dropped == 4
    assert slot.get(timeout=0) is None and not slot.closed
    slot.put(5)
    assert slot.get(timeout=0) == 5 and slot.dropped == 4  # a taken item is not a drop


def test_lossless_slot_delivers_every_item_in_order() -> None:
    slot: LatestSlot[int] = LatestSlot(latest_wins=False)

    def produce() -> None:
        for i in range(50):
            slot.put(i)
        slot.close()

    producer = threading.Thread(target=produce)
    producer.start()
    received = []
    while (item := slot.get(timeout=10)) is not None:
        received.append(item)
    producer.join(timeout=10)
    assert received == list(range(50)) and slot.dropped == 0 and slot.closed


def test_close_drains_then_ends_and_releases_a_waiting_producer() -> None:
    slot: LatestSlot[str] = LatestSlot(latest_wins=False)
    slot.put("last")
    results: list[bool] = []
    blocked = threading.Thread(target=lambda: results.append(slot.put("never taken")))
    blocked.start()
    slot.close()
    blocked.join(timeout=10)
    assert not blocked.is_alive() and results == [False]
    assert slot.get(timeout=0) == "last"  # what was there before closing is still delivered
    assert slot.get() is None and slot.closed  # then the end, without waiting
    assert not slot.put("late")


def test_handoff_gives_readers_the_newest_version_only() -> None:
    handoff: LatestFrame[str] = LatestFrame()
    assert handoff.next(0, timeout=0) is None
    for item in ("a", "b", "c"):
        handoff.publish(item)
    got = handoff.next(0, timeout=0)
    assert got is not None and (got.version, got.item) == (3, "c")  # "a" and "b" are skipped, not queued
    assert handoff.next(got.version, timeout=0) is None
    handoff.publish("d")
    assert handoff.next(got.version, timeout=0).item == "d"
    handoff.close()
    assert handoff.next(0, timeout=0).item == "d"  # still readable after close
    with pytest.raises(HandoffClosed):
        handoff.next(4)


def test_handoff_wakes_asyncio_readers_from_another_thread() -> None:
    handoff: LatestFrame[int] = LatestFrame()

    async def read_two() -> list[int]:
        seen, items = 0, []
        while len(items) < 2:
            got = await handoff.next_async(seen)
            seen = got.version
            items.append(got.item)
            threading.Thread(target=handoff.publish, args=(got.item + 1,)).start()
        return items

    handoff.publish(10)
    assert asyncio.run(asyncio.wait_for(read_two(), 10)) == [10, 11]

    async def wait_closed() -> None:
        threading.Thread(target=handoff.close).start()
        await handoff.next_async(handoff.latest.version)

    with pytest.raises(HandoffClosed):
        asyncio.run(asyncio.wait_for(wait_closed(), 10))
