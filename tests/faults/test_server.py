"""Server faults with small counts, against real `dance-live --serve` processes on 127.0.0.1.

The scenarios (tests/faults/server_faults.py) fuzz /offer, kill viewers mid-stream and try every
way around the token; the targeted tests below pin down each bug the fuzz found.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from live.server.app import BackgroundServer, create_app, is_local, resolve_token
from live.server.session import SessionManager, SessionSettings
from tests.faults.server_faults import (
    Delivery,
    ServerProcess,
    fuzz_offers,
    http_request,
    kill_viewers,
    refuse_unauthenticated,
    server_exits,
    serves_a_peer,
    start_server,
)


SEED = 37  # 100 cases of 43 kinds, slow senders trickling or hanging up (the 408 of one that stalls: below, in-process)


@pytest.fixture(scope="module")
def servers(tiny_run: Path, live_small_clip: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """One server on loopback (no token), one on every address (a generated token)."""
    local = start_server(tiny_run, live_small_clip, max_peers=8)
    wide = None
    try:
        wide = start_server(tiny_run, live_small_clip, host="0.0.0.0")  # noqa: S104 - only 127.0.0.1 is contacted
        yield local, wide
    finally:
        for server in (local, wide):
            if server is not None:
                server.stop()


def test_fuzzed_offers_all_get_a_4xx_and_leave_nothing_behind(servers) -> None:  # noqa: ANN001
    local, _ = servers
    row = fuzz_offers(local.url, 100, seed=SEED, server_errors=local.errors)
    assert row.count == 100 and row.all_passed, row.summary()


def test_the_bodies_that_broke_the_server_get_a_4xx_with_one_line(servers) -> None:  # noqa: ANN001
    """Each was a 500 (or a traceback in the log) before: JSON nested deeper than the parser
    recurses, an unknown charset, a body that does not decompress, a sender that hangs up."""
    local, wide = servers
    json_type = ("Content-Type", "application/json")
    nested = http_request(local.port, "POST", "/offer", [json_type], b"[" * 30_000 + b"]" * 30_000)
    assert nested.status == 400 and b"nested too deep" in nested.body
    charset = http_request(local.port, "POST", "/offer", [("Content-Type", "application/json; charset=bogus-8")], b"{}")
    assert charset.status == 415 and b"unknown charset" in charset.body
    for encoding, body in (("gzip", b"\x1f\x8b" + bytes(200)), ("deflate", b"\x78\x9c" + b"\xff" * 200)):
        bad = http_request(local.port, "POST", "/offer", [json_type, ("Content-Encoding", encoding)], body)
        assert bad.status == 400 and b"could not be read" in bad.body, (encoding, bad)
    bomb = http_request(local.port, "POST", "/offer", [json_type, ("Content-Encoding", "gzip")], gzip.compress(b" " * 10_000_000))
    assert bomb.status == 413
    hung_up = http_request(local.port, "POST", "/offer", [json_type], b'{"sdp": "' + b"x" * 5000, Delivery(stop_at=100))
    assert hung_up.status is None  # on purpose: nobody is left to answer
    token = http_request(wide.port, "GET", "/stats", [("Authorization", b"Bearer \xff\xfe")])
    assert token.status == 403 and b"wrong token" in token.body
    for server in servers:
        assert http_request(server.port, "GET", "/stats", [("Authorization", f"Bearer {server.token}")] if server.token else []).status == 200
        assert not server.errors(), server.errors()[:3]


def test_a_body_that_stops_coming_is_answered_408_and_blocks_nobody(live_engine) -> None:  # noqa: ANN001
    """In-process, with a short body timeout (the server's is 10 s)."""
    manager = SessionManager(live_engine, SessionSettings(), None, log=lambda _: None)
    with BackgroundServer(create_app(manager, body_timeout=0.5)) as url:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        body = b'{"sdp": "' + b"x" * 2000 + b'", "type": "offer"}'
        with ThreadPoolExecutor(1) as pool:
            stalled = pool.submit(http_request, port, "POST", "/offer", [("Content-Type", "application/json")], body,
                                  Delivery(stop_at=50, hold=10))
            assert http_request(port, "GET", "/stats").status == 200  # served meanwhile
            answer = stalled.result()
    assert answer.status == 408 and b"did not arrive within 0.5 s" in answer.body


def test_after_the_fuzz_a_real_viewer_is_still_served(servers) -> None:  # noqa: ANN001
    row = serves_a_peer(servers[0].url)
    assert row.all_passed, row.summary()


def test_viewers_killed_mid_stream_never_stall_the_others_a_second(servers) -> None:  # noqa: ANN001
    row = kill_viewers(servers[0].url, victims=3, survivors=2, seed=2)
    assert row.count == 3 and row.all_passed, row.summary()


def test_off_loopback_every_request_without_the_token_is_refused(servers) -> None:  # noqa: ANN001
    _, wide = servers
    assert wide.token and len(wide.token) >= 16
    row = refuse_unauthenticated(wide.url, wide.token)
    assert row.count > 50 and row.all_passed, row.summary()


def test_only_loopback_addresses_go_without_a_token() -> None:
    # every address, other machines' addresses, and names (a name may resolve to anything; "0" binds every address)
    beyond = ["0.0.0.0", "", "::", "0", "192.168.1.5", "10.0.0.1", "LOCALHOST", "localhost.", "example.org"]  # noqa: S104
    assert not any(is_local(host) for host in beyond)
    assert all(resolve_token(host, None) for host in beyond)
    assert all(resolve_token(host, None) is None for host in ("127.0.0.1", "127.5.6.7", "::1", "localhost"))


def test_the_servers_survived_logged_no_error_and_stop_on_ctrl_c(servers) -> None:  # noqa: ANN001
    row = server_exits(servers)
    assert row.all_passed, row.summary()
