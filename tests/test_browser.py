"""The web page in a real browser: Debian's Chromium, headless, with a fake webcam fed from a real clip.

Skipped when Chromium or Playwright is missing, or ../shared is absent; .ci/run installs both.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import cv2
import pytest

from conftest import SHARED, needs_shared

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CLIP = SHARED / "media" / "videos" / "liveportrait_driving_d0.mp4"

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)"),
    needs_shared("media", "videos"),
]


def wait_until(page, expression: str, timeout: float = 30_000) -> None:
    """Poll ``expression`` in the page. Playwright's ``wait_for_function`` compiles it with ``new Function``
    inside the page, which the app's Content-Security-Policy (no 'unsafe-eval') rightly refuses."""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.1)


def write_y4m(source: Path, target: Path, size=(320, 240), seconds: float = 4.0) -> Path:
    """A 4:2:0 y4m clip for Chromium's fake camera (it loops the file at its own frame rate)."""
    capture = cv2.VideoCapture(str(source))
    fps = round(capture.get(cv2.CAP_PROP_FPS)) or 25
    with target.open("wb") as out:
        out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(int(fps * seconds)):
            ok, frame = capture.read()
            if not ok:
                break
            out.write(b"FRAME\n" + cv2.cvtColor(cv2.resize(frame, size), cv2.COLOR_BGR2YUV_I420).tobytes())
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp_path_factory, weights: Path):
    import uvicorn

    from rtfer.app.server import create_app

    app = create_app(tmp_path_factory.mktemp("data"), weights=str(weights))
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not instance.started and time.time() < deadline:
        time.sleep(0.1)
    return f"http://127.0.0.1:{port}", instance, thread


@pytest.fixture(scope="module")
def server(tmp_path_factory, weights):
    url, instance, thread = start_server(tmp_path_factory, weights)
    yield url
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    y4m = write_y4m(CLIP, tmp_path_factory.mktemp("cam") / "camera.y4m")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={y4m}", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield instance
        instance.close()


def test_live_session_in_the_browser(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if "Content Security Policy" in message.text
            else None)  # the page must run under its own CSP
    page.goto(server)
    page.fill("#session-name", "Browser test")
    page.click("#start-live")
    wait_until(page, "Number(document.getElementById('chart').dataset.points || 0) >= 20", timeout=60_000)
    label = page.text_content("#current-label")
    assert label and label != "no face" and "camera unavailable" not in label
    track = page.evaluate("document.getElementById('video').srcObject.getVideoTracks()[0].label")
    assert "camera.y4m" in track  # the real clip, not Chromium's synthetic pattern
    page.fill("#note-text", "client smiles when talking about the weekend")
    page.click("#note-form button[type=submit]")
    page.wait_for_selector("#note-list li")
    page.screenshot(path=str(tmp_path / "live.png"))
    page.click("#stop")
    wait_until(page, "document.getElementById('stop').hidden")
    session_id = page.evaluate("fetch('/api/sessions').then(r => r.json()).then(s => s[0].id)")
    csv_text = page.evaluate(f"fetch('/api/sessions/{session_id}/timeline.csv').then(r => r.text())")
    rows = csv_text.strip().splitlines()
    assert len(rows) >= 21 and rows[0].startswith("frame,time_s,face_found")
    assert sum(row.split(",")[2] == "1" for row in rows[1:]) >= 15
    assert not errors, errors


def test_uploaded_video_in_the_browser(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server)
    page.set_input_files("#upload-input", str(CLIP))
    wait_until(page, "document.getElementById('upload-status').textContent === 'done'", timeout=120_000)
    wait_until(page, "Number(document.getElementById('chart').dataset.points || 0) > 50", timeout=30_000)
    wait_until(page, "document.getElementById('video').readyState >= 1", timeout=30_000)
    box = page.locator("#chart").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)  # click seeks the video
    wait_until(page, "document.getElementById('video').currentTime > 0.5")
    page.screenshot(path=str(tmp_path / "review.png"))


def test_intensity_bars_with_a_vggs_model(tmp_path_factory, vggs_weights, browser):
    url, instance, thread = start_server(tmp_path_factory, vggs_weights)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.click("#start-live")
        wait_until(page, "document.querySelectorAll('#intensity-bars .bar').length === 7", timeout=60_000)
        assert page.is_visible("#intensity-panel")
        page.click("#stop")
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


def test_no_intensity_panel_without_the_head(server, browser):
    page = browser.new_page()
    page.goto(server)
    wait_until(page, "document.getElementById('intensity-panel').hidden === true")
