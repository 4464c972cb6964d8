"""`dance-live --serve`: options that do not go with it, and a real server started and stopped."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from live import cli
from tests.live.server.conftest import http

DANCE_LIVE = Path(sys.executable).parent / "dance-live"


def _invoke(*args: object):  # noqa: ANN202 - click's Result
    return CliRunner().invoke(cli.main, [str(a) for a in args])


def test_serve_refuses_options_meant_for_a_local_run(tiny_run: Path, small_clip: Path, tmp_path: Path) -> None:
    for extra in (["-o", tmp_path / "x.mp4"], ["--window"], ["--realtime"], ["--max-frames", "3"]):
        result = _invoke(tiny_run, "--serve", "--source", small_clip, *extra)
        assert result.exit_code == 2 and "--serve streams to browsers" in result.output
    both = _invoke(tiny_run, "--serve", "--camera", "0", "--source", small_clip)
    assert both.exit_code == 2 and "not both" in both.output
    missing = _invoke(tiny_run, "--serve", "--camera", "7")
    assert missing.exit_code == 1 and "camera 7 does not exist" in missing.output
    lonely = _invoke(tiny_run, "--serve", "--calibration", tmp_path / "me.json")
    assert lonely.exit_code == 1 and "mirror sessions calibrate themselves" in lonely.output


needs_script = pytest.mark.skipif(not DANCE_LIVE.exists(), reason="the dance-live script is not installed in this environment")


def _serve(tiny_run: Path, small_clip: Path, ignore_ctrl_c: bool = False) -> tuple[subprocess.Popen, str]:
    """`dance-live --serve` on every address; (the process, the URL it printed)."""
    server = subprocess.Popen(
        [str(DANCE_LIVE), str(tiny_run), "--serve", "--source", str(small_clip), "--host", "0.0.0.0", "--port", "0",
         "--threads", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        # as a script's background job (`cmd &`) or nohup starts it: SIGINT inherited as ignored
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_ctrl_c else None,  # noqa: PLW1509
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stderr], daemon=True).start()
    try:
        while True:
            found = re.search(r"serving on (http://\S+)", lines.get(timeout=60))
            if found:
                return server, found.group(1)
    except BaseException:
        _kill(server)
        raise


def _kill(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.kill()
        server.wait()


@needs_script
def test_serving_on_every_address_prints_a_generated_token_that_the_server_then_asks_for(tiny_run: Path, small_clip: Path) -> None:
    server, url = _serve(tiny_run, small_clip)
    try:
        base, token = url.split("?token=")
        assert len(token) >= 16
        assert http("GET", base + "stats")[0] == 401
        status, stats = http("GET", base + "stats", headers={"Authorization": f"Bearer {token}"})
        assert status == 200 and stats["max_peers"] == 4 and stats["viewer_pipeline"]["running"] is False
        assert http("GET", base)[0] == 200  # the page itself holds no secret
        server.send_signal(signal.SIGINT)  # Ctrl-C
        assert server.wait(20) == 0
    finally:
        _kill(server)


@needs_script
@pytest.mark.parametrize(("ignore_ctrl_c", "stop_signal"), [(True, signal.SIGINT), (False, signal.SIGTERM)], ids=["ctrl-c-ignored-by-parent", "sigterm"])
def test_the_server_stops_cleanly_on_ctrl_c_inherited_as_ignored_and_on_sigterm(tiny_run: Path, small_clip: Path,
                                                                                 ignore_ctrl_c: bool, stop_signal: int) -> None:
    server, _ = _serve(tiny_run, small_clip, ignore_ctrl_c)
    try:
        server.send_signal(stop_signal)
        assert server.wait(20) == 0, "closed its sessions and exited, not killed by the signal"
    finally:
        _kill(server)
