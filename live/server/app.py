"""The web server: one page, `POST /offer` (SDP offer in, answer out) and `GET /stats`.

    GET  /          the viewer page (plain HTML + JS, served from ./static)
    POST /offer     {"sdp", "type": "offer", "mode": "viewer" | "mirror"} -> {"sdp", "type", "session"}
    GET  /stats     every session's numbers; ?session=ID for one

It binds 127.0.0.1 unless told otherwise; on any other address a token is required (given, or
generated and printed), sent as `Authorization: Bearer TOKEN` (the page takes it from its URL,
`/?token=TOKEN`). A client's mistake is answered with a status and a one-line message, never
with a crash: 400 bad JSON or SDP (or a body cut off or badly compressed), 401/403 missing or
wrong token, 408 a body that stops coming, 413 body too large, 415 not sent as (UTF-8) JSON, 503
no peer slot left.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import math
import secrets
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from live.server.session import OfferError, ServerBusy, SessionManager
from shared.errors import DanceError

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 64 * 1024  # bytes; a browser's offer (no trickle, all candidates) is 3-10 KB
BODY_TIMEOUT_S = 10.0  # a browser sends its offer at once; a body still coming after this is dropped
WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104 - names for "every address", to print a usable URL
MANAGER: web.AppKey[SessionManager] = web.AppKey("manager", SessionManager)
TOKEN: web.AppKey[str] = web.AppKey("token", str)  # holds None when no token is needed
BODY_LIMIT: web.AppKey[int] = web.AppKey("body_limit", int)
BODY_TIMEOUT: web.AppKey[float] = web.AppKey("body_timeout", float)


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080  # 0: any free port
    token: str | None = None
    max_body: int = MAX_BODY


def is_local(host: str) -> bool:
    """Whether `host` is this machine's loopback (nobody else can reach it)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def resolve_token(host: str, token: str | None) -> str | None:
    """The token /offer will ask for: the given one; a new random one when binding beyond this
    machine without one; None (no token) on the loopback address."""
    if token:
        return token
    return None if is_local(host) else secrets.token_urlsafe(16)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _json_safe(value: object) -> object:
    """NaN/inf (empty percentiles) -> null: JSON has no NaN and browsers refuse it."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _token_problem(request: web.Request) -> web.Response | None:
    token = request.app[TOKEN]
    if token is None:
        return None
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header.lower().startswith("bearer ") else request.query.get("token", "")
    if not given:
        return _error(401, "this server needs a token: open the URL it printed (…/?token=…) or send 'Authorization: Bearer TOKEN'")
    # surrogateescape: aiohttp keeps a header's bytes that are not UTF-8 as surrogates (still a wrong token, not a 500)
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode()):
        return _error(403, "wrong token")
    return None


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def script(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "app.js", headers={"Cache-Control": "no-store"})


async def _read_text(request: web.Request) -> str | web.Response:
    """The body as text, or the answer to a body that cannot be read: too large, too slow (a
    sender that stops half way would otherwise hold its connection for ever), cut off, badly
    compressed, or in a charset that does not exist."""
    limit, timeout = request.app[BODY_LIMIT], request.app[BODY_TIMEOUT]
    try:
        raw = await asyncio.wait_for(request.read(), timeout)
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"request body over {limit} bytes")
    except TimeoutError:
        return _error(408, f"the body did not arrive within {timeout:g} s")
    except (web.RequestPayloadError, HttpProcessingError, ConnectionError) as err:  # cut off, bad chunks or compression
        return _error(400, f"the body could not be read ({type(err).__name__})")
    try:
        return raw.decode(request.charset or "utf-8")
    except LookupError:
        return _error(415, f"unknown charset {request.charset!r:.40}; send the offer as UTF-8 JSON")
    except UnicodeDecodeError as err:
        return _error(400, f"the body is not JSON ({err})")


async def offer(request: web.Request) -> web.Response:
    problem = _token_problem(request)
    if problem is not None:
        return problem
    if request.content_type != "application/json":  # also makes a cross-site form post need CORS, which we never grant
        return _error(415, "send the offer as JSON (Content-Type: application/json)")
    limit = request.app[BODY_LIMIT]
    if request.content_length is not None and request.content_length > limit:
        return _error(413, f"request body over {limit} bytes")
    text = await _read_text(request)
    if isinstance(text, web.Response):
        return text
    try:
        body = json.loads(text)
    except ValueError as err:  # bad JSON
        return _error(400, f"the body is not JSON ({err})")
    except RecursionError:
        return _error(400, "the body is not an offer (JSON nested too deep)")
    if not isinstance(body, dict):
        return _error(400, 'the body must be a JSON object {"sdp", "type", "mode"}')
    sdp, kind, mode = body.get("sdp"), body.get("type"), body.get("mode", "viewer")
    if not isinstance(sdp, str) or not sdp.strip():
        return _error(400, "'sdp' must be the offer's SDP text")
    if kind != "offer":
        return _error(400, f"'type' must be 'offer', not {kind!r}")
    if not isinstance(mode, str):
        return _error(400, "'mode' must be 'viewer' or 'mirror'")
    manager = request.app[MANAGER]
    try:
        answer, session = await manager.open(mode, sdp)
    except OfferError as err:
        return _error(400, str(err))
    except ServerBusy as err:
        return _error(503, str(err))
    except DanceError as err:  # the server's own source failed (camera gone, file unreadable)
        manager.log(f"offer refused: {err}")
        return _error(503, str(err))
    manager.log(f"{session.kind} session {session.id} opened ({manager.peers} of {manager.settings.max_peers} peers)")
    return web.json_response({"sdp": answer.sdp, "type": answer.type, "session": session.id})


async def stats(request: web.Request) -> web.Response:
    problem = _token_problem(request)
    if problem is not None:
        return problem
    session = request.query.get("session")
    data = request.app[MANAGER].stats(session)
    if data is None:
        return _error(404, f"no session {session!r} (closed, or never opened)")
    return web.json_response(_json_safe(data))


def create_app(manager: SessionManager, token: str | None = None, max_body: int = MAX_BODY,
               body_timeout: float = BODY_TIMEOUT_S) -> web.Application:
    app = web.Application(client_max_size=max_body)
    app[MANAGER] = manager
    app[TOKEN] = token  # type: ignore[assignment]
    app[BODY_LIMIT] = max_body
    app[BODY_TIMEOUT] = body_timeout
    app.router.add_get("/", index)
    app.router.add_get("/app.js", script)
    app.router.add_post("/offer", offer)
    app.router.add_get("/stats", stats)

    async def startup(_: web.Application) -> None:
        await manager.start()

    async def shutdown(_: web.Application) -> None:
        await manager.close_all()

    app.on_startup.append(startup)
    app.on_shutdown.append(shutdown)
    return app


def page_url(host: str, port: int, token: str | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    shown = "127.0.0.1" if host in WILDCARDS else shown
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


class _MalformedRequestFilter(logging.Filter):
    """aiohttp answers a malformed request (broken HTTP framing, bad chunks) with 400 itself, then
    logs it with a traceback (and a body that did not decompress once more, after /offer answered
    400); it is the client's mistake, so it is told in one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, (HttpProcessingError, web.RequestPayloadError)):  # the latter: a body that did not decode
            where = record.args[0] if isinstance(record.args, tuple) and record.args else "a client"
            record.msg, record.args = "refused a malformed request from %s (%s)", (where, " ".join(str(error).split())[:200])
            record.exc_info, record.exc_text = None, None
        return True


def request_logger() -> logging.Logger:
    """The logger aiohttp reports request errors to: stderr, one line for a client's malformed
    request, a traceback for anything else. Not registered with `logging` (nothing global)."""
    logger = logging.Logger("dancenow.server", logging.WARNING)
    logger.addHandler(logging.StreamHandler())
    logger.addFilter(_MalformedRequestFilter())
    return logger


async def _start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, handle_signals=False, access_log=None, logger=request_logger())
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as err:
        await runner.cleanup()
        raise DanceError(f"cannot listen on {host}:{port} ({err.strerror or err}); pick another --port or --host") from None
    return runner, runner.addresses[0][1]


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C, and `kill` or a service manager


def serve_forever(app: web.Application, config: ServerConfig, log: Callable[[str], None] = print) -> None:
    """Serve until Ctrl-C or SIGTERM; every session and pipeline is closed on the way out.

    The server handles both signals itself: asyncio's own Ctrl-C handling steps aside when the
    process inherited SIGINT as ignored (a background job of a script, nohup), and such a server
    then ran on after Ctrl-C; SIGTERM otherwise ends the process without closing anything."""

    async def main() -> None:
        runner, port = await _start(app, config.host, config.port)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for stop_signal in STOP_SIGNALS:
            loop.add_signal_handler(stop_signal, stop.set)
        where = "  (every address: from another computer use this one's name or IP)" if config.host in WILDCARDS else ""
        log(f"serving on {page_url(config.host, port, app[TOKEN])}{where}  (Ctrl-C to stop)")
        try:
            await stop.wait()
        finally:
            for stop_signal in STOP_SIGNALS:
                loop.remove_signal_handler(stop_signal)
            await runner.cleanup()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


class BackgroundServer:
    """The server on its own event-loop thread (tests, benchmarks): `with BackgroundServer(app) as url:`."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="server-loop", daemon=True)

    @property
    def url(self) -> str:
        return page_url(self.host, self.port, None)

    def start(self) -> str:
        self._thread.start()
        self._runner, self.port = asyncio.run_coroutine_threadsafe(_start(self.app, self.host, self.port), self.loop).result()
        return self.url

    def call(self, coro, timeout: float | None = 30):  # noqa: ANN001, ANN201 - any coroutine, its result
        """Run a coroutine on the server's loop (e.g. to inspect or close sessions) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self._runner is not None:
            self.call(self._runner.cleanup(), timeout=60)
            self._runner = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
