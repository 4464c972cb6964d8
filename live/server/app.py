"""The web server: one page, `POST /offer` (SDP offer in, answer out) and `GET /stats`.

    GET  /          the viewer page (plain HTML + JS, served from ./static)
    POST /offer     {"sdp", "type": "offer", "mode": "viewer" | "mirror"} -> {"sdp", "type", "session"}
    GET  /stats     every session's numbers; ?session=ID for one

It binds 127.0.0.1 unless told otherwise; on any other address a token is required (given, or
generated and printed), sent as `Authorization: Bearer TOKEN` (the page takes it from its URL,
`/?token=TOKEN`). A client's mistake is answered with a status and a one-line message, never
with a crash: 400 bad JSON or SDP, 401/403 missing or wrong token, 413 body too large, 503 no
peer slot left, 415 not sent as JSON.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import math
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from live.server.session import OfferError, ServerBusy, SessionManager
from shared.errors import DanceError

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 64 * 1024  # bytes; a browser's offer (no trickle, all candidates) is 3-10 KB
WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104 - names for "every address", to print a usable URL
MANAGER: web.AppKey[SessionManager] = web.AppKey("manager", SessionManager)
TOKEN: web.AppKey[str] = web.AppKey("token", str)  # holds None when no token is needed
BODY_LIMIT: web.AppKey[int] = web.AppKey("body_limit", int)


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
    if not hmac.compare_digest(given.encode(), token.encode()):
        return _error(403, "wrong token")
    return None


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def script(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "app.js", headers={"Cache-Control": "no-store"})


async def offer(request: web.Request) -> web.Response:
    problem = _token_problem(request)
    if problem is not None:
        return problem
    if request.content_type != "application/json":  # also makes a cross-site form post need CORS, which we never grant
        return _error(415, "send the offer as JSON (Content-Type: application/json)")
    limit = request.app[BODY_LIMIT]
    if request.content_length is not None and request.content_length > limit:
        return _error(413, f"request body over {limit} bytes")
    try:
        body = json.loads(await request.text())
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"request body over {limit} bytes")
    except ValueError as err:  # bad JSON or bad UTF-8
        return _error(400, f"the body is not JSON ({err})")
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


def create_app(manager: SessionManager, token: str | None = None, max_body: int = MAX_BODY) -> web.Application:
    app = web.Application(client_max_size=max_body)
    app[MANAGER] = manager
    app[TOKEN] = token  # type: ignore[assignment]
    app[BODY_LIMIT] = max_body
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


async def _start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as err:
        await runner.cleanup()
        raise DanceError(f"cannot listen on {host}:{port} ({err.strerror or err}); pick another --port or --host") from None
    return runner, runner.addresses[0][1]


def serve_forever(app: web.Application, config: ServerConfig, log: Callable[[str], None] = print) -> None:
    """Serve until Ctrl-C; every session and pipeline is closed on the way out."""

    async def main() -> None:
        runner, port = await _start(app, config.host, config.port)
        where = "  (every address: from another computer use this one's name or IP)" if config.host in WILDCARDS else ""
        log(f"serving on {page_url(config.host, port, app[TOKEN])}{where}  (Ctrl-C to stop)")
        try:
            await asyncio.Event().wait()
        finally:
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
