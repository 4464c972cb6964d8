"""Server faults: fuzzed `/offer` bodies, viewers killed mid-stream, unauthenticated requests.

Everything runs against a real `dance-live --serve` process (`start_server`), so a crash is a
crash, and talks to 127.0.0.1 only: HTTP goes to the loopback address, and WebRTC peers (the
server's and the clients') gather loopback ICE candidates only (`loopback_ice`; aioice leaves
the loopback interface out by default and would use the machine's other addresses).

- `fuzz_offers`: random bytes, truncated and mutated SDP, huge fields, wrong types, wrong content
  types and encodings, broken HTTP framing, and slow senders (a body trickled in, one stopped
  half way and closed, one stopped half way and held open). Every answer must be a 4xx (a JSON
  one carries a one-line "error"), a sender that hangs up must not hurt the server, nothing may be
  left behind (no peer), and the server's log must hold no traceback.
- `serves_a_peer`: afterwards, a real WebRTC viewer still gets frames.
- `kill_viewers`: viewers in their own processes, some kept, others SIGKILLed one by one; the
  kept ones must never wait more than 1 s for a frame.
- `refuse_unauthenticated`: a server bound to every address (0.0.0.0) needs its token: requests
  without it, with a wrong one, a malformed header or the token in the wrong place are refused
  (401/403); with it they get through.

`full_rows()` runs them with the issue's counts (for bench/faults.py). The module is also the
entry point of the processes it starts: `python -m tests.faults.server_faults serve ARGS...`
(`dance-live ARGS...` with loopback ICE) and `... viewer URL [--token T]` (prints one line per frame).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults.report import FaultRow

REPO = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
MAX_GAP_S = 1.0  # the longest a kept viewer may wait for a frame while others are killed
BODY_TIMEOUT_S = 10.0  # live/server/app.py's: a body held open half way is answered 408 after this
LOG_ERRORS = ("Traceback", "Error handling request", "exception was never retrieved", "Exception in callback")


@contextlib.contextmanager
def loopback_ice() -> Iterator[None]:
    """WebRTC peers made meanwhile offer 127.0.0.1 as their only ICE candidate."""
    import aioice.ice

    saved = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [LOOPBACK]
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = saved


# --- the server process ----------------------------------------------------------------------------


@dataclass
class ServerProcess:
    """A `dance-live --serve` process and what it printed (stderr, read by a thread)."""

    process: subprocess.Popen
    url: str  # http://127.0.0.1:PORT/ (no token)
    port: int
    token: str | None
    log: list[str]

    def errors(self) -> list[str]:
        """Log lines that mean something went wrong inside the server."""
        return [line.strip() for line in list(self.log) if any(mark in line for mark in LOG_ERRORS)]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> int | None:
        """Ctrl-C, as a person would; killed if it does not stop. Its exit status (None: killed)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return None
        return self.process.returncode


def start_server(run: Path, clip: Path, host: str = LOOPBACK, max_peers: int = 4, timeout: float = 240.0) -> ServerProcess:
    """`dance-live RUN --serve --source CLIP` on a free port, once it says "serving on"."""
    command = [sys.executable, "-m", "tests.faults.server_faults", "serve", str(run), "--serve", "--source", str(clip),
               "--host", host, "--port", "0", "--threads", "1", "--max-peers", str(max_peers)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               errors="replace", env=_env())
    log: list[str] = []
    threading.Thread(target=lambda: [log.append(line) for line in process.stderr], daemon=True).start()  # type: ignore[union-attr]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        found = next((re.search(r"serving on (http://\S+)", line) for line in list(log) if "serving on" in line), None)
        if found:
            url, _, token = found.group(1).partition("?token=")
            port = int(re.search(r":(\d+)/", url).group(1))  # type: ignore[union-attr]
            return ServerProcess(process, f"http://{LOOPBACK}:{port}/", port, token or None, log)
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise RuntimeError(f"dance-live --serve did not start: {''.join(log)[-2000:]}")


def _env() -> dict[str, str]:
    """The started processes import this checkout (`tests.faults.server_faults`, `live`)."""
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


# --- a raw HTTP client (anything a broken client could send) -------------------------------------------


@dataclass
class Answer:
    status: int | None  # None: no answer (the connection closed, or timed out)
    content_type: str = ""
    body: bytes = b""
    problem: str | None = None  # why there was no answer


@dataclass
class Delivery:
    """How a body is sent: all at once, trickled in `pieces` with `pause` s between them, or
    stopped after `stop_at` bytes (then the socket is closed, or `hold` s spent waiting for an answer)."""

    pieces: int = 1
    pause: float = 0.0
    stop_at: int | None = None
    hold: float = 0.0

    @property
    def hangs_up(self) -> bool:
        return self.stop_at is not None and self.hold == 0


def http_request(port: int, method: str, path: str, headers: Sequence[tuple[str, str | bytes]] = (), body: bytes = b"",
                 delivery: Delivery | None = None, timeout: float = 30.0, content_length: bool = True) -> Answer:
    """Send one request over a fresh connection exactly as given and read the answer."""
    delivery = delivery or Delivery()
    lines = [f"{method} {path} HTTP/1.1".encode(), f"Host: {LOOPBACK}:{port}".encode(), b"Connection: close"]
    lines += [name.encode() + b": " + (value if isinstance(value, bytes) else value.encode()) for name, value in headers]
    if content_length:
        lines.append(f"Content-Length: {len(body)}".encode())
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    sent = body if delivery.stop_at is None else body[: delivery.stop_at]
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
            sock.sendall(head)
            step = max(1, -(-len(sent) // delivery.pieces))
            for start in range(0, len(sent), step):
                if start:
                    time.sleep(delivery.pause)
                sock.sendall(sent[start:start + step])
            if delivery.hangs_up:
                return Answer(None, problem="hung up half way (on purpose)")
            if delivery.stop_at is not None:
                sock.settimeout(delivery.hold)
            return _read_answer(sock)
    except TimeoutError:
        return Answer(None, problem="no answer in time")
    except OSError as err:
        return Answer(None, problem=f"connection failed: {err}")


def _read_answer(sock: socket.socket) -> Answer:
    """The status, type and body of the answer; reads only as far as its Content-Length says (the
    server may keep the connection open a while after answering a body it did not read)."""
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    found = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    if not found:
        return Answer(None, problem=f"closed without an answer ({data[:80]!r})")
    kind = re.search(rb"(?im)^content-type:\s*([^;\r\n]+)", head)
    return Answer(int(found.group(1)), kind.group(1).decode().strip().lower() if kind else "", body)


def _length(data: bytes) -> float:
    """The Content-Length of the answer whose head is in `data` (infinite when it has none: read to the end)."""
    found = re.search(rb"(?im)^content-length:\s*(\d+)", data.partition(b"\r\n\r\n")[0])
    return int(found.group(1)) if found else float("inf")


# --- fuzzed offers ---------------------------------------------------------------------------------


@dataclass
class FuzzCase:
    kind: str  # for the report: what was sent
    body: bytes
    headers: list[tuple[str, str | bytes]] = field(default_factory=lambda: [("Content-Type", "application/json")])
    delivery: Delivery = field(default_factory=Delivery)
    content_length: bool = True


# A real viewer offer (receive video) from aiortc's client, its one candidate on 127.0.0.1. Fixed, so
# that a seed always gives the same fuzz (a new offer has other ids, lengths and so random draws).
OFFER_SDP = "\r\n".join([
    'v=0',
    'o=- 4005278418 4005278418 IN IP4 0.0.0.0',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=msid-semantic:WMS *',
    'm=video 40075 UDP/TLS/RTP/SAVPF 97 98 99 100 101 102',
    'c=IN IP4 127.0.0.1',
    'a=recvonly',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=mid:0',
    'a=msid:7afa81ac-088e-42c8-a4d9-9120113ec041 7d4fb10b-eac4-4066-b59c-6ae032d24cdb',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=rtcp-mux',
    'a=ssrc-group:FID 1336556539 286079108',
    'a=ssrc:1336556539 cname:ee64548b-5028-4ce8-84f4-bf270d65af0e',
    'a=ssrc:286079108 cname:ee64548b-5028-4ce8-84f4-bf270d65af0e',
    'a=rtpmap:97 VP8/90000',
    'a=rtcp-fb:97 nack',
    'a=rtcp-fb:97 nack pli',
    'a=rtcp-fb:97 goog-remb',
    'a=rtpmap:98 rtx/90000',
    'a=fmtp:98 apt=97',
    'a=rtpmap:99 H264/90000',
    'a=rtcp-fb:99 nack',
    'a=rtcp-fb:99 nack pli',
    'a=rtcp-fb:99 goog-remb',
    'a=fmtp:99 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
    'a=rtpmap:100 rtx/90000',
    'a=fmtp:100 apt=99',
    'a=rtpmap:101 H264/90000',
    'a=rtcp-fb:101 nack',
    'a=rtcp-fb:101 nack pli',
    'a=rtcp-fb:101 goog-remb',
    'a=fmtp:101 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
    'a=rtpmap:102 rtx/90000',
    'a=fmtp:102 apt=101',
    'a=candidate:16572de626da4e5384a0ce2d0d93678a 1 udp 2130706431 127.0.0.1 40075 typ host',
    'a=end-of-candidates',
    'a=ice-ufrag:YraY',
    'a=ice-pwd:dSCh5GpNJoAmqQGO4iC3G6',
    'a=fingerprint:sha-256 D8:76:57:D8:25:C9:57:FF:36:FC:C2:DF:ED:1E:B4:1D:37:6B:DB:97:38:5A:93:C1:B8:1D:E9:07:6F:C0:E3:75',
    'a=fingerprint:sha-384 BD:1A:40:1D:96:C0:5B:77:F3:F8:12:AE:59:91:42:DD:5B:72:AD:60:4E:AC:77:A5:0A:2A:59:FE:7D:76:C3:7F:46:B6:B2:5E:5B:51:F0:76:19:67:DA:E0:BF:78:BF:8A',
    'a=fingerprint:sha-512 A7:07:3F:AE:CA:89:B1:43:C6:47:2F:FE:51:BA:83:A8:ED:79:A9:9A:DA:08:C9:B1:D8:C6:4A:3C:3C:32:03:80:65:74:A8:59:F9:19:E6:23:49:A4:3D:1A:78:AC:13:F7:6D:4D:99:FB:C5:52:55:EC:F4:59:3C:48:07:9A:A1:38',
    'a=setup:actpass',
]) + "\r\n"


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _random_text(rng: random.Random, length: int) -> str:
    alphabet = "abc{}[]\":,0123456789 \r\n\t\\/=-.é€\u0000\ud7ff\U0001f600"
    return "".join(rng.choice(alphabet) for _ in range(length))


# SDP edits that make any offer unusable, applied after the random ones, so that no fuzzed offer can
# open a session (each is refused by the server's checks or by aiortc before ICE starts: no packet
# ever leaves for the offer's addresses).
BREAKERS: dict[str, Callable[[str], str]] = {
    "no ice-ufrag": lambda sdp: "".join(line for line in sdp.splitlines(True) if "ice-ufrag" not in line),
    "no ice-pwd": lambda sdp: "".join(line for line in sdp.splitlines(True) if "ice-pwd" not in line),
    "no rtcp-mux": lambda sdp: "".join(line for line in sdp.splitlines(True) if "rtcp-mux" not in line),
    "send only": lambda sdp: re.sub(r"a=(recvonly|sendrecv|inactive)", "a=sendonly", sdp),
    "no video": lambda sdp: sdp.replace("m=video", "m=text"),
}


def _mutate_sdp(rng: random.Random, sdp: str) -> str:
    lines = sdp.splitlines(True)
    for _ in range(rng.randint(1, 6)):
        if not lines:
            break
        i = rng.randrange(len(lines))
        op = rng.choice(["flip", "insert", "delete", "duplicate", "number", "swap", "junk line", "cut line"])
        line = lines[i]
        if op == "flip" and line:
            j = rng.randrange(len(line))
            lines[i] = line[:j] + chr(rng.randrange(1, 0x3000)) + line[j + 1:]
        elif op == "insert":
            lines.insert(i, _random_text(rng, rng.randint(1, 80)) + "\r\n")
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, line)
        elif op == "number":
            lines[i] = re.sub(r"\d+", lambda _: str(rng.choice([0, -1, 2**31, 2**64, 10**40])), line, count=1)
        elif op == "swap":
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "junk line":
            lines.insert(i, rng.choice(["a=", "m=", "=", "a=candidate:x", "m=video", "c=IN IP4", "a=rtpmap:", "a=fmtp:96 " + "x" * 300,
                                        "a=ssrc:1 cname:", "a=extmap:99999 x", "a=ice-options:", "v=1", "t=a b"]) + "\r\n")
        elif op == "cut line" and line:
            lines[i] = line[: rng.randrange(len(line))]
    text = "".join(lines)
    return text.replace(".local", ".invalid")  # never an mDNS name: resolving one would leave this machine


def _sdp_body(rng: random.Random, sdp: str, mode: str | None = None) -> dict:
    return {"sdp": sdp, "type": "offer", "mode": mode or rng.choice(["viewer", "viewer", "mirror"])}


def fuzz_case(rng: random.Random, sdp: str) -> FuzzCase:
    """One fuzzed request to /offer; it never holds a usable offer."""
    kind = rng.choices(
        ["random bytes", "random text", "truncated JSON", "truncated SDP", "mutated SDP", "huge field", "wrong type",
         "wrong content type", "content encoding", "HTTP framing", "slow sender"],
        weights=[8, 6, 8, 10, 22, 8, 10, 8, 6, 6, 8],
    )[0]
    return FUZZERS[kind](rng, sdp)


def _random_bytes(rng: random.Random, sdp: str) -> FuzzCase:
    return FuzzCase("random bytes", rng.randbytes(rng.choice([0, 1, 7, 100, 1000, 4000])))


def _random_text_case(rng: random.Random, sdp: str) -> FuzzCase:
    return FuzzCase("random text", _random_text(rng, rng.randint(0, 2000)).encode("utf-8", "surrogatepass"))


def _truncated_json(rng: random.Random, sdp: str) -> FuzzCase:
    whole = _json(_sdp_body(rng, sdp))
    return FuzzCase("truncated JSON", whole[: rng.randrange(len(whole))])


def _truncated_sdp(rng: random.Random, sdp: str) -> FuzzCase:
    cut = rng.randrange(sdp.index("a=ice-ufrag"))  # the ICE credentials come last: a cut before them is unusable
    return FuzzCase("truncated SDP", _json(_sdp_body(rng, sdp[:cut])))


def _mutated_sdp(rng: random.Random, sdp: str) -> FuzzCase:
    breaker = rng.choice(list(BREAKERS))
    mutated = BREAKERS[breaker](_mutate_sdp(rng, sdp))
    return FuzzCase(f"mutated SDP ({breaker})", json.dumps(_sdp_body(rng, mutated)).encode("utf-8", "surrogatepass"))


def _huge_field(rng: random.Random, sdp: str) -> FuzzCase:
    big = "x" * rng.choice([60_000, 63_000])
    broken = BREAKERS["no ice-ufrag"](sdp)
    choice = rng.randrange(9)
    body = [
        lambda: _json({"sdp": big, "type": "offer", "mode": "viewer"}),
        lambda: _json({"sdp": broken, "type": "offer", "mode": big[:50_000]}),
        lambda: _json({"sdp": broken, "type": big[:50_000], "mode": "viewer"}),
        lambda: _json({"sdp": broken + "a=x:" + big[:50_000] + "\r\n", "type": "offer", "mode": "viewer"}),
        lambda: _json({**_sdp_body(rng, broken), big[:40_000]: 1}),
        lambda: b"[" * 30_000 + b"]" * 30_000,  # deeper than the JSON parser's recursion
        lambda: b'{"sdp": ' + b"9" * 50_000 + b', "type": "offer"}',
        lambda: _json({"sdp": broken, "type": "offer", "mode": "viewer", "pad": "y" * rng.choice([70_000, 1_000_000])}),
        lambda: _json({f"k{i}": i for i in range(5000)}),
    ][choice]()
    return FuzzCase(f"huge field #{choice}", body)


def _wrong_type(rng: random.Random, sdp: str) -> FuzzCase:
    odd = rng.choice([None, True, 0, -1.5, 1e308, [], [sdp], {}, {"sdp": sdp}, "", " \r\n "])
    where = rng.choice(["body", "sdp", "type", "mode"])
    body = odd if where == "body" else {**_sdp_body(rng, sdp), where: odd}
    if where in ("type", "mode") and isinstance(body, dict):
        body["sdp"] = BREAKERS["no ice-ufrag"](sdp)  # a wrong mode or type must not matter: the offer is unusable anyway
    return FuzzCase(f"wrong type ({where}: {type(odd).__name__})", _json(body))


def _wrong_content_type(rng: random.Random, sdp: str) -> FuzzCase:
    body = _json(_sdp_body(rng, BREAKERS["no ice-ufrag"](sdp)))  # a type read as JSON gets to the offer: it must be unusable
    kind = rng.choice(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xx", "application/xml",
                       None, "", "application/json; charset=bogus-8", "application/json; charset=utf-16", "application/jsonx",
                       "application/json; charset=latin-1", "APPLICATION/JSON; CHARSET=UTF-32", "*/*", "application/json, text/plain",
                       "application/json; charset=\"\"", "application/json;;;"])
    headers = [] if kind is None else [("Content-Type", kind)]
    return FuzzCase(f"content type {kind!r}", body, headers)


def _content_encoding(rng: random.Random, sdp: str) -> FuzzCase:
    inner = _json(_sdp_body(rng, BREAKERS["no ice-pwd"](sdp)))
    choice = rng.choice(["gzip garbage", "deflate garbage", "br garbage", "gzip bomb", "gzip of a broken offer", "unknown"])
    body = {
        "gzip garbage": lambda: rng.randbytes(500),
        "deflate garbage": lambda: b"\x78\x9c" + rng.randbytes(300),
        "br garbage": lambda: rng.randbytes(300),
        "gzip bomb": lambda: gzip.compress(b"[" + b" " * 20_000_000 + b"]"),
        "gzip of a broken offer": lambda: gzip.compress(inner),
        "unknown": lambda: zlib.compress(inner),
    }[choice]()
    encoding = {"deflate garbage": "deflate", "br garbage": "br", "unknown": "x-snappy"}.get(choice, "gzip")
    return FuzzCase(f"content encoding ({choice})", body, [("Content-Type", "application/json"), ("Content-Encoding", encoding)])


def _http_framing(rng: random.Random, sdp: str) -> FuzzCase:
    body = _json(_sdp_body(rng, BREAKERS["send only"](sdp), "viewer"))
    choice = rng.choice(["bad chunk size", "chunks of a broken offer", "negative length", "letters for length",
                         "two lengths", "length and chunks", "length too short"])
    json_type = ("Content-Type", "application/json")
    if choice == "bad chunk size":
        return FuzzCase(choice, b"zz\r\n" + body + b"\r\n0\r\n\r\n", [json_type, ("Transfer-Encoding", "chunked")], content_length=False)
    if choice == "chunks of a broken offer":
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 100]), body[i:i + 100]) for i in range(0, len(body), 100)) + b"0\r\n\r\n"
        return FuzzCase(choice, chunked, [json_type, ("Transfer-Encoding", "chunked")], content_length=False)
    if choice == "negative length":
        return FuzzCase(choice, body, [json_type, ("Content-Length", "-5")], content_length=False)
    if choice == "letters for length":
        return FuzzCase(choice, body, [json_type, ("Content-Length", "lots")], content_length=False)
    if choice == "two lengths":
        return FuzzCase(choice, body, [json_type, ("Content-Length", str(len(body))), ("Content-Length", "3")], content_length=False)
    if choice == "length and chunks":
        return FuzzCase(choice, body, [json_type, ("Content-Length", str(len(body))), ("Transfer-Encoding", "chunked")], content_length=False)
    return FuzzCase(choice, body, [json_type, ("Content-Length", str(len(body) // 2))], content_length=False)


def _slow_sender(rng: random.Random, sdp: str) -> FuzzCase:
    body = _json(_sdp_body(rng, BREAKERS["no ice-ufrag"](sdp)))
    choice = rng.choice(["trickled", "trickled", "hung up half way", "hung up half way", "stalled half way"])
    if choice == "trickled":
        return FuzzCase("slow sender (trickled)", body, delivery=Delivery(pieces=rng.randint(5, 20), pause=rng.uniform(0.05, 0.15)))
    stop = rng.randrange(1, len(body) - 1)
    if choice == "hung up half way":
        return FuzzCase("slow sender (hung up half way)", body, delivery=Delivery(pieces=3, pause=0.05, stop_at=stop))
    return FuzzCase("slow sender (stalled half way)", body, delivery=Delivery(stop_at=stop, hold=BODY_TIMEOUT_S + 10))


FUZZERS: dict[str, Callable[[random.Random, str], FuzzCase]] = {
    "random bytes": _random_bytes, "random text": _random_text_case, "truncated JSON": _truncated_json,
    "truncated SDP": _truncated_sdp, "mutated SDP": _mutated_sdp, "huge field": _huge_field, "wrong type": _wrong_type,
    "wrong content type": _wrong_content_type, "content encoding": _content_encoding, "HTTP framing": _http_framing,
    "slow sender": _slow_sender,
}


def answer_problem(case: FuzzCase, answer: Answer) -> str | None:
    """What is wrong with the server's answer to a fuzzed request, or None."""
    if case.delivery.hangs_up:
        return None  # nobody to answer; the server keeps serving (checked by the requests around it)
    if answer.status is None:
        return answer.problem or "no answer"
    if not 400 <= answer.status < 500:
        return f"answered {answer.status}"
    if answer.content_type == "application/json":
        try:
            message = json.loads(answer.body)["error"]
        except (ValueError, KeyError, TypeError):
            return f"a {answer.status} without an error message: {answer.body[:80]!r}"
        if not isinstance(message, str) or "\n" in message:
            return f"a {answer.status} whose error is not one line: {message!r:.80}"
    if case.kind.endswith("(stalled half way)") and answer.status != 408:
        return f"answered {answer.status}, not 408, to a body that stopped coming"
    return None


def fuzz_offers(base_url: str, count: int, seed: int = 0, sdp: str = OFFER_SDP,
                server_errors: Callable[[], list[str]] | None = None, slow_workers: int = 8) -> FaultRow:
    """POST `count` fuzzed bodies to /offer (slow senders on their own threads meanwhile, so the
    others also show that a slow one blocks nobody). `server_errors` gives the server's logged
    errors: each one new during the fuzz is a failure."""
    port = int(re.search(r":(\d+)", base_url.split("//", 1)[1]).group(1))  # type: ignore[union-attr]
    rng = random.Random(seed)
    cases = [fuzz_case(rng, sdp) for _ in range(count)]
    row = FaultRow("server", "fuzzed /offer bodies (garbage, cut and mutated SDP, huge fields, wrong types, slow senders)", count, 0)
    errors_before = len(server_errors()) if server_errors else 0

    def send(case: FuzzCase) -> Answer:
        return http_request(port, "POST", "/offer", case.headers, case.body, case.delivery, content_length=case.content_length)

    with ThreadPoolExecutor(slow_workers, thread_name_prefix="slow-sender") as pool:
        pending: list[tuple[FuzzCase, Future[Answer]]] = []
        for case in cases:
            if case.delivery.pieces > 1 or case.delivery.stop_at is not None:
                pending.append((case, pool.submit(send, case)))
            else:
                _judge(row, case, send(case))
        for case, answer in pending:
            _judge(row, case, answer.result())
    stats = http_request(port, "GET", "/stats")
    if stats.status != 200:
        row.fail(f"after the fuzz /stats answered {stats.status or stats.problem}")
    elif json.loads(stats.body).get("peers") != 0:
        row.fail(f"after the fuzz the server holds peers: {stats.body[:200]!r}")
    if server_errors:
        for line in server_errors()[errors_before:][:5]:
            row.fail(f"the server logged: {line[:160]}")
    return row


def _judge(row: FaultRow, case: FuzzCase, answer: Answer) -> None:
    problem = answer_problem(case, answer)
    if problem is None:
        row.passed += 1
    else:
        row.fail(f"{case.kind}: {problem}")


# --- a real peer -------------------------------------------------------------------------------------


def serves_a_peer(base_url: str, frames: int = 10, token: str | None = None, timeout: float = 60.0) -> FaultRow:
    """A real WebRTC viewer connects and receives `frames` frames (one try)."""
    from live.server.client import connect

    async def watch() -> int:
        async with await connect(base_url, "viewer", token=token, timeout=timeout) as peer:
            for _ in range(frames):
                await asyncio.wait_for(peer.track.recv(), timeout)
            return frames

    row = FaultRow("server", "a real WebRTC viewer served after the faults", 1, 0)
    try:
        with loopback_ice():
            asyncio.run(watch())
        row.passed = 1
    except Exception as err:  # noqa: BLE001 - the failure is the finding
        row.fail(f"{type(err).__name__}: {err}")
    return row


# --- viewers killed mid-stream ------------------------------------------------------------------------


@dataclass
class Viewer:
    """A viewer process and the monotonic times of the frames it received."""

    process: subprocess.Popen
    frames: list[float] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, base_url: str, token: str | None = None) -> Viewer:
        command = [sys.executable, "-m", "tests.faults.server_faults", "viewer", base_url] + (["--token", token] if token else [])
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   errors="replace", env=_env())
        viewer = cls(process)
        threading.Thread(target=viewer._read, daemon=True).start()
        return viewer

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            if line.startswith("frame "):
                self.frames.append(float(line.split()[1]))
            else:
                self.lines.append(line.strip())

    def wait_frames(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.frames) < count and time.monotonic() < deadline and self.process.poll() is None:
            time.sleep(0.05)
        return len(self.frames) >= count

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def longest_wait(frames: Sequence[float], start: float, end: float) -> float:
    """The longest a viewer waited for a frame in [start, end]: from its last frame before `start`
    (or `start`) through the frames in the window to `end` (a viewer still waiting counts)."""
    times = sorted(frames)
    marks = [max((t for t in times if t <= start), default=start)] + [t for t in times if start < t < end] + [end]
    return max(b - a for a, b in zip(marks, marks[1:]))


def kill_viewers(base_url: str, victims: int, survivors: int = 2, seed: int = 0, token: str | None = None,
                 join_timeout: float = 90.0) -> FaultRow:
    """`survivors` viewers watch throughout while `victims` others join one at a time, play a
    few frames and are SIGKILLed. One try per victim: it played, was killed, and no survivor
    waited more than MAX_GAP_S for a frame from its start until the next one's."""
    rng = random.Random(seed)
    row = FaultRow("server", f"viewers SIGKILLed mid-stream ({survivors} others kept watching, no wait over {MAX_GAP_S:g} s)",
                   victims, 0)
    kept = [Viewer.start(base_url, token) for _ in range(survivors)]
    try:
        if not all(v.wait_frames(5, join_timeout) for v in kept):
            for v in kept:
                row.fail(f"a kept viewer never played: {' | '.join(v.lines[-3:])}")
            return row
        windows: list[tuple[float, float | None, str | None]] = []  # (start, end, problem of the victim itself)
        for _ in range(victims):
            start = time.monotonic()
            victim = Viewer.start(base_url, token)
            problem = None
            if not victim.wait_frames(rng.randint(2, 10), join_timeout):
                problem = f"the victim never played ({' | '.join(victim.lines[-2:])})"
            victim.kill()
            if windows:
                windows[-1] = (windows[-1][0], start, windows[-1][2])
            windows.append((start, None, problem))
            time.sleep(rng.uniform(0.3, 1.5))
        time.sleep(1.5)  # the survivors are watched a little after the last kill
        end = time.monotonic()
        for start, stop, problem in windows:
            stop = stop or end
            waits = [longest_wait(v.frames, start, stop) for v in kept]
            if problem is None and max(waits) > MAX_GAP_S:
                problem = f"a kept viewer waited {max(waits):.2f} s for a frame"
            if problem is None and not all(v.process.poll() is None for v in kept):
                problem = f"a kept viewer ended: {' | '.join(line for v in kept for line in v.lines[-2:])}"
            if problem is None:
                row.passed += 1
            else:
                row.fail(problem)
    finally:
        for v in kept:
            v.kill()
    return row


# --- off loopback, a token is needed --------------------------------------------------------------------


@dataclass
class AuthCase:
    name: str
    method: str
    path: str
    headers: list[tuple[str, str | bytes]]
    body: bytes = b""
    allowed: tuple[int, ...] = (401, 403)  # what counts as refused (or, for the controls, as let through)


def auth_cases(token: str, sdp: str) -> list[AuthCase]:
    """Requests that must be refused, then the controls that must get through (with the token)."""
    unusable = _json({"sdp": BREAKERS["no ice-ufrag"](sdp), "type": "offer", "mode": "viewer"})
    usable = _json({"sdp": sdp, "type": "offer", "mode": "viewer"})  # it would open a session if let through
    json_type = ("Content-Type", "application/json")
    basic = base64.b64encode(f"user:{token}".encode()).decode()
    variants: list[tuple[str, list[tuple[str, str | bytes]], str]] = [
        ("no token", [], ""),
        ("wrong token", [("Authorization", "Bearer wrong-token")], ""),
        ("empty bearer", [("Authorization", "Bearer ")], ""),
        ("bearer, no token", [("Authorization", "Bearer")], ""),
        ("no space after Bearer", [("Authorization", f"Bearer{token}")], ""),
        ("Basic scheme", [("Authorization", f"Basic {basic}")], ""),
        ("Token scheme", [("Authorization", f"Token {token}")], ""),
        ("bare token header", [("Authorization", token)], ""),
        ("token plus a character", [("Authorization", f"Bearer {token}x")], ""),
        ("token less a character", [("Authorization", f"Bearer {token[:-1]}")], ""),
        ("token with swapped case", [("Authorization", f"Bearer {token.swapcase()}")], ""),
        ("token twice", [("Authorization", f"Bearer {token} {token}")], ""),
        ("non-UTF-8 token", [("Authorization", b"Bearer \xff\xfe\xfd")], ""),
        ("non-ASCII token", [("Authorization", "Bearer jéton€".encode())], ""),
        ("8 KB token", [("Authorization", "Bearer " + "A" * 8000)], ""),
        ("X-Token header", [("X-Token", token)], ""),
        ("cookie", [("Cookie", f"token={token}")], ""),
        ("forwarded for loopback", [("X-Forwarded-For", LOOPBACK), ("X-Real-IP", LOOPBACK)], ""),
        ("Host: localhost", [("X-Original-Host", "localhost")], ""),
        ("empty query token", [], "?token="),
        ("wrong query token", [], "?token=wrong"),
        ("access_token query", [], f"?access_token={token}"),
        ("Token query (capital)", [], f"?Token={token}"),
        ("bare query", [], f"?{token}"),
        ("percent-garbage query", [], "?token=%FF%FE"),
        ("NUL after token", [], f"?token={token}%00"),
        ("wrong header, right query", [("Authorization", "Bearer wrong-token")], f"?token={token}"),
        ("wrong first of two headers", [("Authorization", "Bearer wrong-token"), ("Authorization", f"Bearer {token}")], ""),
    ]
    cases = []
    for name, headers, query in variants:
        cases.append(AuthCase(f"GET /stats: {name}", "GET", "/stats" + query, headers))
        cases.append(AuthCase(f"POST /offer: {name}", "POST", "/offer" + query, [json_type, *headers], usable))
    cases.append(AuthCase("POST /offer: token in the JSON body", "POST", "/offer", [json_type],
                          _json({"sdp": sdp, "type": "offer", "mode": "viewer", "token": token})))
    cases += [
        AuthCase("control: GET /stats with the token", "GET", "/stats", [("Authorization", f"Bearer {token}")], allowed=(200,)),
        AuthCase("control: GET /stats with ?token=", "GET", f"/stats?token={token}", [], allowed=(200,)),
        AuthCase("control: lower-case bearer", "GET", "/stats", [("authorization", f"bearer {token}")], allowed=(200,)),
        AuthCase("control: POST /offer with the token gets to the offer's checks", "POST", "/offer",
                 [json_type, ("Authorization", f"Bearer {token}")], unusable, allowed=(400,)),
    ]
    return cases


def refuse_unauthenticated(base_url: str, token: str, sdp: str = OFFER_SDP) -> FaultRow:
    """Every `auth_cases` request against a server bound beyond loopback (it needs `token`):
    the refused ones must get 401/403, the controls their answer."""
    port = int(re.search(r":(\d+)", base_url.split("//", 1)[1]).group(1))  # type: ignore[union-attr]
    cases = auth_cases(token, sdp)
    row = FaultRow("server", "requests without the right token, server bound beyond loopback (refused; the token gets through)",
                   len(cases), 0)
    for case in cases:
        answer = http_request(port, case.method, case.path, case.headers, case.body)
        if answer.status in case.allowed:
            row.passed += 1
        else:
            row.fail(f"{case.name}: answered {answer.status or answer.problem}")
    return row


# --- everything, at the counts -------------------------------------------------------------------


def full_rows(work: Path | None = None, fuzz: int = 1000, victims: int = 20, survivors: int = 2, seed: int = 0) -> list[FaultRow]:
    """The server rows at the issue's counts, for bench/faults.py.

    work: folder for the tiny run and the clip (default: a temporary one, removed after); fuzz:
    fuzzed /offer bodies; victims: viewers SIGKILLed mid-stream while `survivors` others watch;
    seed: the fuzz and the kill timing. Starts two `dance-live --serve` processes (loopback,
    and every address with a generated token; only 127.0.0.1 is ever contacted), trains a tiny
    run (about a minute on 2 CPU cores) and fetches the real clip (tests/conftest.py) unless
    `work` holds them already. Rows: fuzz, a real peer afterwards, killed viewers, unauthenticated
    requests, and the servers' logs and exits.
    """
    from tests.conftest import fetch_pose2sim_clip
    from tests.faults.live_faults import make_small_clip, make_tiny_run

    with tempfile.TemporaryDirectory(prefix="faults-server-") as temporary:
        folder = Path(work) if work is not None else Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        run = make_tiny_run(folder)
        clip = make_small_clip(fetch_pose2sim_clip("cam01"), folder / "small.mp4")
        local = start_server(run, clip, max_peers=survivors + victims + 4)
        wide = None
        try:
            wide = start_server(run, clip, host="0.0.0.0")  # noqa: S104 - bound everywhere, contacted on 127.0.0.1 only
            return [
                fuzz_offers(local.url, fuzz, seed, server_errors=local.errors),
                serves_a_peer(local.url),
                kill_viewers(local.url, victims, survivors, seed),
                refuse_unauthenticated(wide.url, wide.token or ""),
                server_exits([local, wide]),
            ]
        finally:
            for server in (local, wide):
                if server is not None:
                    server.stop()


def server_exits(servers: Sequence[ServerProcess]) -> FaultRow:
    """Each server is still running, logged no error, and stops on Ctrl-C with status 0."""
    row = FaultRow("server", "servers alive after the faults, no error logged, clean exit on Ctrl-C", len(servers), 0)
    for server in servers:
        problem = None if server.alive else f"the server died (status {server.process.returncode})"
        problem = problem or next((f"logged: {line[:160]}" for line in server.errors()), None)
        status = server.stop()
        problem = problem or (None if status == 0 else f"exit status {status} on Ctrl-C")
        if problem is None:
            row.passed += 1
        else:
            row.fail(f"{server.url}: {problem}")
    return row


# --- the processes this module starts ------------------------------------------------------------------


async def _watch(url: str, token: str | None) -> None:
    from live.server.client import connect

    async with await connect(url, "viewer", token=token) as peer:
        print(f"session {peer.session}", flush=True)
        while True:
            await asyncio.wait_for(peer.track.recv(), 30)
            print(f"frame {time.monotonic():.4f}", flush=True)


def main(argv: Sequence[str]) -> None:
    if argv[:1] == ["serve"]:
        from live.cli import main as dance_live

        # Ctrl-C stops it as in a terminal, even when the suite was started where SIGINT is ignored
        # (a background job of a script, nohup), which Python would otherwise pass on to it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with loopback_ice():
            dance_live(args=list(argv[1:]), prog_name="dance-live")
    elif argv[:1] == ["viewer"]:
        url, token = argv[1], (argv[3] if argv[2:3] == ["--token"] else None)
        with loopback_ice():
            asyncio.run(_watch(url, token))
    else:
        raise SystemExit("usage: python -m tests.faults.server_faults serve DANCE-LIVE-ARGS... | viewer URL [--token T]")


if __name__ == "__main__":
    main(sys.argv[1:])
