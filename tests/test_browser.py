"""The web page in a real browser: Debian's Chromium, headless, with a fake webcam fed from a real clip.

Skipped when Chromium or Playwright is missing, or ../shared is absent; .ci/run installs both. Screenshots at
390, 768 and 1280 px go to a temp folder (its path is logged: look at them); docs/app/ holds copies.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
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
            raise AssertionError(f"timed out waiting for {expression}; page errors: {getattr(page, 'errors', '?')}")
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
    return f"http://127.0.0.1:{port}", instance, thread, app


@pytest.fixture(scope="module")
def served(tmp_path_factory, weights):
    url, instance, thread, app = start_server(tmp_path_factory, weights)
    yield url, app
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(served):
    return served[0]


@pytest.fixture(scope="module")
def screens() -> Path:
    """Screenshots to look at: a temp folder that outlives the test run."""
    folder = Path(tempfile.mkdtemp(prefix="rtfer-screens-"))
    print(f"screenshots in {folder}")
    return folder


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


def open_page(browser, server, width: int = 1280, height: int = 900):
    """A page that records script errors, CSP refusals and failed loads (a 404 favicon among them)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.on("response", lambda response: page.errors.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    page.goto(server)
    wait_until(page, "document.querySelector('#session-list') && window.getComputedStyle !== undefined")
    return page


def start_live(page, name: str, client: str = "", frames: int = 20) -> str:
    page.fill("#client-code", client)
    page.fill("#session-name", name)
    if not page.is_checked("#consent"):
        page.check("#consent")
    page.click("#start-live")
    wait_until(page, f"Number(document.getElementById('chart').dataset.points || 0) >= {frames}", timeout=60_000)
    return page.evaluate("fetch('/api/sessions').then(r => r.json()).then(s => s[0].id)")


def stop_live(page) -> None:
    page.click("#stop")
    wait_until(page, "document.getElementById('stop').hidden && document.getElementById('chart').dataset.range"
               " && !document.getElementById('chart').dataset.range.startsWith('undefined')")
    wait_until(page, "document.getElementById('playhead-time').textContent !== ''")


def fetch_text(page, url: str) -> str:
    return page.evaluate(f"fetch('{url}').then(r => r.text())")


def line_pixels_match(page, csv_text: str, samples: int = 12) -> tuple[int, int]:
    """How many of ``samples`` CSV rows (with a smoothed valence) have the dark valence line drawn within 3 px
    of where that row belongs on the chart: (matched, sampled)."""
    rows = [line.split(",") for line in csv_text.strip().splitlines()]
    header, rows = rows[0], rows[1:]
    t, v = header.index("time_s"), header.index("valence_smooth")
    points = [(float(r[t]), float(r[v])) for r in rows if r[v] != ""]
    chosen = [points[i] for i in np.linspace(0, len(points) - 1, samples).astype(int)]
    return page.evaluate("""(points) => {
        const canvas = document.getElementById('chart');
        const g = JSON.parse(canvas.dataset.geometry);
        const ratio = canvas.width / canvas.clientWidth;
        const context = canvas.getContext('2d');
        let matched = 0;
        for (const [t, v] of points) {
          const x = g.left + (t - g.t0) / (g.t1 - g.t0) * g.plotW;
          const y = g.top + g.plotH / 2 - v * (g.plotH / 2 - 4);
          const data = context.getImageData(Math.round((x - 3) * ratio), Math.round((y - 3) * ratio),
                                            Math.round(7 * ratio), Math.round(7 * ratio)).data;
          let dark = false;
          for (let i = 0; i < data.length; i += 4) {
            if (data[i + 3] > 200 && data[i] < 60 && data[i + 1] < 60 && data[i + 2] < 60) dark = true;
          }
          if (dark) matched += 1;
        }
        return [matched, points.length];
    }""", chosen)


def check_bars(page) -> None:
    """Each bar's fill is as wide (of its track) as its probability, and the label is the bars' reading."""
    bars = page.evaluate("""[...document.querySelectorAll('#bars .bar')].map((bar) => ({
        name: bar.dataset.name, value: Number(bar.dataset.value),
        fill: bar.querySelector('.fill').getBoundingClientRect().width,
        track: bar.querySelector('.track').getBoundingClientRect().width}))""")
    assert len(bars) == 7
    assert sum(bar["fill"] for bar in bars) > 0.5 * bars[0]["track"]  # the fills show, they are not 0 px
    for bar in bars:
        assert bar["fill"] == pytest.approx(bar["value"] * bar["track"], abs=1.5)
    label, percent = page.text_content("#current-label").rsplit(" ", 1)
    shown = {bar["name"]: bar["value"] for bar in bars}
    assert round(shown[label] * 100) == int(percent.rstrip("%"))
    assert shown[label] >= max(shown.values()) - 0.1 - 1e-6  # the top bar, within the label's hysteresis


def test_live_session_in_the_browser(server, browser):
    page = open_page(browser, server)
    page.click("#start-live")  # no consent ticked: a reminder, no session
    assert page.is_visible("#consent-reminder")
    assert page.evaluate("fetch('/api/sessions').then(r => r.json()).then(s => s.length)") == 0
    session_id = start_live(page, "Browser test", client="C-017")
    assert "camera unavailable" not in page.text_content("#current-label")
    track = page.evaluate("document.getElementById('video').srcObject.getVideoTracks()[0].label")
    assert "camera.y4m" in track  # the real clip, not Chromium's synthetic pattern
    check_bars(page)
    assert page.evaluate("document.getElementById('overlay').dataset.label") == \
        page.text_content("#current-label").rsplit(" ", 1)[0]  # the box's label is the one under the video
    page.fill("#note-text", "client smiles when talking about the weekend")
    page.click("#note-form button[type=submit]")
    page.wait_for_selector("#note-list li")
    page.click("#pause")  # pause: no frames go out, the clock stands still
    time.sleep(0.5)
    paused_at = page.evaluate("Number(document.getElementById('chart').dataset.points)")
    timer = page.text_content("#session-timer")
    time.sleep(1.5)
    assert page.evaluate("Number(document.getElementById('chart').dataset.points)") <= paused_at + 1
    assert page.text_content("#session-timer") == timer
    page.click("#pause")
    wait_until(page, f"Number(document.getElementById('chart').dataset.points) > {paused_at + 3}")
    live_changes = page.evaluate("[...document.querySelectorAll('#change-list li')].map(li => li.textContent)")
    stop_live(page)
    # review of the stopped session: the change list is the stored one, as sentences, the line is drawn
    csv_text = fetch_text(page, f"/api/sessions/{session_id}/timeline.csv")
    assert "\r" not in csv_text
    rows = csv_text.strip().splitlines()
    assert len(rows) >= 21 and rows[0].startswith("frame,time_s,face_found")
    summary = json.loads(fetch_text(page, f"/api/sessions/{session_id}/summary.json"))
    review_changes = page.evaluate("[...document.querySelectorAll('#change-list li')].map(li => li.textContent)")
    assert review_changes == [f"{i}. {clock(c['time_s'])} {c['text']}" for i, c in
                              enumerate(summary["change_points"], 1)]
    assert len(review_changes) >= len(live_changes) - 1  # nothing lost on Stop (the last may confirm late)
    assert all("->" not in text for text in review_changes)
    matched, sampled = line_pixels_match(page, csv_text)
    assert matched >= sampled - 1, (matched, sampled)
    last_time = float(rows[-1].split(",")[1])
    t0, t1 = map(float, page.evaluate("document.getElementById('chart').dataset.range").split(","))
    assert t0 == 0 and t1 >= last_time  # the whole session, not its last minute
    box = page.locator("#chart").bounding_box()
    page.mouse.click(box["x"] + 44 + (box["width"] - 52) * 0.5, box["y"] + box["height"] / 2)  # seek
    page.fill("#note-text", "said in review")
    page.click("#note-form button[type=submit]")
    wait_until(page, "document.querySelectorAll('#note-list li').length === 2")
    notes = json.loads(fetch_text(page, f"/api/sessions/{session_id}"))["notes"]
    review_note = next(n for n in notes if n["text"] == "said in review")
    assert review_note["time_s"] == pytest.approx(t1 / 2, abs=max(0.6, t1 * 0.02))  # the playhead's time
    check_bars(page)  # the bars show the playhead's moment in review too
    page.keyboard.press("?")
    assert page.is_visible("#help")
    page.keyboard.press("Escape")
    assert not page.errors, page.errors


def clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def mpeg4_part2_avi(target: Path, seconds: float = 6.0) -> Path:
    """An upload in a codec Chromium does not play (MPEG-4 Part 2 in AVI), cut from the shared clip."""
    capture = cv2.VideoCapture(str(CLIP))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25
    writer = None
    for _ in range(int(fps * seconds)):
        ok, frame = capture.read()
        if not ok:
            break
        if writer is None:
            writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"XVID"), fps, frame.shape[1::-1])
        writer.write(frame)
    writer.release()
    return target


def test_uploaded_video_plays_and_is_reviewed(server, browser, tmp_path):
    page = open_page(browser, server)
    upload = mpeg4_part2_avi(tmp_path / "a-very-long-file-name-of-a-recorded-counselling-session-2026-11-30.avi")
    page.fill("#client-code", "C-017")
    page.set_input_files("#upload-input", str(upload))
    wait_until(page, "document.getElementById('upload-status').textContent === 'done'", timeout=120_000)
    wait_until(page, "Number(document.getElementById('chart').dataset.points || 0) > 50", timeout=30_000)
    session_id = page.evaluate("fetch('/api/sessions').then(r => r.json()).then(s => s[0].id)")
    wait_until(page, "document.getElementById('video').readyState >= 2", timeout=30_000)  # decodable
    page.evaluate("document.getElementById('video').play()")
    wait_until(page, "document.getElementById('video').currentTime > 0.5", timeout=15_000)  # it plays
    page.evaluate("document.getElementById('video').pause()")
    csv_text = fetch_text(page, f"/api/sessions/{session_id}/timeline.csv")
    matched, sampled = line_pixels_match(page, csv_text)
    assert matched >= sampled - 1, (matched, sampled)
    box = page.locator("#chart").bounding_box()
    page.mouse.click(box["x"] + 44 + (box["width"] - 52) * 0.8, box["y"] + box["height"] / 2)  # click seeks
    wait_until(page, "Math.abs(document.getElementById('video').currentTime - "
               "0.8 * Number(document.getElementById('chart').dataset.range.split(',')[1])) < 0.3")
    check_bars(page)
    names = page.evaluate("['csv', 'json', 'html', 'pdf'].map(k => document.getElementById('download-' + k).download)")
    assert names == [f"rtfer-{session_id[:8]}-{what}" for what in
                     ("timeline.csv", "summary.json", "report.html", "report.pdf")]
    headers = page.evaluate(f"""Promise.all(['timeline.csv', 'summary.json', 'report.html'].map(
        (what) => fetch('/api/sessions/{session_id}/' + what).then(r => r.headers.get('content-disposition'))))""")
    assert [h.split("filename=")[1].strip('"') for h in headers] == names[:3]
    assert not page.errors, page.errors


def test_nothing_of_one_session_shows_in_another(server, browser):
    page = open_page(browser, server)
    wait_until(page, "document.querySelectorAll('#session-list li[data-id]').length >= 2")
    sessions = page.evaluate("fetch('/api/sessions').then(r => r.json())")
    upload = next(s for s in sessions if s["kind"] == "upload")
    live = next(s for s in sessions if s["kind"] == "live")
    page.click(f"#session-list li[data-id='{upload['id']}'] button.open")
    wait_until(page, "document.getElementById('video').readyState >= 1")
    upload_notes = page.evaluate("document.querySelectorAll('#note-list li').length")
    page.click(f"#session-list li[data-id='{live['id']}'] button.open")
    wait_until(page, f"document.getElementById('chart').dataset.points === '{live_points(page, live['id'])}'")
    state = page.evaluate("""(() => { const v = document.getElementById('video');
        return {src: v.getAttribute('src'), stream: v.srcObject, box: document.getElementById('video-box').hidden,
                notes: [...document.querySelectorAll('#note-list li .text')].map(n => n.textContent)}; })()""")
    assert state["src"] is None and state["stream"] is None and state["box"]  # the upload's video is gone
    assert "said in review" in state["notes"] and upload_notes == 0
    # and back: the live session's timer, notes and changes do not follow into the upload
    page.click(f"#session-list li[data-id='{upload['id']}'] button.open")
    wait_until(page, "document.getElementById('video').readyState >= 1")
    assert page.evaluate("document.querySelectorAll('#note-list li').length") == 0
    assert page.text_content("#session-timer") == clock(upload["duration_s"] or 0) or upload["duration_s"] is None
    assert not page.errors, page.errors


def test_client_page_shows_the_trend_over_sessions(server, browser, screens):
    page = open_page(browser, server)
    wait_until(page, "document.querySelectorAll('.client-group').length >= 1")
    page.click(".client-group:has(h3:text-is('C-017')) button.small")
    wait_until(page, "document.getElementById('client-trend').dataset.sessions === '2'")
    rows = page.evaluate("[...document.querySelectorAll('#client-sessions tr')].map(tr => tr.children.length)")
    assert rows == [5, 5]
    widths = page.evaluate("[...document.querySelectorAll('#client-sessions tr')].map(tr => [...tr.querySelectorAll("
                           "'.share')].reduce((sum, s) => sum + s.getBoundingClientRect().width, 0))")
    assert all(width > 100 for width in widths)  # the shares of time fill each bar
    assert "export.zip?client=C-017" in page.get_attribute("#client-export", "href")
    page.screenshot(path=str(screens / "client-1280.png"))
    assert not page.errors, page.errors


def live_points(page, session_id: str) -> int:
    return len(fetch_text(page, f"/api/sessions/{session_id}/timeline.csv").strip().splitlines()) - 1


def test_a_tab_closed_without_stop_is_interrupted(server, browser):
    page = open_page(browser, server)
    session_id = start_live(page, "closed tab", frames=5)
    page.close()  # no Stop: the socket just goes away
    other = open_page(browser, server)
    wait_until(other, f"fetch('/api/sessions/{session_id}').then(r => r.json()).then(s => s.status === 'interrupted')",
               timeout=10_000)
    other.click(f"#session-list li[data-id='{session_id}'] button.open")
    wait_until(other, "Number(document.getElementById('chart').dataset.points || 0) >= 5")
    assert other.is_hidden("#pause") and other.is_hidden("#stop")


@pytest.mark.parametrize("width", [390, 768, 1280])
def test_layout_has_no_horizontal_scroll(server, browser, screens, width):
    page = open_page(browser, server, width=width, height=1100)
    wait_until(page, "document.querySelectorAll('#session-list li[data-id]').length >= 2")
    upload = page.evaluate("fetch('/api/sessions').then(r => r.json()).then(s => s.find(x => x.kind === 'upload').id)")
    page.click(f"#session-list li[data-id='{upload}'] button.open")
    wait_until(page, "Number(document.getElementById('chart').dataset.points || 0) > 50")
    wait_until(page, "document.getElementById('video').readyState >= 2")
    page.evaluate("document.getElementById('video').currentTime = 2")
    wait_until(page, "!document.getElementById('video').seeking && document.getElementById('video').readyState >= 2")
    time.sleep(0.3)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    name = page.evaluate(f"""(() => {{ const n = document.querySelector("li[data-id='{upload}'] .name");
        const panel = document.getElementById('sessions-panel').getBoundingClientRect();
        const box = n.getBoundingClientRect();
        return {{ellipsis: getComputedStyle(n).textOverflow, cut: n.scrollWidth > n.clientWidth,
                 inside: box.right <= panel.right + 0.5}}; }})()""")
    assert name == {"ellipsis": "ellipsis", "cut": True, "inside": True}
    outside = page.evaluate("""[...document.querySelectorAll('main *')].filter((e) => e.offsetParent !== null &&
        e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5).map((e) => e.id || e.tagName)""")
    assert not outside
    page.screenshot(path=str(screens / f"review-{width}.png"), full_page=True)
    assert not page.errors, page.errors


def test_favicon_is_served(server, browser):
    page = open_page(browser, server)
    response = page.request.get(f"{server}/favicon.ico")
    assert response.status == 200 and b"<svg" in response.body()
    time.sleep(0.5)
    assert not page.errors, page.errors


def test_an_hour_long_timeline_renders_in_under_a_second(served, browser):
    """60 minutes at 15 fps = 54,000 rows: parsed and drawn (whole session, then zoomed) in under a second."""
    from rtfer.faces.detect import Face
    from rtfer.taxonomy import FER7
    from rtfer.video.scoring import SubjectScorer
    from rtfer.video.timeline import FrameResult, frame_record

    url, app = served
    storage = app.state.storage
    session = storage.create("an hour", "live", "msfernet", "live", client="C-999")
    scorer, rng = SubjectScorer(FER7.labels), np.random.default_rng(0)
    records = []
    for i in range(54_000):
        t = i / 15
        logits = rng.normal(0, 0.3, 7) + np.array([0, 0, 0, 2 * np.sin(t / 300), 0, 0, 1])
        probs = np.exp(logits) / np.exp(logits).sum()
        row = scorer.score(FrameResult(i, t, Face((40, 40, 80, 80), 0.99, track_id=1), probs.astype(np.float32)))
        records.append(frame_record(row, FER7.labels))
    storage.add_frames(session.id, records)
    storage.update(session.id, status="stopped")
    page = open_page(browser, url)
    page.click(f"#session-list li[data-id='{session.id}'] button.open")
    wait_until(page, "document.getElementById('chart').dataset.points === '54000' && "
               "document.getElementById('chart').dataset.renderMs !== undefined", timeout=60_000)
    render_ms = float(page.evaluate("document.getElementById('chart').dataset.renderMs"))
    print(f"54,000 rows parsed and drawn in {render_ms:.0f} ms")
    assert render_ms < 1000
    t0, t1 = map(float, page.evaluate("document.getElementById('chart').dataset.range").split(","))
    assert (t0, t1) == (0, pytest.approx(53_999 / 15))  # the whole hour
    page.focus("#chart")
    started = time.monotonic()
    for key in ("+", "+", "]", "ArrowRight", "-", "0"):
        page.keyboard.press(key)
    assert time.monotonic() - started < 3
    t0, t1 = map(float, page.evaluate("document.getElementById('chart').dataset.range").split(","))
    assert (t0, t1) == (0, pytest.approx(3599.93, abs=0.01))
    assert not page.errors, page.errors


def test_intensity_bars_with_a_vggs_model(tmp_path_factory, vggs_weights, browser):
    url, instance, thread, _ = start_server(tmp_path_factory, vggs_weights)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.check("#consent")
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
