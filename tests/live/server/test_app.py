"""The HTTP side: the page, tokens, and every bad request answered with a status and a message."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, VideoStreamTrack

from live.server.app import MAX_BODY, _json_safe, is_local, resolve_token
from tests.live.server.conftest import Running, http, start_server

TOKEN = "s3cret-token"


def _offer(kind: str = "video", direction: str = "recvonly") -> str:
    """A real offer from aiortc: one `kind` section with `direction`."""

    async def make() -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            pc.addTransceiver(VideoStreamTrack() if direction == "sendrecv" else kind, direction=direction)
            await pc.setLocalDescription(await pc.createOffer())
            return pc.localDescription.sdp
        finally:
            await pc.close()

    return asyncio.run(make())


@pytest.fixture(scope="module")
def offers() -> dict[str, str]:
    return {"viewer": _offer(), "mirror": _offer(direction="sendrecv"), "audio": _offer("audio")}


@pytest.fixture(scope="module")
def locked(tiny_engine) -> Iterator[Running]:  # noqa: ANN001
    """A server with a token, no source of its own (mirror sessions only) and a small body limit."""
    running = start_server(tiny_engine, None, max_peers=2, token=TOKEN, max_body=8 * 1024)
    try:
        yield running
    finally:
        running.server.stop()


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_page_and_its_script_are_served(locked: Running) -> None:
    status, page = http("GET", locked.url)
    assert status == 200 and 'value="viewer"' in page and 'value="mirror"' in page and "app.js" in page
    status, script = http("GET", locked.url + "app.js")
    assert status == 200 and "iceGatheringState" in script and 'fetch("offer"' in script  # relative: works behind a prefix


def test_loopback_needs_no_token_other_addresses_get_one() -> None:
    assert all(is_local(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost"))
    assert not any(is_local(h) for h in ("0.0.0.0", "192.168.1.5", "::", "example.org"))
    assert resolve_token("127.0.0.1", None) is None
    assert resolve_token("127.0.0.1", "mine") == "mine" and resolve_token("0.0.0.0", "mine") == "mine"
    generated = resolve_token("0.0.0.0", None)
    assert generated and len(generated) >= 16 and generated != resolve_token("0.0.0.0", None)


@pytest.mark.parametrize("path", ["offer", "stats"])
def test_a_missing_token_is_401_and_a_wrong_one_403(locked: Running, offers: dict[str, str], path: str) -> None:
    method, body = ("POST", {"sdp": offers["mirror"], "type": "offer", "mode": "mirror"}) if path == "offer" else ("GET", None)
    status, reply = http(method, locked.url + path, body)
    assert status == 401 and "token" in reply["error"]
    status, reply = http(method, locked.url + path, body, _auth("not-it"))
    assert status == 403 and reply["error"] == "wrong token"
    status, reply = http("GET", locked.url + "stats?token=" + TOKEN)
    assert status == 200 and reply["peers"] == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        ([1, 2], "JSON object"),
        ({"type": "offer", "mode": "mirror"}, "'sdp'"),
        ({"sdp": "VIEWER", "type": "answer", "mode": "viewer"}, "'type'"),
        ({"sdp": "VIEWER", "type": "offer", "mode": "dance"}, "unknown mode"),
        ({"sdp": "VIEWER", "type": "offer", "mode": 3}, "'mode'"),
        ({"sdp": "v=0\r\nm=video nonsense\r\n", "type": "offer", "mode": "mirror"}, "does not parse"),
        ({"sdp": "AUDIO", "type": "offer", "mode": "mirror"}, "no video section"),
        ({"sdp": "VIEWER", "type": "offer", "mode": "mirror"}, "no video section that can send"),
        ({"sdp": "VIEWER", "type": "offer", "mode": "viewer"}, "no source of its own"),
        ({"sdp": "MIRROR-NO-ICE-UFRAG", "type": "offer", "mode": "mirror"}, "refused"),
        ({"sdp": "MIRROR-UNKNOWN-CODECS", "type": "offer", "mode": "mirror"}, "refused"),
    ],
)
def test_bad_offers_get_400_with_a_message_and_leave_nothing_behind(locked: Running, offers: dict[str, str], body, message: str) -> None:  # noqa: ANN001
    if isinstance(body, dict) and isinstance(body.get("sdp"), str):
        sdp = body["sdp"]
        mirror = offers["mirror"]
        sdp = {
            "VIEWER": offers["viewer"],
            "AUDIO": offers["audio"],
            # these parse, but cannot be used: no ICE credentials; no codec the server knows
            "MIRROR-NO-ICE-UFRAG": "".join(line + "\r\n" for line in mirror.splitlines() if not line.startswith("a=ice-ufrag")),
            "MIRROR-UNKNOWN-CODECS": mirror.replace("VP8/90000", "XV1/90000").replace("H264/90000", "XV2/90000").replace("rtx/90000", "XV3/90000"),
        }.get(sdp, sdp)
        body = {**body, "sdp": sdp}
    status, reply = http("POST", locked.url + "offer", body, _auth())
    assert status == 400, reply
    assert message in reply["error"]
    assert locked.manager.peers == 0
    assert http("GET", locked.url + "stats", headers=_auth())[0] == 200  # still serving


def test_a_body_over_the_limit_is_413(locked: Running) -> None:
    status, reply = http("POST", locked.url + "offer", {"sdp": "x" * 10_000, "type": "offer"}, _auth())
    assert status == 413 and "over 8192 bytes" in reply["error"]
    assert MAX_BODY >= 16 * 1024  # the default leaves room for a browser's offer


def test_an_offer_not_sent_as_json_is_415(locked: Running, offers: dict[str, str]) -> None:
    body = {"sdp": offers["mirror"], "type": "offer", "mode": "mirror"}
    status, reply = http("POST", locked.url + "offer", body, {**_auth(), "Content-Type": "text/plain"})
    assert status == 415 and "JSON" in reply["error"]
    assert locked.manager.peers == 0


def test_stats_of_an_unknown_session_is_404_and_numbers_are_plain_json(locked: Running) -> None:
    status, reply = http("GET", locked.url + "stats?session=nope", headers=_auth())
    assert status == 404 and "nope" in reply["error"]
    cleaned = _json_safe({"a": math.nan, "b": [1.5, math.inf], "c": {"d": 2}})
    assert cleaned == {"a": None, "b": [1.5, None], "c": {"d": 2}}
