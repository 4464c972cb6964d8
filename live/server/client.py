"""A Python WebRTC client for the server: what the page does, for scripts, tests and benchmarks.

    async with await connect("http://127.0.0.1:8080/", "viewer") as peer:
        frame = await peer.track.recv()          # av.VideoFrame, pts on the 90 kHz clock

    frames = LoopTrack(rgb_frames, fps=30)       # a "camera" playing frames over and over
    peer = await connect(url, "mirror", send=frames, codec="h264")

From a shell, a viewer that prints one line per second (frames received, size, fps):

    python -m live.server.client http://127.0.0.1:8080/ [--token T] [--codec h264] [--seconds 10]
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import SessionDescription
from av import VideoFrame

from live.server.tracks import TIME_BASE, VIDEO_CLOCK, even_size


class ServerRefused(Exception):
    """The server answered the offer with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class LoopTrack(VideoStreamTrack):
    """RGB frames sent over and over at `fps`, like a camera filming them."""

    def __init__(self, frames: Sequence[np.ndarray], fps: float = 30.0) -> None:
        super().__init__()
        if not frames:
            raise ValueError("LoopTrack needs at least one frame")
        self.frames = [np.ascontiguousarray(even_size(f)) for f in frames]
        self.fps = fps
        self.sent = 0
        self._start: float | None = None

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.perf_counter()
        delay = self._start + self.sent / self.fps - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = VideoFrame.from_ndarray(self.frames[self.sent % len(self.frames)], format="rgb24")
        frame.pts, frame.time_base = round(self.sent * VIDEO_CLOCK / self.fps), TIME_BASE
        self.sent += 1
        return frame


def video_codec(sdp: str) -> str | None:
    """The codec an answer picked for video (the first payload type of its video section)."""
    for media in SessionDescription.parse(sdp).media:
        if media.kind == "video" and media.rtp.codecs:
            return media.rtp.codecs[0].mimeType.split("/")[-1]
    return None


def prefer_codec(transceiver, name: str) -> None:  # noqa: ANN001 - an RTCRtpTransceiver
    """Offer only `name` ("vp8", "h264"): the server then has to answer with it."""
    codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() == f"video/{name.lower()}"]
    if not codecs:
        raise ValueError(f"aiortc has no {name} codec")
    transceiver.setCodecPreferences(codecs)


@dataclass
class Peer:
    pc: RTCPeerConnection
    track: MediaStreamTrack  # the puppeteered video from the server
    session: str
    codec: str | None
    audio: MediaStreamTrack | None = None  # viewer with audio=True: the source's soundtrack, when it has one

    async def close(self) -> None:
        await self.pc.close()

    async def __aenter__(self) -> Peer:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


async def post_offer(url: str, body: dict, token: str | None = None, timeout: float = 30.0) -> dict:
    """POST /offer; the answer as a dict, or ServerRefused."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        async with http.post(url.rstrip("/") + "/offer", json=body, headers=headers) as response:
            data = await response.json(content_type=None)
            if response.status != 200:
                raise ServerRefused(response.status, data.get("error", "") if isinstance(data, dict) else str(data))
            return data


async def connect(
    url: str, mode: str = "viewer", send: MediaStreamTrack | None = None, codec: str | None = None,
    token: str | None = None, timeout: float = 30.0, audio: bool = False,
) -> Peer:
    """Open a session; `send` is the camera track for mirror mode; `audio` asks for the source's
    soundtrack too, as the page's viewer does (a mirror gets none)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        if mode == "mirror":
            if send is None:
                raise ValueError("mirror mode sends a video track: pass send=")
            transceiver = pc.addTransceiver(send, direction="sendrecv")
        else:
            transceiver = pc.addTransceiver("video", direction="recvonly")
        if audio:
            pc.addTransceiver("audio", direction="recvonly")
        if codec:
            prefer_codec(transceiver, codec)
        arrived: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
        sound: list[MediaStreamTrack] = []
        pc.on("track", lambda track: sound.append(track) if track.kind == "audio" else arrived.done() or arrived.set_result(track))
        await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers every candidate first
        answer = await post_offer(url, {"sdp": pc.localDescription.sdp, "type": "offer", "mode": mode}, token, timeout)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        track = await asyncio.wait_for(arrived, timeout)
        return Peer(pc, track, answer["session"], video_codec(answer["sdp"]), sound[0] if sound else None)
    except BaseException:
        await pc.close()
        raise


async def _watch(url: str, token: str | None, codec: str | None, seconds: float) -> None:
    async with await connect(url, "viewer", codec=codec, token=token) as peer:
        print(f"session {peer.session}: {peer.codec}", flush=True)
        loop = asyncio.get_running_loop()
        start = last = loop.time()
        count = 0
        while loop.time() - start < seconds:
            frame = await asyncio.wait_for(peer.track.recv(), 10)
            count += 1
            now = loop.time()
            if now - last >= 1.0:
                print(f"{count} frames, {frame.width}x{frame.height}, {(count - 1) / (now - start):.1f} fps", flush=True)
                last = now


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Watch a dance-live --serve server's viewer stream.")
    parser.add_argument("url")
    parser.add_argument("--token")
    parser.add_argument("--codec", choices=("vp8", "h264"))
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    try:
        asyncio.run(_watch(args.url, args.token, args.codec, args.seconds))
    except ServerRefused as err:
        raise SystemExit(f"the server refused: {err}") from None


if __name__ == "__main__":
    main()
