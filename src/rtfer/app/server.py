"""The RT-FER web app's HTTP and WebSocket API (FastAPI).

Privacy by default: live frames are analysed in memory and never written to disk (only the per-frame
results are stored); uploads live only in the data dir under a name made here; the server binds to
127.0.0.1 unless told otherwise, and then requires an access token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, HTTPException, Query, Request, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from rtfer.app.live import FrameError, LiveSession, decode_frame_message
from rtfer.app.storage import Session, Storage
from rtfer.errors import RtferError
from rtfer.report.palette import EMOTION_COLORS
from rtfer.runtime.recognizer import EmotionRecognizer
from rtfer.runtime.weights import DEFAULT_MODEL
from rtfer.video.changes import detect_changes
from rtfer.video.sources import VideoInfo
from rtfer.video.timeline import Timeline, frame_from_record

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 64 * 1024
VIDEO_SIGNATURES = {  # container magic bytes -> stored extension (the type is checked by content)
    "mp4": lambda head: head[4:8] == b"ftyp" and head[8:10] != b"qt",
    "mov": lambda head: head[4:8] == b"ftyp" and head[8:10] == b"qt",
    "webm": lambda head: head[:4] == b"\x1a\x45\xdf\xa3",
    "avi": lambda head: head[:4] == b"RIFF" and head[8:12] == b"AVI ",
}


class SessionCreate(BaseModel):
    name: str = Field(default="Live session", min_length=1, max_length=200)


class SessionRename(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class NoteCreate(BaseModel):
    time_s: float = Field(ge=0, le=7 * 24 * 3600)
    text: str = Field(min_length=1, max_length=5000)


def sniff_video(head: bytes) -> str | None:
    return next((ext for ext, matches in VIDEO_SIGNATURES.items() if matches(head)), None)


def timeline_from_records(records: list[dict[str, Any]], labels: tuple[str, ...], model: str) -> Timeline:
    """Rebuild a Timeline from stored live results (for CSV, summary and change points)."""
    rows = [frame_from_record(r, labels) for r in records]
    duration = rows[-1].time_s if rows else 0.0
    fps = (len(rows) - 1) / duration if duration > 0 else 0.0
    timeline = Timeline(VideoInfo("webcam", "live", fps, len(rows), 0, 0), labels, model, rows,
                        has_intensity=any(f"i_{labels[0]}" in r for r in records))
    timeline.change_points = detect_changes(rows)  # the live detector over the same rows: the same list
    return timeline


def create_app(data_dir: str | Path, weights: str = DEFAULT_MODEL, token: str | None = None,
               max_upload_mb: int = 2048) -> FastAPI:
    """The app over ``data_dir`` (created if needed). ``token``: required on every request when set."""
    storage = Storage(data_dir)
    recognizer = EmotionRecognizer(weights)
    model_lock = threading.Lock()
    analysis_slots = threading.Semaphore(1)
    model_name = Path(str(weights)).stem
    app = FastAPI(title="rtfer", version="0.1.0", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.storage = storage

    def authorised(request_token: str | None) -> bool:
        return token is None or request_token == token

    async def require_token(request: Request) -> None:
        header = request.headers.get("authorization", "")
        given = (header.removeprefix("Bearer ").strip() if header.startswith("Bearer ")
                 else request.query_params.get("token"))
        if not authorised(given):
            raise HTTPException(401, "access token required")

    @app.middleware("http")
    async def limit_json_bodies(request: Request, call_next):
        if not request.url.path.startswith("/api/uploads"):
            length = request.headers.get("content-length")
            if length and length.isdigit() and int(length) > MAX_JSON_BYTES:
                return JSONResponse({"detail": "request body too large"}, status_code=413)
        return await call_next(request)

    def session_or_404(session_id: str) -> Session:
        try:
            return storage.get(session_id)
        except KeyError:
            raise HTTPException(404, "unknown session") from None

    auth = [Depends(require_token)]

    @app.get("/api/health", dependencies=auth)
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": model_name, "labels": list(recognizer.labels),
                "colors": {name: EMOTION_COLORS[name] for name in recognizer.labels},
                "intensity": recognizer.has_intensity}

    @app.get("/api/sessions", dependencies=auth)
    def list_sessions() -> list[dict[str, Any]]:
        return [s.to_dict() for s in storage.list()]

    @app.post("/api/sessions", status_code=201, dependencies=auth)
    def create_session(body: SessionCreate) -> dict[str, Any]:
        return storage.create(body.name, "live", model_name, "live").to_dict()

    @app.get("/api/sessions/{session_id}", dependencies=auth)
    def get_session(session_id: str) -> dict[str, Any]:
        return {**session_or_404(session_id).to_dict(), "notes": storage.notes(session_id)}

    @app.patch("/api/sessions/{session_id}", dependencies=auth)
    def rename_session(session_id: str, body: SessionRename) -> dict[str, Any]:
        session_or_404(session_id)
        return storage.update(session_id, name=body.name).to_dict()

    @app.delete("/api/sessions/{session_id}", status_code=204, dependencies=auth)
    def delete_session(session_id: str) -> Response:
        session_or_404(session_id)
        storage.delete(session_id)
        return Response(status_code=204)

    @app.post("/api/sessions/{session_id}/stop", dependencies=auth)
    def stop_session(session_id: str) -> dict[str, Any]:
        session = session_or_404(session_id)
        if session.kind != "live":
            raise HTTPException(409, "only live sessions can be stopped")
        return storage.update(session_id, status="stopped").to_dict()

    @app.post("/api/sessions/{session_id}/notes", status_code=201, dependencies=auth)
    def add_note(session_id: str, body: NoteCreate) -> dict[str, Any]:
        session_or_404(session_id)
        return storage.add_note(session_id, body.time_s, body.text)

    def live_timeline(session: Session) -> Timeline:
        return timeline_from_records(storage.frames(session.id), recognizer.labels, session.model)

    @app.get("/api/sessions/{session_id}/timeline.csv", dependencies=auth)
    def timeline_csv(session_id: str) -> Response:
        session = session_or_404(session_id)
        path = storage.folder(session_id) / "timeline.csv"
        if session.kind == "live":
            live_timeline(session).to_csv(path)
        elif session.status != "done":
            raise HTTPException(409, f"analysis is {session.status}")
        return FileResponse(path, media_type="text/csv", filename=f"rtfer-{session_id[:8]}-timeline.csv")

    @app.get("/api/sessions/{session_id}/summary.json", dependencies=auth)
    def summary_json(session_id: str) -> Response:
        session = session_or_404(session_id)
        summary = session_summary(session)
        return JSONResponse({**summary, "session": session.to_dict(), "notes": storage.notes(session_id)})

    def session_summary(session: Session) -> dict[str, Any]:
        if session.kind == "live":
            return live_timeline(session).summary()
        if session.status == "done":
            return json.loads((storage.folder(session.id) / "summary.json").read_text())
        raise HTTPException(409, f"analysis is {session.status}")

    def report_plot(session: Session) -> Path:
        path = storage.folder(session.id) / "timeline.png"
        if session.kind == "live":
            from rtfer.report.timeline_plot import plot_timeline

            timeline = live_timeline(session)
            if not timeline.rows:
                raise HTTPException(409, "this session has no frames yet")
            plot_timeline(timeline, path)
        return path

    @app.get("/api/sessions/{session_id}/report.{form}", dependencies=auth)
    def report(session_id: str, form: Literal["html", "pdf"]) -> Response:
        from rtfer.report.session_report import report_html, report_pdf

        session = session_or_404(session_id)
        make = report_html if form == "html" else report_pdf
        content = make(session.name, session_summary(session), storage.notes(session_id), report_plot(session))
        return Response(content, media_type="text/html" if form == "html" else "application/pdf",
                        headers={"content-disposition": f'attachment; filename="rtfer-{session_id[:8]}-report.{form}"'})

    @app.get("/api/sessions/{session_id}/video", dependencies=auth)
    def video(session_id: str) -> FileResponse:
        session = session_or_404(session_id)
        files = list(storage.folder(session_id).glob("upload.*"))
        if session.kind != "upload" or not files:
            raise HTTPException(404, "this session has no video")
        return FileResponse(files[0])  # Starlette answers Range requests: the page can seek

    @app.post("/api/uploads", status_code=202, dependencies=auth)
    async def upload(file: Annotated[UploadFile, File()],
                     baseline_s: Annotated[float | None, Query(gt=0, le=600)] = None) -> dict[str, Any]:
        """``baseline_s``: take the first seconds of the video as the client's resting baseline."""
        head = await file.read(16)
        extension = sniff_video(head)
        if extension is None:
            raise HTTPException(415, "not a video this app accepts (mp4, mov, webm/mkv, avi; checked by content)")
        name = (file.filename or "video")[:200]
        session = storage.create(name, "upload", model_name, "queued")
        target = storage.folder(session.id) / f"upload.{extension}"
        size = len(head)
        limit = max_upload_mb * 1024 * 1024
        with target.open("wb") as out:
            out.write(head)
            while chunk := await file.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    out.close()
                    storage.delete(session.id)
                    raise HTTPException(413, f"upload larger than {max_upload_mb} MB")
                out.write(chunk)
        storage.update(session.id, video_name=name)
        threading.Thread(target=analyse_upload, args=(session.id, target, baseline_s), daemon=True).start()
        return storage.get(session.id).to_dict()

    def analyse_upload(session_id: str, path: Path, baseline_s: float | None = None) -> None:
        from rtfer.report.timeline_plot import plot_timeline
        from rtfer.video.analyze import analyze_video

        with analysis_slots:
            storage.update(session_id, status="processing")
            folder = storage.folder(session_id)
            try:
                def progress(frame, result, timeline) -> None:
                    if timeline.info.frame_count and result.frame % 25 == 0:
                        storage.update(session_id, progress=min(result.frame / timeline.info.frame_count, 0.99))

                # its own recognizer and detector: live sessions are not held up by an upload
                timeline = analyze_video(path, weights=weights, progress=False, on_frame=progress,
                                         baseline=None if baseline_s is None else f"{baseline_s:g}s")
                timeline.info.source = storage.get(session_id).video_name
                timeline.to_csv(folder / "timeline.csv")
                (folder / "summary.json").write_text(json.dumps(timeline.summary(), indent=1))
                plot_timeline(timeline, folder / "timeline.png")
                storage.update(session_id, status="done", progress=1.0)
            except (RtferError, OSError, ValueError) as exc:
                log.warning("analysis of %s failed: %s", session_id, exc)
                storage.update(session_id, status="failed", error=str(exc)[:500])
            except KeyError:
                return  # deleted while it ran

    @app.websocket("/api/sessions/{session_id}/live")
    async def live(websocket: WebSocket, session_id: str, token_param: str | None = Query(None, alias="token")):
        if not authorised(token_param):
            await websocket.close(code=1008, reason="access token required")
            return
        try:
            session = storage.get(session_id)
        except KeyError:
            await websocket.close(code=1008, reason="unknown session")
            return
        if session.kind != "live" or session.status != "live":
            await websocket.close(code=1008, reason="session is not live")
            return
        await websocket.accept()
        state = LiveSession(recognizer, model_lock)
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("text") is not None:
                    await websocket.send_json(control(state, message["text"]))
                    continue
                try:
                    time_s, frame = decode_frame_message(message.get("bytes") or b"")
                except FrameError as exc:
                    await websocket.send_json({"type": "error", "detail": str(exc)})
                    continue
                # one frame at a time: the page sends the next frame only after this reply (backpressure)
                reply, record = await run_in_threadpool(state.process, time_s, frame)
                await asyncio.to_thread(storage.add_frames, session_id, [record])
                await websocket.send_json(reply)
        except WebSocketDisconnect:
            pass
        except KeyError:  # the session was deleted meanwhile
            await websocket.close(code=1008, reason="session deleted")

    def control(state: LiveSession, text: str) -> dict[str, Any]:
        try:
            command = json.loads(text)
            if not isinstance(command, dict) or command.get("type") != "select":
                raise ValueError
            track = command.get("track_id")
            if track is not None and not isinstance(track, int):
                raise ValueError
        except (ValueError, TypeError):
            return {"type": "error", "detail": 'text messages must be {"type": "select", "track_id": int|null}'}
        state.track_id = track
        return {"type": "selected", "track_id": track}

    # the page last, so /api routes win; html=True serves index.html at /
    app.mount("/", StaticFiles(directory=Path(__file__).parent / "static", html=True), name="page")
    return app
