"""The page in a real browser: Debian's Chromium, headless, with the real clip as its fake camera.

Needs /usr/bin/chromium (`.ci/setup` installs it with chromium-driver) and ffmpeg for the .y4m
camera file; the screenshot is kept in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.live.server.conftest import Running, http

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
WIDTH = 360  # the fake camera's width: small keeps Chromium's encoder and MediaPipe cheap

# Skipped only on a developer's machine without them; in CI (.ci/setup installs both) a missing
# browser is a failure, never a silent skip.
pytestmark = pytest.mark.skipif(
    (not CHROMIUM.exists() or shutil.which("ffmpeg") is None) and not os.environ.get("CI"),
    reason="needs Debian's chromium and ffmpeg (installed by .ci/setup)",
)


@pytest.fixture(scope="module")
def camera_file(real_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real clip as a .y4m, which Chromium plays (looped) as its fake camera."""
    y4m = tmp_path_factory.mktemp("camera") / "clip.y4m"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(real_clip), "-vf", f"fps=30,scale={WIDTH}:-2",
                    "-pix_fmt", "yuv420p", str(y4m)], check=True)
    return y4m


def _frames_keep_rising(page, seconds: int) -> list[int]:  # noqa: ANN001 - a playwright Page
    counts = []
    for _ in range(seconds + 1):
        counts.append(page.evaluate("window.dance.decodedFrames()"))
        time.sleep(1)
    return counts


def test_the_page_mirrors_a_camera_and_views_the_server_source_in_chromium(served: Running, camera_file: Path) -> None:
    from playwright.sync_api import sync_playwright

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", "--disable-background-networking",
            f"--use-file-for-fake-video-capture={camera_file}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 620})
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(served.url)

            # mirror: Chromium sends the clip, the server sends back the target dancing it
            page.check("input[value=mirror]")
            page.click("#start")
            page.wait_for_function("document.getElementById('output').videoWidth > 0", timeout=30_000)
            size = page.evaluate("[document.getElementById('output').videoWidth, document.getElementById('output').videoHeight]")
            counts = _frames_keep_rising(page, 4)
            session = page.evaluate("window.dance.session()")
            status, stats = http("GET", f"{served.url}stats?session={session}")
            page.wait_for_function("document.getElementById('hud').textContent.includes('poses')", timeout=5_000)
            hud = page.text_content("#hud")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "browser-mirror.png"))

            assert size == [256, 256]
            assert all(b > a for a, b in zip(counts, counts[1:])), counts  # still decoding, second after second
            assert status == 200 and stats["kind"] == "mirror"
            assert stats["stats"]["poses_found"] > 0 and stats["source_size"][0] == WIDTH
            assert stats["stats"]["normalization"].startswith("adaptive from the first frame")
            assert "normalization: adaptive from the first frame" in hud  # the page's HUD says the mode, as the window's does
            assert page.text_content("#status") == "mirror: connected"
            assert page.evaluate("window.dance.codec()") == "VP8"  # the default

            # stop, then viewer with H.264: the server's own (looped) source
            page.click("#stop")
            page.wait_for_function("window.dance.session() === null")
            page.check("input[value=viewer]")
            page.select_option("#codec", "h264")
            page.click("#start")
            page.wait_for_function("document.getElementById('output').videoWidth > 0", timeout=30_000)
            viewer_counts = _frames_keep_rising(page, 2)
            viewer = http("GET", f"{served.url}stats?session={page.evaluate('window.dance.session()')}")[1]
            codec = page.evaluate("window.dance.codec()")
            page.screenshot(path=str(ARTIFACTS / "browser-viewer.png"))
            page.click("#stop")
            assert all(b > a for a, b in zip(viewer_counts, viewer_counts[1:])), viewer_counts
            assert viewer["kind"] == "viewer" and viewer["stats"]["poses_found"] > 0
            assert codec == "H264"
            assert errors == []
        finally:
            browser.close()
    deadline = time.monotonic() + 10
    while served.manager.peers and time.monotonic() < deadline:  # the page's Stop closed both sessions
        time.sleep(0.1)
    assert served.manager.peers == 0
