"""Hostile and edge inputs (issue 17): memory bombs, auth after the body, cross-site requests, races with
delete, state left by a kill, NaN in JSON, live integrity, CLI edge cases. Each test failed on the code
before the fix; docs/security.md says what is checked where."""

from __future__ import annotations

import asyncio
import json
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from conftest import SHARED, needs_shared
from rtfer.app.server import create_app
from rtfer.app.storage import Storage

LOCAL = "http://127.0.0.1:8000"
WS = "ws://127.0.0.1:8000"


@pytest.fixture
def app(weights, tmp_path):
    return create_app(tmp_path / "data", weights=str(weights), max_upload_mb=1)


@pytest.fixture
def client(app):
    with TestClient(app, base_url=LOCAL) as test_client:
        yield test_client


def jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def frame_message(time_s: float, image: np.ndarray | None = None) -> bytes:
    return struct.pack("<d", time_s) + jpeg(np.full((120, 160, 3), 90, np.uint8) if image is None else image)


def small_video(path: Path, frames: int = 12, size: tuple[int, int] = (160, 120), fps: float = 10) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), (40 + 10 * i) % 256, np.uint8))
    writer.release()
    return path


def wait_for(client: TestClient, sid: str, statuses: tuple[str, ...], timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        session = client.get(f"/api/sessions/{sid}").json()
        if session["status"] in statuses:
            return session
        time.sleep(0.1)
    raise AssertionError(f"session stayed {session['status']}")


# -- raw ASGI: how much of a body the app reads before it answers ---------------------------------------

FORM_START = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n'
              b"Content-Type: video/mp4\r\n\r\n\0\0\0\x18ftypisom")


def asgi_request(app, method: str, path: str, headers: dict[str, str], total: int,
                 chunk: int = 64 * 1024) -> tuple[int, int]:
    """Send a ``total``-byte body in ``chunk``-sized messages, pulled lazily; returns (status, bytes pulled).
    Multipart bodies start like a real upload, so only their size can make the app refuse them."""
    pulled = 0
    status = 0
    start = FORM_START if "multipart" in headers.get("content-type", "") else b'{"name": "'

    async def receive():
        nonlocal pulled
        if pulled >= total:
            await asyncio.sleep(3600)  # a client that stops sending: the app must not wait for more
        size = min(chunk, total - pulled)
        body = (start + b"x" * (size - len(start))) if pulled == 0 else b"x" * size
        pulled += size
        return {"type": "http.request", "body": body, "more_body": pulled < total}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "127.0.0.1:8000", **headers}.items()],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 60))
    return status, pulled


def test_upload_without_token_is_refused_before_its_body(weights, tmp_path):
    app = create_app(tmp_path / "data", weights=str(weights), token="s3cret")
    status, pulled = asgi_request(app, "POST", "/api/uploads", {"content-type": "multipart/form-data; boundary=b",
                                                                "content-length": str(20 * 2**20)}, 20 * 2**20)
    assert status == 401 and pulled == 0


def test_upload_over_the_limit_is_refused_before_its_body(app):
    status, pulled = asgi_request(app, "POST", "/api/uploads", {"content-type": "multipart/form-data; boundary=b",
                                                                "content-length": str(20 * 2**20)}, 20 * 2**20)
    assert status == 413 and pulled == 0


@pytest.mark.parametrize(("path", "limit"), [("/api/sessions", 64 * 1024), ("/api/uploads", 2**20 + 64 * 1024)])
def test_chunked_bodies_stop_at_the_limit(app, path, limit):
    kind = "application/json" if path == "/api/sessions" else "multipart/form-data; boundary=b"
    status, pulled = asgi_request(app, "POST", path, {"content-type": kind, "transfer-encoding": "chunked"},
                                  20 * 2**20)
    assert status == 413 and pulled <= limit + 64 * 1024


# -- Host, Origin and headers ---------------------------------------------------------------------------

def test_dns_rebinding_host_is_refused(app):
    with TestClient(app, base_url="http://attacker.example:8000") as client:
        assert client.get("/api/sessions").status_code == 400
        assert client.get("/").status_code == 400
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000"):
        with TestClient(app, base_url=f"http://{host}") as client:
            assert client.get("/api/sessions").status_code == 200


def test_any_host_with_a_token(weights, tmp_path):
    app = create_app(tmp_path / "data", weights=str(weights), token="s3cret")
    with TestClient(app, base_url="http://192.168.1.20:8000") as client:
        assert client.get("/api/sessions", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/api/sessions", headers={"Authorization": "Bearer s3cre"}).status_code == 401


def test_cross_site_posts_are_refused(client):
    evil = {"Origin": "http://evil.example"}
    assert client.post("/api/sessions", json={"name": "x"}, headers=evil).status_code == 403
    form = {"file": ("a.mp4", b"\0\0\0\x18ftypisom" + b"\0" * 64, "video/mp4")}
    assert client.post("/api/uploads", files=form, headers=evil).status_code == 403
    assert client.post("/api/sessions", json={}, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.post("/api/sessions", json={}, headers={"Origin": LOCAL}).status_code == 201
    assert client.get("/api/sessions").json()[0]["name"] == "Live session"  # only the same-origin one


def test_cross_site_websocket_is_refused(client):
    sid = client.post("/api/sessions", json={}).json()["id"]
    with pytest.raises(WebSocketDisconnect), client.websocket_connect(
            f"{WS}/api/sessions/{sid}/live", headers={"Origin": "http://evil.example"}) as ws:
        ws.send_bytes(frame_message(0.0))
        ws.receive_json()
    with client.websocket_connect(f"{WS}/api/sessions/{sid}/live", headers={"Origin": LOCAL}) as ws:
        ws.send_bytes(frame_message(0.0))
        assert ws.receive_json()["type"] == "result"


def test_security_headers(client):
    for path in ("/", "/api/health", "/api/sessions/" + "0" * 32):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_api_docs_are_off_by_default(client, weights, tmp_path):
    assert client.get("/api/docs").status_code == 404 and client.get("/redoc").status_code == 404
    app = create_app(tmp_path / "other", weights=str(weights), api_docs=True)
    with TestClient(app, base_url=LOCAL) as docs_client:
        assert docs_client.get("/api/openapi.json").status_code == 200


# -- token ----------------------------------------------------------------------------------------------

def test_websocket_takes_the_token_in_a_header(weights, tmp_path):
    app = create_app(tmp_path / "data", weights=str(weights), token="s3cret")
    bearer = {"Authorization": "Bearer s3cret"}
    with TestClient(app, base_url=LOCAL) as client:
        sid = client.post("/api/sessions", json={}, headers=bearer).json()["id"]
        with client.websocket_connect(f"{WS}/api/sessions/{sid}/live", headers=bearer) as ws:
            ws.send_bytes(frame_message(0.0))
            assert ws.receive_json()["type"] == "result"
        with pytest.raises(WebSocketDisconnect), client.websocket_connect(f"{WS}/api/sessions/{sid}/live") as ws:
            ws.send_bytes(frame_message(0.0))
            ws.receive_json()


def test_token_is_compared_in_constant_time(weights, tmp_path, monkeypatch):
    import hmac

    import rtfer.app.guard as guard

    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(guard.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    app = create_app(tmp_path / "data", weights=str(weights), token="s3cret")
    with TestClient(app, base_url=LOCAL) as client:
        assert client.get("/api/sessions?token=wrong").status_code == 401
    assert calls == [(b"wrong", b"s3cret")]


def test_failed_analysis_does_not_show_server_paths(client, tmp_path):
    broken = b"\0\0\0\x18ftypisom" + b"\0" * 2000
    sid = client.post("/api/uploads", files={"file": ("clip.mp4", broken, "video/mp4")}).json()["id"]
    session = wait_for(client, sid, ("failed", "done"))
    assert session["status"] == "failed" and session["error"]
    assert str(tmp_path) not in session["error"] and "/sessions/" not in session["error"]


# -- WebSocket image bombs ------------------------------------------------------------------------------

def test_image_bombs_are_refused_from_their_header(client, monkeypatch):
    import rtfer.app.live as live

    decoded = []
    real_decode = cv2.imdecode
    monkeypatch.setattr(live.cv2, "imdecode", lambda *a: decoded.append(1) or real_decode(*a))
    small = jpeg(np.full((16, 16, 3), 90, np.uint8))
    sof = small.index(b"\xff\xc0")
    bomb = small[:sof + 5] + struct.pack(">HH", 20000, 20000) + small[sof + 9:]  # a JPEG claiming 20000x20000
    png = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
           + b"\0" * 400)
    sid = client.post("/api/sessions", json={}).json()["id"]
    with client.websocket_connect(f"{WS}/api/sessions/{sid}/live") as ws:
        ws.send_bytes(struct.pack("<d", 0.0) + bomb)
        assert "too large" in ws.receive_json()["detail"]
        ws.send_bytes(struct.pack("<d", 0.0) + png)
        assert "JPEG" in ws.receive_json()["detail"]
    assert decoded == []


def test_frames_are_decoded_off_the_event_loop(client, monkeypatch):
    import rtfer.app.live as live

    on_loop = []
    real_decode = cv2.imdecode

    def decode(*args):
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return real_decode(*args)

    monkeypatch.setattr(live.cv2, "imdecode", decode)
    sid = client.post("/api/sessions", json={}).json()["id"]
    with client.websocket_connect(f"{WS}/api/sessions/{sid}/live") as ws:
        ws.send_bytes(frame_message(0.0))
        assert ws.receive_json()["type"] == "result"
    assert on_loop == [False]


# -- live integrity ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("end", "code"), [("stop", 1000), ("delete", 1008)])
def test_no_frames_after_stop_or_delete(client, end, code):
    sid = client.post("/api/sessions", json={}).json()["id"]
    with client.websocket_connect(f"{WS}/api/sessions/{sid}/live") as ws:
        ws.send_bytes(frame_message(0.0))
        ws.receive_json()
        ended = client.post(f"/api/sessions/{sid}/stop") if end == "stop" else client.delete(f"/api/sessions/{sid}")
        assert ended.status_code in (200, 204)
        with pytest.raises(WebSocketDisconnect) as closed:
            for i in range(20):
                ws.send_bytes(frame_message(0.1 * (i + 1)))
                ws.receive_json()
    assert closed.value.code == code
    if end == "stop":
        assert client.get(f"/api/sessions/{sid}/summary.json").json()["frames_processed"] == 1


def test_one_client_per_live_session(client):
    sid = client.post("/api/sessions", json={}).json()["id"]
    with client.websocket_connect(f"{WS}/api/sessions/{sid}/live") as first:
        with pytest.raises(WebSocketDisconnect), client.websocket_connect(f"{WS}/api/sessions/{sid}/live") as second:
            second.send_bytes(frame_message(0.0))
            second.receive_json()
        first.send_bytes(frame_message(0.0))
        assert first.receive_json()["seq"] == 0


def test_reconnecting_continues_the_frame_numbers(client):
    sid = client.post("/api/sessions", json={}).json()["id"]
    for expected in ([0, 1], [2]):
        with client.websocket_connect(f"{WS}/api/sessions/{sid}/live") as ws:
            for seq in expected:
                ws.send_bytes(frame_message(seq * 0.1))
                assert ws.receive_json()["seq"] == seq
    rows = client.get(f"/api/sessions/{sid}/timeline.csv").text.strip().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == [0, 1, 2]


# -- races with delete ------------------------------------------------------------------------------------

def test_requests_racing_a_delete_never_500(client):
    statuses: list[int] = []
    for _ in range(25):
        sid = client.post("/api/sessions", json={}).json()["id"]
        client.post(f"/api/sessions/{sid}/notes", json={"time_s": 1, "text": "n"})
        calls = [lambda s=sid: client.patch(f"/api/sessions/{s}", json={"name": "r"}),
                 lambda s=sid: client.post(f"/api/sessions/{s}/notes", json={"time_s": 1, "text": "n"}),
                 lambda s=sid: client.get(f"/api/sessions/{s}"),
                 lambda s=sid: client.get(f"/api/sessions/{s}/timeline.csv"),
                 lambda s=sid: client.get(f"/api/sessions/{s}/summary.json"),
                 lambda s=sid: client.delete(f"/api/sessions/{s}")]
        threads = [threading.Thread(target=lambda c=c: statuses.append(c().status_code)) for c in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(statuses) == 25 * 6 and set(statuses) <= {200, 201, 204, 404, 409}


def test_deleting_an_upload_during_its_final_writes(client, tmp_path, monkeypatch):
    import rtfer.report.timeline_plot as plots

    errors = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    real_plot = plots.plot_timeline
    deleted = threading.Event()

    def plot_after_delete(timeline, path, *args, **kwargs):
        session = next(p for p in Path(path).parents if len(p.name) == 32)  # the session's folder
        client.delete(f"/api/sessions/{session.name}")
        deleted.set()
        return real_plot(timeline, path, *args, **kwargs)

    monkeypatch.setattr(plots, "plot_timeline", plot_after_delete)
    video = small_video(tmp_path / "clip.mp4").read_bytes()
    sid = client.post("/api/uploads", files={"file": ("clip.mp4", video, "video/mp4")}).json()["id"]
    assert deleted.wait(60)
    for thread in threading.enumerate():  # let the analysis finish (or fail) before looking
        if getattr(getattr(thread, "_target", None), "__name__", "") == "analyse_upload":
            thread.join(60)
    assert errors == []
    assert client.get(f"/api/sessions/{sid}").status_code == 404
    assert not (tmp_path / "data" / "sessions" / sid).exists()


# -- state left by a kill ---------------------------------------------------------------------------------

def test_restart_after_a_kill_leaves_nothing_stuck(weights, tmp_path):
    data = tmp_path / "data"
    storage = Storage(data)  # what a killed server left behind
    live = storage.create("live", "live", "m", "live")
    storage.add_frames(live.id, [{"frame": 0, "time_s": 0.0}])
    stored = storage.create("stored", "upload", "m", "processing")
    small_video(storage.folder(stored.id) / "upload.mp4")
    storage.update(stored.id, video_name="clip.mp4")
    cut = storage.create("cut", "upload", "m", "queued")
    (storage.folder(cut.id) / "upload.mp4").write_bytes(b"\0\0\0\x18ftypisom")  # cut off mid-transfer
    storage.close()
    with TestClient(create_app(data, weights=str(weights)), base_url=LOCAL) as client:
        assert client.get(f"/api/sessions/{live.id}").json()["status"] == "interrupted"
        assert client.get(f"/api/sessions/{cut.id}").json()["status"] == "interrupted"
        assert wait_for(client, stored.id, ("done", "failed"))["status"] == "done"
        assert client.get(f"/api/sessions/{stored.id}/timeline.csv").status_code == 200
        with pytest.raises(WebSocketDisconnect), client.websocket_connect(f"{WS}/api/sessions/{live.id}/live") as ws:
            ws.send_bytes(frame_message(1.0))
            ws.receive_json()
    assert len(Storage(data).frames(live.id)) == 1  # kept


def test_database_uses_wal(tmp_path):
    storage = Storage(tmp_path / "data")
    assert storage._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -- JSON that JSON cannot carry back ----------------------------------------------------------------------

@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_nan_and_infinity_are_422(client, value):
    sid = client.post("/api/sessions", json={}).json()["id"]
    response = client.post(f"/api/sessions/{sid}/notes", content=f'{{"time_s": {value}, "text": "x"}}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "time_s"]


# -- video sources and the analyze writer -------------------------------------------------------------------

def test_large_video_is_downscaled_at_decode(tmp_path):
    from rtfer.video.sources import VideoSource

    path = small_video(tmp_path / "4k.mp4", frames=3, size=(3840, 2160))
    with VideoSource(path) as video:
        frames = list(video.frames())
        assert (video.info.width, video.info.height) == (1920, 1080)
        assert (video.info.source_width, video.info.source_height) == (3840, 2160)
    assert [f.shape for _, _, f in frames] == [(1080, 1920, 3)] * 3
    levels = [int(f[540, 960, 0]) for _, _, f in frames]  # written as 40, 50, 60 (the codec shifts them a little)
    assert np.all(np.diff(levels) > 5)  # each its own frame, not three views of the reused buffer


def test_one_frame_video(weights, tmp_path):
    from rtfer.video.analyze import analyze_video

    timeline = analyze_video(small_video(tmp_path / "one.mp4", frames=1), weights=weights, progress=False)
    assert len(timeline.rows) == 1


def test_server_analyses_a_one_frame_upload(client, tmp_path):
    video = small_video(tmp_path / "one.mp4", frames=1).read_bytes()
    sid = client.post("/api/uploads", files={"file": ("one.mp4", video, "video/mp4")}).json()["id"]
    assert wait_for(client, sid, ("done", "failed"))["status"] == "done"
    assert client.get(f"/api/sessions/{sid}/summary.json").json()["frames_processed"] == 1


def variable_frame_rate(path: Path) -> Path:
    """Rewrite a 10-frame, 10 fps mp4's time-to-sample table: 5 frames of 0.1 s, then 5 of 0.3 s (a camera
    that slowed down, as phones do in dim light)."""
    data = bytearray(path.read_bytes())
    stts = data.index(b"stts") - 4
    count, delta = struct.unpack(">II", data[stts + 16:stts + 24])
    assert count == 10
    data[stts:stts + 24] = struct.pack(">I4sIIIIII", 32, b"stts", 0, 2, 5, delta, 5, 3 * delta)
    for kind in (b"moov", b"trak", b"mdia", b"minf", b"stbl"):  # the boxes around it grew by 8 bytes
        start = data.rfind(kind, 0, stts) - 4
        (size,) = struct.unpack(">I", data[start:start + 4])
        data[start:start + 4] = struct.pack(">I", size + 8)
    edits = data.index(b"edts")
    data[edits:edits + 4] = b"free"  # the edit list would cut the longer track at its old duration
    path.write_bytes(bytes(data))
    return path


def test_variable_frame_rate_uses_the_container_times(tmp_path):
    from rtfer.video.sources import VideoSource

    path = variable_frame_rate(small_video(tmp_path / "vfr.mp4", frames=10))
    with VideoSource(path) as video:
        times = [round(t, 3) for _, t, _ in video.frames()]
    assert times == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.8, 1.1, 1.4, 1.7]


def test_out_pointing_at_a_file_is_a_clean_error(tmp_path, capsys):
    from rtfer.cli import main

    (tmp_path / "out").write_text("not a folder")
    assert main(["analyze", str(small_video(tmp_path / "a.mp4")), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_a_failed_move_leaves_no_partial_output(weights, tmp_path):
    from rtfer.errors import RtferError
    from rtfer.video.outputs import write_analysis

    out = tmp_path / "out"
    (out / "timeline.csv").mkdir(parents=True)  # in the way of one result
    with pytest.raises(RtferError, match="in the way"):
        write_analysis(small_video(tmp_path / "a.mp4"), out, weights=weights, progress=False)
    assert [p.name for p in out.iterdir()] == ["timeline.csv"]


def test_a_failed_move_puts_earlier_results_back(weights, tmp_path, monkeypatch):
    from rtfer.errors import RtferError
    from rtfer.video.outputs import write_analysis

    out = tmp_path / "out"
    write_analysis(small_video(tmp_path / "a.mp4"), out, weights=weights, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real_replace = Path.replace
    failed = []

    def replace(self, target):  # the disk fills up while the new timeline.png is moved in
        if Path(target) == out / "timeline.png" and ".previous" not in str(self) and not failed:
            failed.append(self)
            raise OSError(28, "No space left on device")
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    with pytest.raises(RtferError, match="No space left"):
        write_analysis(small_video(tmp_path / "b.mp4", frames=5), out, weights=weights, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("delay", [0.5, 1.0, 1.5])  # earlier, Python itself is still starting
def test_ctrl_c_while_starting_prints_no_traceback(tmp_path, delay):
    video = small_video(tmp_path / "a.mp4", frames=3000)  # still being analysed when the signal comes
    process = subprocess.Popen([sys.executable, "-m", "rtfer", "analyze", str(video), "--out", str(tmp_path / "out")],
                               stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr
    assert process.returncode == 130 and not (tmp_path / "out" / "timeline.csv").exists()


@needs_shared("media", "videos")
def test_a_tiny_frame_after_a_face_has_no_face(weights, tmp_path):
    from rtfer.video.analyze import analyze_video

    capture = cv2.VideoCapture(str(SHARED / "media/videos/liveportrait_driving_d0.mp4"))
    _, face = capture.read()
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "000.png"), face)
    cv2.imwrite(str(folder / "001.png"), np.zeros((1, 1, 3), np.uint8))
    rows = analyze_video(folder, weights=weights, progress=False).rows
    assert rows[0].face is not None and rows[1].face is None


# -- edited weights sidecars --------------------------------------------------------------------------------

def edited_weights(weights: Path, folder: Path, **changes) -> Path:
    """A copy of ``weights`` whose sidecar has ``changes`` (``config_<key>`` edits the config)."""
    import shutil

    folder.mkdir(exist_ok=True)
    target = shutil.copy(weights, folder / "edited.safetensors")
    meta = json.loads(weights.with_suffix(".json").read_text())
    for key, value in changes.items():
        if key.startswith("config_"):
            meta["config"][key.removeprefix("config_")] = value
        else:
            meta[key] = value
    Path(target).with_suffix(".json").write_text(json.dumps(meta))
    return Path(target)


BAD_SIDECARS = {
    "input_size 100000": {"input_size": 100000}, "input_size 0": {"input_size": 0},
    "input_size big": {"input_size": "big"}, "input_size 48.5": {"input_size": 48.5},
    "widths huge": {"config_widths": [8, 8, 16, 10**9]},
    "widths negative": {"config_widths": [8, -8, 16, 32]}, "num_classes 1e12": {"config_num_classes": 1e12},
    "unknown scheme and labels": {"scheme": "klingon", "labels": [f"q{i}" for i in range(7)]},
    "std 0": {"std": 0}, "std NaN": {"std": float("nan")},
    "6 labels for 7 classes": {"labels": ["angry", "disgust", "fear", "happy", "sad", "surprise"]},
    "repeated labels": {"labels": ["angry"] * 7}, "in_chans 1000": {"in_chans": 1000},
}


@pytest.mark.parametrize("change", BAD_SIDECARS.values(), ids=BAD_SIDECARS.keys())
def test_edited_sidecars_are_refused_when_read(weights, tmp_path, change):
    from rtfer.errors import WeightsError
    from rtfer.runtime.weights import load_meta

    with pytest.raises(WeightsError, match="invalid weights metadata"):
        load_meta(edited_weights(weights, tmp_path / "w", **change))


@pytest.mark.parametrize("change", [{"input_size": 0}, {"labels": ["angry", "happy", "sad"]}],
                         ids=["input_size 0", "3 labels for 7 classes"])  # not 100000: the old code ran out of memory
def test_evaluate_with_an_edited_sidecar_is_a_clean_error(weights, tiny_tree, tmp_path, capsys, change):
    from rtfer.cli import main

    bad = edited_weights(weights, tmp_path / "w", **change)
    assert main(["evaluate", "--weights", str(bad), "--data", str(tiny_tree)]) == 2
    assert "invalid weights metadata" in capsys.readouterr().err


def test_the_shipped_sidecars_are_valid():
    from rtfer.runtime.weights import load_meta, shipped_models

    assert {load_meta(name).input_size for name in shipped_models()} == {48, 128}


def test_metadata_that_does_not_fit_the_tensors_is_refused_at_load(weights, tmp_path):
    from rtfer.errors import WeightsError
    from rtfer.runtime.engine import load_engine

    bad = edited_weights(weights, tmp_path / "w", config_num_classes=3, labels=["negative", "neutral", "positive"],
                         scheme="valence3")  # a consistent sidecar, but the tensors have 7 classes
    with pytest.raises(WeightsError, match="shape"):
        load_engine(bad, backend="onnx")
