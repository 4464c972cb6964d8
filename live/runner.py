"""A live pipeline running on its own thread, its newest output always ready to pick up.

The pipeline itself (live/pipeline.py) runs on the caller's thread until its source ends; a
server needs many at once, each started and stopped from its event loop, and each peer reads the
newest frame without waiting: that is this module's job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from live.pipeline import LivePipeline, OutputFrame, Sink
from live.sinks import BorrowedSink, HandoffSink
from live.slots import LatestFrame


class PipelineRunner:
    """One LivePipeline on its own thread, publishing every output to `handoff` (and writing it to
    `sinks`, which outlive the run: their owner closes them)."""

    def __init__(self, pipeline: LivePipeline, name: str, on_done: Callable[[BaseException | None], None] | None = None,
                 sinks: tuple[Sink, ...] = ()) -> None:
        self.pipeline = pipeline
        self.sinks = sinks
        self.handoff: LatestFrame[OutputFrame] = LatestFrame()
        self.error: BaseException | None = None
        self._on_done = on_done
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self.pipeline.run([HandoffSink(self.handoff), *(BorrowedSink(sink) for sink in self.sinks)])
        except BaseException as err:  # noqa: BLE001 - reported through on_done, never crashes the server
            self.error = err
        finally:
            self.handoff.close()
            if self._on_done is not None:
                self._on_done(self.error)

    @property
    def done(self) -> bool:
        return self._thread.ident is not None and not self._thread.is_alive()

    def stop(self) -> None:
        self.pipeline.stop()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.ident is not None:
            self._thread.join(timeout)


def stats_with_progress(pipeline: LivePipeline) -> dict:
    """The pipeline's numbers, which normalization it uses (as the window HUD says), and whether it
    waits to measure the person (a person seen but not yet measurable is drawn un-normalized)."""
    stats = pipeline.stats.as_dict()
    stats["normalization"] = pipeline.normalizer.describe()
    stats["calibrating"] = pipeline.normalizer.calibrating
    return stats
