"""WebRTC sessions: viewers share one pipeline, each mirror runs its own.

- viewer: the browser receives the puppeteered stream of the server's own source (camera or a looped
  file, with its soundtrack: see soundtrack.py). One pipeline serves every viewer through aiortc's
  MediaRelay, subscribed unbuffered so a slow peer skips frames instead of queueing them. The pipeline
  starts with the first viewer and stops when the last one leaves (cores are shared with mirrors).
- mirror: the browser sends its camera and receives the puppeteered stream on the same
  connection. Each mirror session has its own pipeline, so it calibrates on its own person.

`SessionManager` owns every peer connection: it turns an SDP offer into an answer, enforces the
peer limit, and closes a session whatever ends it (the peer leaving or vanishing, its pipeline
stopping, a peer that never connects, server shutdown) without touching the others.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.sdp import SessionDescription

from live.background import Background
from live.capture import FrameSource
from live.pipeline import LivePipeline, PipelineConfig, Sink
from live.runner import PipelineRunner, stats_with_progress
from live.serialized_engine import SerializedEngine
from live.server.soundtrack import Soundtrack, wants_audio
from live.server.tracks import BrowserFrameSource, HandoffTrack, drain_track, pump_track
from shared.normalize.stats import NormalizationStats
from shared.runtime.engine import Engine

MODES = ("viewer", "mirror")
CONNECT_TIMEOUT_S = 20.0  # a peer that has not connected by then is closed (it holds a peer slot)
JOIN_TIMEOUT_S = 5.0  # wait this long for a stopped pipeline's threads before starting a new one


class OfferError(Exception):
    """The client's offer cannot be used (HTTP 400); the message says why."""


class ServerBusy(Exception):
    """All peer slots are taken (HTTP 503)."""


@dataclass(frozen=True)
class SessionSettings:
    max_peers: int = 4
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)  # for every pipeline
    calibration: NormalizationStats | None = None  # the server source's stats (mirrors always calibrate)
    background: Path | None = None  # picture or video behind the puppet, for every pipeline
    # The viewer pipeline also writes here (e.g. a virtual camera); with any, it runs from the
    # server's start to its end, viewers or not. The caller owns (closes) them.
    sinks: tuple[Sink, ...] = ()
    soundtrack: Path | None = None  # the server's own video file: viewers hear its audio (mirrors get none)


class ViewerHub:
    """The server's own source, puppeteered once and relayed to every viewer."""

    def __init__(
        self, engine: Engine, open_source: Callable[[], FrameSource], settings: SessionSettings,
        log: Callable[[str], None], on_end: Callable[[], None],
    ) -> None:
        self.engine = engine
        self.open_source = open_source
        self.settings = settings
        self.log = log
        self.on_end = on_end  # called on the event loop when the pipeline stops by itself
        self.relay = MediaRelay()
        self.soundtrack = Soundtrack(settings.soundtrack) if settings.soundtrack else None
        self.calibration = settings.calibration
        self._runner: PipelineRunner | None = None
        self._last: LivePipeline | None = None
        self._track: HandoffTrack | None = None
        self._viewers: set[MediaStreamTrack] = set()
        self._lock = asyncio.Lock()
        self._stopping: PipelineRunner | None = None

    def _start(self, loop: asyncio.AbstractEventLoop) -> PipelineRunner:
        """Open the source and build the pipeline (slow: MediaPipe loads); runs in an executor."""
        if self._stopping is not None:
            self._stopping.join(JOIN_TIMEOUT_S)  # a camera must be released before it is reopened
            self._stopping = None
        source = self.open_source()
        config = self.settings.pipeline
        if not source.live:
            config = replace(config, pace_fps=source.fps)  # a file plays like a camera
        try:
            background = Background(self.settings.background) if self.settings.background else None
            pipeline = LivePipeline(self.engine, source, config, self.calibration, background, log=self.log)
        except BaseException:
            source.close()
            raise

        def done(error: BaseException | None) -> None:
            if pipeline.normalizer.source is not None:
                self.calibration = pipeline.normalizer.source  # stats fixed by a file carry over to the next start
            if error is not None:
                self.log(f"viewer pipeline stopped: {error}")
            try:
                loop.call_soon_threadsafe(self._ended, runner)
            except RuntimeError:  # the event loop is closed: the server is gone
                pass

        runner = PipelineRunner(pipeline, "viewer-pipeline", done, self.settings.sinks)
        runner.start()
        return runner

    def _ended(self, runner: PipelineRunner) -> None:
        if runner is self._runner:  # it stopped by itself, not because the last viewer left
            self._runner, self._track = None, None
            self.on_end()

    @property
    def always_on(self) -> bool:
        """Sinks besides the viewers (a virtual camera) keep the pipeline running without viewers."""
        return bool(self.settings.sinks)

    async def _ensure_running(self) -> None:
        """Start the pipeline unless it runs; call with the lock held."""
        if self._runner is None or self._runner.done:
            loop = asyncio.get_running_loop()
            self._runner = await loop.run_in_executor(None, self._start, loop)
            self._last = self._runner.pipeline
            self._track = HandoffTrack(self._runner.handoff)

    async def start(self) -> None:
        """Server start: an always-on hub starts its pipeline now, the others with the first viewer."""
        if self.always_on:
            async with self._lock:
                await self._ensure_running()

    async def subscribe(self) -> MediaStreamTrack:
        """A new viewer's track (starts the pipeline for the first viewer)."""
        async with self._lock:
            await self._ensure_running()
            assert self._track is not None
            proxy = self.relay.subscribe(self._track, buffered=False)
            self._viewers.add(proxy)
            return proxy

    def unsubscribe(self, proxy: MediaStreamTrack) -> None:
        """A viewer left; the last one out stops the pipeline (unless it is always on)."""
        proxy.stop()
        self._viewers.discard(proxy)
        if not self._viewers and not self.always_on:
            self.stop()

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.stop()
            self._stopping, self._runner, self._track = self._runner, None, None

    def join(self, timeout: float) -> None:
        for runner in (self._runner, self._stopping):
            if runner is not None:
                runner.join(timeout)

    @property
    def running(self) -> bool:
        return self._runner is not None and not self._runner.done

    @property
    def track(self) -> HandoffTrack | None:
        """The one track every viewer's subscription relays (None while no pipeline runs)."""
        return self._track

    def stats(self) -> dict | None:
        return None if self._last is None else stats_with_progress(self._last)


@dataclass
class Session:
    id: str
    kind: str  # "viewer" or "mirror"
    pc: RTCPeerConnection
    created: float = field(default_factory=time.monotonic)
    viewer_track: MediaStreamTrack | None = None  # viewer: its relay subscription
    audio_track: MediaStreamTrack | None = None  # viewer: the source's soundtrack, when it has one
    runner: PipelineRunner | None = None  # mirror: its own pipeline
    source: BrowserFrameSource | None = None  # mirror: the browser's camera
    tasks: list[asyncio.Task] = field(default_factory=list)

    def as_dict(self, hub: ViewerHub | None) -> dict:
        data: dict = {"id": self.id, "kind": self.kind, "state": self.pc.connectionState,
                      "age_s": time.monotonic() - self.created}
        if self.kind == "mirror" and self.runner is not None and self.source is not None:
            data["stats"] = stats_with_progress(self.runner.pipeline)
            data["frames_received"] = self.source.frames_received
            data["source_size"] = self.source.last_size
        else:
            data["stats"] = hub.stats() if hub is not None else None
        return data


def _video_directions(sdp: str) -> list[str]:
    """The offer's video sections' directions; OfferError for SDP that does not parse."""
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as err:  # noqa: BLE001 - aiortc's parser raises many kinds on garbage
        raise OfferError(f"the SDP offer does not parse ({type(err).__name__}: {err})") from None
    return [m.direction or "sendrecv" for m in parsed.media if m.kind == "video"]


class SessionManager:
    """Every peer connection of the server, from offer to close."""

    def __init__(
        self, engine: Engine, settings: SessionSettings | None = None,
        open_source: Callable[[], FrameSource] | None = None, log: Callable[[str], None] = print,
    ) -> None:
        self.engine = SerializedEngine(engine)
        self.settings = settings = settings or SessionSettings()
        self.log = log
        self.sessions: dict[str, Session] = {}
        self.hub = ViewerHub(self.engine, open_source, settings, log, self._viewer_pipeline_ended) if open_source else None
        self._pending = 0  # offers being answered: they hold a peer slot too
        self._runners: list[PipelineRunner] = []

    @property
    def peers(self) -> int:
        return len(self.sessions) + self._pending

    async def open(self, mode: str, sdp: str) -> tuple[RTCSessionDescription, Session]:
        """Answer an offer. OfferError: the offer is unusable; ServerBusy: no peer slot left."""
        if mode not in MODES:
            raise OfferError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        if mode == "viewer" and self.hub is None:
            raise OfferError("this server has no source of its own (start it with --camera or --source); use mirror mode")
        directions = _video_directions(sdp)
        wanted = ("sendrecv",) if mode == "mirror" else ("sendrecv", "recvonly")
        if not any(d in wanted for d in directions):
            need = "send its camera and receive video (sendrecv)" if mode == "mirror" else "receive video"
            raise OfferError(f"the offer has no video section that can {need}")
        if self.peers >= self.settings.max_peers:
            raise ServerBusy(f"all {self.settings.max_peers} peer slots are taken; try again later")
        self._pending += 1
        session = Session(secrets.token_hex(6), mode, RTCPeerConnection(RTCConfiguration(iceServers=[])))
        try:
            answer = await self._negotiate(session, sdp)
        except BaseException:
            await self._dispose(session)
            raise
        finally:
            self._pending -= 1
        self.sessions[session.id] = session
        self._watch(session)
        return answer, session

    async def _negotiate(self, session: Session, sdp: str) -> RTCSessionDescription:
        pc = session.pc
        remote: list[MediaStreamTrack] = []
        pc.on("track", lambda track: remote.append(track) if track.kind == "video" else None)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as err:  # noqa: BLE001 - anything wrong in the client's SDP
            raise OfferError(f"the SDP offer was refused ({type(err).__name__}: {err})") from None
        if session.kind == "viewer":
            assert self.hub is not None
            session.viewer_track = await self.hub.subscribe()
            pc.addTrack(session.viewer_track)
            if self.hub.soundtrack is not None and wants_audio(sdp):  # one stream: the browser syncs the two
                session.audio_track = await self.hub.soundtrack.track(self.hub.track)
                if session.audio_track is not None:
                    pc.addTrack(session.audio_track)
            for track in remote:  # a viewer that sends video anyway: drop it as it comes, never queue it
                session.tasks.append(asyncio.ensure_future(drain_track(track)))
        else:
            if not remote:
                raise OfferError("mirror mode needs the browser's camera, and the offer sends no video")
            await self._start_mirror(session, remote[0])
        try:
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as err:  # noqa: BLE001 - e.g. no codec in common
            raise OfferError(f"no answer to that offer ({type(err).__name__}: {err})") from None
        return pc.localDescription

    async def _start_mirror(self, session: Session, remote: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        source = BrowserFrameSource(name=f"browser camera ({session.id})")
        settings = self.settings

        def build() -> LivePipeline:  # MediaPipe loads here: off the event loop
            background = Background(settings.background) if settings.background else None
            return LivePipeline(self.engine, source, settings.pipeline, None, background, log=self.log)

        def done(error: BaseException | None) -> None:
            if error is not None:
                self.log(f"mirror session {session.id} stopped: {error}")
            try:
                loop.call_soon_threadsafe(self._close_soon, session.id)
            except RuntimeError:  # the event loop is closed: the server is gone
                pass

        session.source = source
        session.runner = PipelineRunner(await loop.run_in_executor(None, build), f"mirror-{session.id}", done)
        self._runners = [r for r in self._runners if not r.done] + [session.runner]
        session.pc.addTrack(HandoffTrack(session.runner.handoff))
        session.runner.start()
        session.tasks.append(asyncio.ensure_future(pump_track(remote, source)))

    def _watch(self, session: Session) -> None:
        """Close the session when its peer leaves, fails, or never connects."""

        @session.pc.on("connectionstatechange")
        async def changed() -> None:
            if session.pc.connectionState in ("failed", "closed"):
                await self.close(session.id)

        async def deadline() -> None:
            await asyncio.sleep(CONNECT_TIMEOUT_S)
            if session.pc.connectionState != "connected":
                self.log(f"{session.kind} session {session.id} did not connect in {CONNECT_TIMEOUT_S:g} s; closed")
                await self.close(session.id)

        session.tasks.append(asyncio.ensure_future(deadline()))

    def _close_soon(self, session_id: str) -> None:
        asyncio.ensure_future(self.close(session_id))

    def _viewer_pipeline_ended(self) -> None:
        for session in list(self.sessions.values()):
            if session.kind == "viewer":
                self._close_soon(session.id)

    async def close(self, session_id: str) -> None:
        """End one session (idempotent); the others are not touched."""
        session = self.sessions.pop(session_id, None)
        if session is not None:
            await self._dispose(session)
            self.log(f"{session.kind} session {session.id} closed ({self.peers} of {self.settings.max_peers} peers)")

    async def _dispose(self, session: Session) -> None:
        current = asyncio.current_task()
        for task in session.tasks:
            if task is not current:
                task.cancel()
        if session.source is not None:
            session.source.close()  # before stopping: it unblocks the capture thread's read
        if session.runner is not None:
            session.runner.stop()
        if session.audio_track is not None:
            session.audio_track.stop()
        if session.viewer_track is not None and self.hub is not None:
            self.hub.unsubscribe(session.viewer_track)
        try:
            await session.pc.close()
        except Exception as err:  # noqa: BLE001 - a half-negotiated peer may fail to close; it is gone anyway
            self.log(f"closing session {session.id}: {err}")

    async def start(self) -> None:
        """Server start: an always-on viewer pipeline (see SessionSettings.sinks) starts now."""
        if self.hub is not None:
            await self.hub.start()

    async def close_all(self) -> None:
        """Server shutdown: close every session, stop every pipeline and wait for their threads."""
        for session_id in list(self.sessions):
            await self.close(session_id)
        if self.hub is not None:
            self.hub.stop()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._join_all)

    def _join_all(self) -> None:
        if self.hub is not None:
            self.hub.join(JOIN_TIMEOUT_S)
        for runner in self._runners:
            runner.join(JOIN_TIMEOUT_S)
        self._runners.clear()

    def stats(self, session_id: str | None = None) -> dict | None:
        """One session's numbers (None when unknown), or the whole server's."""
        if session_id is not None:
            session = self.sessions.get(session_id)
            return None if session is None else session.as_dict(self.hub)
        return {
            "peers": self.peers,
            "max_peers": self.settings.max_peers,
            "viewer_pipeline": {"running": self.hub.running, "stats": self.hub.stats()} if self.hub else None,
            "sessions": {sid: s.as_dict(self.hub) for sid, s in self.sessions.items()},
        }
