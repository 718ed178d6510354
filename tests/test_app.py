"""The web app's API: every endpoint, with good and bad input (malformed, oversized, unknown, path-like)."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import SHARED, needs_shared
from rtfer.app.server import create_app
from rtfer.taxonomy import FER7

LOCAL = "http://127.0.0.1:8000"
WS = "ws://127.0.0.1:8000"  # the TestClient would send Host: testserver, which a loopback server refuses


@pytest.fixture
def client(weights, tmp_path):
    app = create_app(tmp_path / "data", weights=str(weights), max_upload_mb=1)
    with TestClient(app, base_url=LOCAL) as test_client:  # a loopback server answers to loopback names only
        yield test_client


def frame_message(time_s: float, image: np.ndarray) -> bytes:
    ok, jpeg = cv2.imencode(".jpg", image)
    assert ok
    return struct.pack("<d", time_s) + jpeg.tobytes()


def small_video(path: Path, frames: int = 20) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for _ in range(frames):
        writer.write(np.full((120, 160, 3), 90, np.uint8))
    writer.release()
    return path


def test_health(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["labels"] == list(FER7.labels)


def test_session_lifecycle(client, tmp_path):
    created = client.post("/api/sessions", json={"name": "Client A, 3rd session"})
    assert created.status_code == 201
    sid = created.json()["id"]
    assert [s["id"] for s in client.get("/api/sessions").json()] == [sid]
    assert client.patch(f"/api/sessions/{sid}", json={"name": "renamed"}).json()["name"] == "renamed"
    note = client.post(f"/api/sessions/{sid}/notes", json={"time_s": 12.5, "text": "talks about work"})
    assert note.status_code == 201
    assert client.get(f"/api/sessions/{sid}").json()["notes"][0]["text"] == "talks about work"
    folder = tmp_path / "data" / "sessions" / sid
    assert folder.is_dir()
    assert client.delete(f"/api/sessions/{sid}").status_code == 204
    assert not folder.exists()
    assert client.get(f"/api/sessions/{sid}").status_code == 404


@pytest.mark.parametrize("session_id", ["0" * 32, "nope", "..", "..%2F..%2Fetc", "a" * 31 + "/"])
def test_unknown_or_path_like_ids_are_404(client, session_id):
    for method, url in (("get", ""), ("delete", ""), ("get", "/timeline.csv"), ("get", "/video")):
        assert client.request(method, f"/api/sessions/{session_id}{url}").status_code in (404, 405)


def test_path_like_names_are_only_text(client, tmp_path):
    sid = client.post("/api/sessions", json={"name": "../../etc/passwd"}).json()["id"]
    assert client.get(f"/api/sessions/{sid}").json()["name"] == "../../etc/passwd"
    assert sorted(p.name for p in (tmp_path / "data" / "sessions").iterdir()) == [sid]


@pytest.mark.parametrize(("body", "status"), [
    (b"{not json", 422), (b'{"name": ""}', 422), (b'{"name": 5}', 422), (b'[1, 2]', 422),
    (b'{"name": "' + b"x" * 70_000 + b'"}', 413)])
def test_malformed_or_oversized_json(client, body, status):
    response = client.post("/api/sessions", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status


def test_bad_notes(client):
    sid = client.post("/api/sessions", json={}).json()["id"]
    assert client.post(f"/api/sessions/{sid}/notes", json={"time_s": -1, "text": "x"}).status_code == 422
    assert client.post(f"/api/sessions/{sid}/notes", json={"time_s": 1, "text": ""}).status_code == 422
    assert client.post(f"/api/sessions/{'0' * 32}/notes", json={"time_s": 1, "text": "x"}).status_code == 404


def test_upload_checks_type_by_content(client):
    response = client.post("/api/uploads", files={"file": ("clip.mp4", b"just text, not a video" * 10, "video/mp4")})
    assert response.status_code == 415
    assert client.get("/api/sessions").json() == []


def test_upload_size_limit(client):
    oversized = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * (2 * 1024 * 1024)
    response = client.post("/api/uploads", files={"file": ("big.mp4", oversized, "video/mp4")})
    assert response.status_code == 413
    assert client.get("/api/sessions").json() == []


def wait_for(client, sid, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        session = client.get(f"/api/sessions/{sid}").json()
        if session["status"] in ("done", "failed"):
            return session
        time.sleep(0.2)
    raise AssertionError("analysis did not finish")


def test_upload_is_analysed_in_the_background(client, tmp_path):
    video = small_video(tmp_path / "room.mp4")
    response = client.post("/api/uploads", files={"file": ("../../room.mp4", video.read_bytes(), "video/mp4")})
    assert response.status_code == 202
    sid = response.json()["id"]
    session = wait_for(client, sid)
    assert session["status"] == "done" and session["video_name"] == "../../room.mp4"
    csv_text = client.get(f"/api/sessions/{sid}/timeline.csv").text
    assert len(csv_text.strip().splitlines()) == 21
    summary = client.get(f"/api/sessions/{sid}/summary.json").json()
    assert summary["frames_processed"] == 20 and summary["session"]["id"] == sid
    client.post(f"/api/sessions/{sid}/notes", json={"time_s": 0.5, "text": "<b>tense</b> at the start"})
    report = client.get(f"/api/sessions/{sid}/report.html")
    assert report.status_code == 200 and "not a diagnosis" in report.text
    assert "surprise and neutral count 0" in report.text
    assert "&lt;b&gt;tense&lt;/b&gt;" in report.text and "data:image/png;base64," in report.text
    pdf = client.get(f"/api/sessions/{sid}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get(f"/api/sessions/{sid}/report.exe").status_code == 422
    ranged = client.get(f"/api/sessions/{sid}/video", headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100


def test_upload_with_a_baseline_needs_a_face_in_it(client, tmp_path):
    video = small_video(tmp_path / "room.mp4").read_bytes()
    assert client.post("/api/uploads?baseline_s=0", files={"file": ("r.mp4", video, "video/mp4")}).status_code == 422
    response = client.post("/api/uploads?baseline_s=20", files={"file": ("r.mp4", video, "video/mp4")})
    session = wait_for(client, response.json()["id"])
    assert session["status"] == "failed" and "at least 10" in session["error"]


@needs_shared("media", "videos")
def test_upload_with_a_baseline_gets_the_corrected_line(client):
    video = (SHARED / "media/videos/liveportrait_driving_d18.mp4").read_bytes()   # 0.2 MB: under the test limit
    response = client.post("/api/uploads?baseline_s=2", files={"file": ("d18.mp4", video, "video/mp4")})
    assert response.status_code == 202, response.text
    sid = response.json()["id"]
    assert wait_for(client, sid, timeout=120)["status"] == "done"
    rows = client.get(f"/api/sessions/{sid}/timeline.csv").text.strip().splitlines()
    column = rows[0].split(",").index("valence_corrected_smooth")
    assert all(row.split(",")[column] != "" for row in rows[1:])
    summary = client.get(f"/api/sessions/{sid}/summary.json").json()
    assert summary["baseline"]["source"] == "first 2 s of the video"
    assert "mean valence corrected for the baseline" in client.get(f"/api/sessions/{sid}/report.html").text


def test_corrupt_upload_fails_cleanly(client):
    response = client.post("/api/uploads",
                           files={"file": ("x.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 5000, "video/mp4")})
    session = wait_for(client, response.json()["id"])
    assert session["status"] == "failed" and "not a readable video" in session["error"]


def test_live_websocket_protocol(client):
    sid = client.post("/api/sessions", json={"name": "live"}).json()["id"]
    with client.websocket_connect(f"{WS}/api/sessions/{sid}/live") as ws:
        ws.send_bytes(b"short")
        assert ws.receive_json()["type"] == "error"
        ws.send_bytes(struct.pack("<d", 1.0) + b"not an image at all")
        assert "JPEG" in ws.receive_json()["detail"]
        ws.send_bytes(struct.pack("<d", 1.0) + b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x10\x00\x10" + b"\x00" * 40)
        assert "not a decodable image" in ws.receive_json()["detail"]  # a JPEG header over garbage
        ws.send_text("{broken")
        assert ws.receive_json()["type"] == "error"
        ws.send_text('{"type": "select", "track_id": 2}')
        assert ws.receive_json() == {"type": "selected", "track_id": 2}
        ws.send_text('{"type": "select", "track_id": null}')
        ws.receive_json()
        for i in range(3):
            ws.send_bytes(frame_message(i * 0.1, np.full((120, 160, 3), 90, np.uint8)))
            reply = ws.receive_json()
            assert reply["type"] == "result" and reply["seq"] == i and reply["faces"] == []
    rows = client.get(f"/api/sessions/{sid}/timeline.csv").text.strip().splitlines()
    assert len(rows) == 4 and rows[1].split(",")[2] == "0"  # face_found = 0, nothing invented
    assert client.get(f"/api/sessions/{sid}/report.pdf").content.startswith(b"%PDF")


@needs_shared("media", "videos")
def test_live_websocket_with_a_real_face(client):
    capture = cv2.VideoCapture(str(SHARED / "media/videos/liveportrait_driving_d0.mp4"))
    sid = client.post("/api/sessions", json={"name": "live"}).json()["id"]
    with client.websocket_connect(f"{WS}/api/sessions/{sid}/live") as ws:
        for i in range(10):
            _, frame = capture.read()
            ws.send_bytes(frame_message(i / 25, frame))
            reply = ws.receive_json()
    assert len(reply["faces"]) == 1 and -1 <= reply["valence_smooth"] <= 1 and reply["label"] in FER7.labels
    low, high = reply["valence_band"]
    assert low <= reply["valence_smooth"] <= high
    bars = reply["smooth_probabilities"]   # the bars the page shows: the label is (within the margin) their top
    assert bars[reply["label"]] >= max(bars.values()) - 0.1 and sum(bars.values()) == pytest.approx(1, abs=1e-3)
    summary = client.get(f"/api/sessions/{sid}/summary.json").json()
    assert summary["frames_with_face"] == 10


def test_websocket_rejects_unknown_and_stopped_sessions(client):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect), client.websocket_connect(f"{WS}/api/sessions/{'0' * 32}/live") as ws:
        ws.receive_json()
    sid = client.post("/api/sessions", json={}).json()["id"]
    client.post(f"/api/sessions/{sid}/stop")
    with pytest.raises(WebSocketDisconnect), client.websocket_connect(f"{WS}/api/sessions/{sid}/live") as ws:
        ws.receive_json()


def test_token_is_required_when_set(weights, tmp_path):
    app = create_app(tmp_path / "data", weights=str(weights), token="s3cret")
    with TestClient(app) as client:
        assert client.get("/api/sessions").status_code == 401
        assert client.get("/api/sessions", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/api/sessions?token=s3cret").status_code == 200


def live_session_with_frames(client, name: str, client_code: str, frames: int = 3) -> str:
    sid = client.post("/api/sessions", json={"name": name, "client": client_code}).json()["id"]
    with client.websocket_connect(f"{WS}/api/sessions/{sid}/live") as ws:
        for i in range(frames):
            ws.send_bytes(frame_message(i * 0.1, np.full((120, 160, 3), 90, np.uint8)))
            ws.receive_json()
    client.post(f"/api/sessions/{sid}/stop")
    return sid


def test_clients_trend_export_and_erasure(client, tmp_path):
    import io
    import sqlite3
    import zipfile

    first = live_session_with_frames(client, "first", "K-1")
    second = live_session_with_frames(client, "second", "K-1")
    other = live_session_with_frames(client, "other", "K-2")
    client.post(f"/api/sessions/{first}/notes", json={"time_s": 0.1, "text": "arrives late"})
    listed = {s["id"]: s for s in client.get("/api/sessions").json()}
    assert listed[first]["client"] == "K-1" and listed[first]["duration_s"] == pytest.approx(0.2)
    trend = client.get("/api/clients/trend", params={"client": "K-1"}).json()
    assert [s["id"] for s in trend["sessions"]] == [first, second]  # oldest first
    assert set(trend["sessions"][0]["groups"]) == {"positive", "neutral", "negative"}
    archive = zipfile.ZipFile(io.BytesIO(client.get("/api/clients/export.zip", params={"client": "K-1"}).content))
    names = archive.namelist()
    assert sum(n.endswith("/timeline.csv") for n in names) == 2 and sum(n.endswith("/session.json") for n in names) == 2
    assert not any(other[:8] in n for n in names)
    assert any(b"arrives late" in archive.read(n) for n in names if n.endswith("session.json"))
    assert client.get("/api/clients/trend", params={"client": "nobody"}).status_code == 404
    assert client.delete("/api/clients", params={"client": "K-1"}).status_code == 204
    data = tmp_path / "data"
    assert not (data / "sessions" / first).exists() and not (data / "sessions" / second).exists()
    database = sqlite3.connect(data / "rtfer.sqlite3")
    for table in ("sessions", "frames"):
        column = "id" if table == "sessions" else "session_id"
        query = f"SELECT COUNT(*) FROM {table} WHERE {column} IN (?, ?)"
        assert database.execute(query, (first, second)).fetchone() == (0,)
    assert database.execute("SELECT COUNT(*) FROM notes WHERE session_id = ?", (first,)).fetchone() == (0,)
    assert [s["id"] for s in client.get("/api/sessions").json()] == [other]  # the other client keeps everything


def test_a_dropped_socket_interrupts_the_session_and_keeps_its_frames(client, weights, tmp_path):
    sid = client.post("/api/sessions", json={"name": "dropped"}).json()["id"]
    with client.websocket_connect(f"{WS}/api/sessions/{sid}/live") as ws:
        for i in range(2):
            ws.send_bytes(frame_message(i * 0.1, np.full((120, 160, 3), 90, np.uint8)))
            ws.receive_json()
    deadline = time.time() + 5  # the server notices the closed socket a moment after the client
    while client.get(f"/api/sessions/{sid}").json()["status"] != "interrupted" and time.time() < deadline:
        time.sleep(0.05)
    assert client.get(f"/api/sessions/{sid}").json()["status"] == "interrupted"  # no Stop: cut off
    assert len(client.get(f"/api/sessions/{sid}/timeline.csv").text.strip().splitlines()) == 3
    live = client.post("/api/sessions", json={"name": "live at the restart"}).json()["id"]
    with TestClient(create_app(tmp_path / "data", weights=str(weights)), base_url=LOCAL) as restarted:
        assert restarted.get(f"/api/sessions/{live}").json()["status"] == "interrupted"
        assert restarted.get(f"/api/sessions/{sid}").json()["status"] == "interrupted"


def test_notes_are_edited_and_deleted(client):
    sid = client.post("/api/sessions", json={}).json()["id"]
    note = client.post(f"/api/sessions/{sid}/notes", json={"time_s": 3, "text": "first thought"}).json()
    edited = client.patch(f"/api/sessions/{sid}/notes/{note['id']}", json={"text": "second thought"})
    assert edited.status_code == 200 and edited.json()["text"] == "second thought"
    assert client.get(f"/api/sessions/{sid}").json()["notes"][0]["text"] == "second thought"
    assert client.patch(f"/api/sessions/{sid}/notes/999", json={"text": "x"}).status_code == 404
    assert client.delete(f"/api/sessions/{sid}/notes/{note['id']}").status_code == 204
    assert client.get(f"/api/sessions/{sid}").json()["notes"] == []


def test_downloads_are_named_alike_and_the_favicon_is_served(client):
    sid = live_session_with_frames(client, "named", "")
    for what in ("timeline.csv", "summary.json", "report.html"):
        disposition = client.get(f"/api/sessions/{sid}/{what}").headers["content-disposition"]
        assert disposition == f'attachment; filename="rtfer-{sid[:8]}-{what}"'
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_unplayable_upload_gets_an_h264_copy_and_can_be_discarded(client, tmp_path):
    from rtfer.video.h264 import is_playable

    video = small_video(tmp_path / "room.mp4")  # MPEG-4 Part 2: Chromium does not play it
    assert not is_playable(video)
    sid = client.post("/api/uploads", files={"file": ("room.mp4", video.read_bytes(), "video/mp4")}).json()["id"]
    assert wait_for(client, sid)["status"] == "done"
    served = tmp_path / "served.mp4"
    served.write_bytes(client.get(f"/api/sessions/{sid}/video").content)
    assert is_playable(served)
    sid = client.post("/api/uploads?keep_video=false",
                      files={"file": ("room.mp4", video.read_bytes(), "video/mp4")}).json()["id"]
    assert wait_for(client, sid)["status"] == "done"
    assert client.get(f"/api/sessions/{sid}/video").status_code == 404
    assert not list((tmp_path / "data" / "sessions" / sid).glob("*.mp4"))
    assert client.get(f"/api/sessions/{sid}/timeline.csv").status_code == 200  # the results stay


def test_pdf_report_has_the_whole_note_and_the_session_date(monkeypatch):
    from matplotlib.figure import Figure

    from rtfer.report.session_report import report_pdf

    written: list[str] = []
    original = Figure.text

    def recording(self, x, y, s, *args, **kwargs):
        written.append(s)
        return original(self, x, y, s, *args, **kwargs)

    monkeypatch.setattr(Figure, "text", recording)
    note = "the client describes the week at work " * 10  # 380 characters
    summary = {"share_of_time": {"happy": 1.0}, "source": {"path": "live", "duration_s": 60}, "model": "m",
               "frames_processed": 10, "frames_with_face": 10, "valence_smooth": {"mean": 0.2, "min": 0, "max": 0.4},
               "change_points": []}
    started = time.mktime((2025, 3, 14, 10, 30, 0, 0, 0, -1))
    assert report_pdf("s", summary, [{"time_s": 65, "text": note}], None, session_started=started).startswith(b"%PDF")
    text = " ".join(" ".join(written).split())
    assert " ".join(note.split()) in text
    assert "Session of 2025-03-14 10:30" in text and "1:05" in text


def test_annotated_video_is_h264(tmp_path):
    from rtfer.video.annotate import AnnotatedWriter
    from rtfer.video.h264 import is_playable
    from rtfer.video.sources import VideoInfo
    from rtfer.video.timeline import FrameResult, Timeline

    timeline = Timeline(VideoInfo("x", "file", 10, 5, 161, 121), FER7.labels, "m", [])
    writer = AnnotatedWriter(tmp_path / "annotated.mp4")
    for i in range(5):
        writer.write(np.full((121, 161, 3), 40 * i, np.uint8), FrameResult(i, i / 10), timeline)
    writer.close()
    assert is_playable(tmp_path / "annotated.mp4")
