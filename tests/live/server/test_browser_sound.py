"""The page in Chromium plays a file source's soundtrack: an audio track beside the video, muted
until the user unmutes it (browsers refuse to autoplay sound)."""

from __future__ import annotations

import time


from tests.live.server.conftest import Running
from tests.live.server.test_browser import CHROMIUM, pytestmark  # noqa: F401 - the same skip rule

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        "--disable-background-networking", "--autoplay-policy=user-gesture-required"]

# The received audio's loudest sample over 2.5 s (more than a loop of the 1.67 s clip), through Web Audio.
PEAK_JS = """async () => {
  const context = new AudioContext();
  await context.resume();
  const analyser = context.createAnalyser();
  context.createMediaStreamSource(new MediaStream(document.getElementById('output').srcObject.getAudioTracks())).connect(analyser);
  const buffer = new Float32Array(analyser.fftSize);
  let peak = 0;
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    analyser.getFloatTimeDomainData(buffer);
    for (const v of buffer) peak = Math.max(peak, Math.abs(v));
  }
  context.close();
  return peak;
}"""



def test_a_viewer_page_receives_the_soundtrack_muted_with_an_unmute_control(served_with_sound: Running) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(served_with_sound.url)
            assert page.is_hidden("#sound")
            page.click("#start")
            page.wait_for_function("document.getElementById('output').videoWidth > 0", timeout=30_000)
            page.wait_for_function("window.dance.audioTracks().length === 1", timeout=10_000)
            tracks = page.evaluate("window.dance.audioTracks()")
            first = page.evaluate("window.dance.audioReceived()")
            time.sleep(2)
            later = page.evaluate("window.dance.audioReceived()")
            muted = page.evaluate("window.dance.muted()")
            label = page.text_content("#sound")
            page.click("#sound")
            unmuted = not page.evaluate("window.dance.muted()")
            peak = page.evaluate(PEAK_JS)
            frames = page.evaluate("window.dance.decodedFrames()")
            page.click("#stop")
        finally:
            browser.close()
    assert tracks == [{"readyState": "live", "muted": False}]
    assert later["packets"] > first["packets"] + 50  # 20 ms packets, still coming: about 100 in 2 s
    assert peak > 0.1, f"the tone is heard: the received audio peaks at {peak}"
    assert muted and "unmute" in label and unmuted
    assert frames > 0 and errors == []
