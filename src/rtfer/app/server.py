"""The RT-FER web app's HTTP and WebSocket API (FastAPI).

Privacy by default: live frames are analysed in memory and never written to disk (only the per-frame
results are stored); uploads live only in the data dir under a name made here; the server binds to
127.0.0.1 unless told otherwise, and then requires an access token. Host, Origin, token and body limits
are checked by ``rtfer.app.guard`` before a route runs (docs/security.md).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import shutil
import threading
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from rtfer.app.guard import LOOPBACK_HOSTS, RequestGuard
from rtfer.app.live import FrameError, LiveSession, check_frame_message
from rtfer.app.storage import Session, SessionClosed, Storage, UnknownSession
from rtfer.errors import RtferError
from rtfer.report.palette import EMOTION_COLORS
from rtfer.runtime.recognizer import EmotionRecognizer
from rtfer.runtime.weights import DEFAULT_MODEL
from rtfer.taxonomy import GROUP_OF, NEGATIVE, NEUTRAL, POSITIVE
from rtfer.video.changes import detect_changes
from rtfer.video.h264 import is_playable, make_playable
from rtfer.video.sources import VideoInfo
from rtfer.video.timeline import Timeline, frame_from_record

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 64 * 1024
MULTIPART_OVERHEAD = 64 * 1024  # an upload's form framing (boundaries, part headers) on top of the file
VIDEO_SIGNATURES = {  # container magic bytes -> stored extension (the type is checked by content)
    "mp4": lambda head: head[4:8] == b"ftyp" and head[8:10] != b"qt",
    "mov": lambda head: head[4:8] == b"ftyp" and head[8:10] == b"qt",
    "webm": lambda head: head[:4] == b"\x1a\x45\xdf\xa3",
    "avi": lambda head: head[:4] == b"RIFF" and head[8:12] == b"AVI ",
}


ClientCode = Annotated[str, Field(max_length=100)]  # a pseudonym or code, never required to be a real name


class SessionCreate(BaseModel):
    name: str = Field(default="Live session", min_length=1, max_length=200)
    client: ClientCode = ""


class SessionRename(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    client: ClientCode | None = None


class NoteEdit(BaseModel):
    text: str = Field(min_length=1, max_length=5000)


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


def public_error(exc: Exception, *paths: Path) -> str:
    """The message of a failed analysis as the client may see it: without the server's paths."""
    message = str(exc)
    for path in paths:
        message = message.replace(str(path), path.name)
    return message[:500]


def attachment(session_id: str, what: str) -> dict[str, str]:
    """The header that names a download; every one the same way: ``rtfer-<first 8 of the id>-<what>``."""
    return {"content-disposition": f'attachment; filename="rtfer-{session_id[:8]}-{what}"'}


def create_app(data_dir: str | Path, weights: str = DEFAULT_MODEL, token: str | None = None,
               max_upload_mb: int = 2048, allowed_hosts: frozenset[str] | None = None,
               api_docs: bool = False) -> FastAPI:
    """The app over ``data_dir`` (created if needed). ``token``: required on every request when set.

    ``allowed_hosts``: the Host names served; by default the loopback names without a token (against
    DNS rebinding) and any name with one (the token is the protection). ``api_docs``: serve the OpenAPI
    page at /api/docs (off by default: FastAPI's page loads its scripts from a CDN).
    """
    storage = Storage(data_dir)
    recognizer = EmotionRecognizer(weights)
    model_lock = threading.Lock()
    analysis_slots = threading.Semaphore(1)
    live_clients: set[str] = set()  # sessions with a connected WebSocket (one client per session)
    dropped: set[str] = set()  # live sessions whose connection dropped in this process (they may resume)
    model_name = Path(str(weights)).stem
    app = FastAPI(title="rtfer", version="0.1.0", docs_url="/api/docs" if api_docs else None, redoc_url=None,
                  openapi_url="/api/openapi.json" if api_docs else None)
    app.state.storage = storage
    upload_limit = max_upload_mb * 1024 * 1024
    app.add_middleware(RequestGuard, token=token,
                       allowed_hosts=allowed_hosts if allowed_hosts is not None or token else LOOPBACK_HOSTS,
                       body_limit=lambda path: upload_limit + MULTIPART_OVERHEAD if path == "/api/uploads"
                       else MAX_JSON_BYTES)

    @app.exception_handler(UnknownSession)
    async def unknown_session(request: Request, exc: UnknownSession) -> JSONResponse:
        return JSONResponse({"detail": "unknown session"}, status_code=404)

    @app.exception_handler(FileNotFoundError)
    async def missing_file(request: Request, exc: FileNotFoundError) -> JSONResponse:
        """A session's file vanished under a request: it was deleted meanwhile (else a real fault)."""
        session_id = request.path_params.get("session_id", "")
        if not storage.exists(session_id):
            return JSONResponse({"detail": "unknown session"}, status_code=404)
        log.error("missing file in session %s: %s", session_id, exc)
        return JSONResponse({"detail": "a stored file of this session is missing"}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """Validation errors without the offending input (it may be NaN or Infinity, which JSON cannot carry)."""
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": model_name, "labels": list(recognizer.labels),
                "colors": {name: EMOTION_COLORS[name] for name in recognizer.labels},
                "intensity": recognizer.has_intensity}

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """The icon browsers ask for on every load (an SVG: Chromium and Firefox take it at this name)."""
        return FileResponse(Path(__file__).parent / "static" / "favicon.svg", media_type="image/svg+xml")

    def duration(session: Session) -> float | None:
        """Seconds of the session: stored frames for live ones, the video's length for analysed uploads."""
        if session.kind == "live":
            return storage.live_duration(session.id)
        summary = storage.folder(session.id) / "summary.json"
        if session.status != "done" or not summary.is_file():
            return None
        return json.loads(summary.read_text())["source"].get("duration_s")

    @app.get("/api/sessions")
    def list_sessions() -> list[dict[str, Any]]:
        return [{**s.to_dict(), "duration_s": duration(s)} for s in storage.list()]

    @app.post("/api/sessions", status_code=201)
    def create_session(body: SessionCreate) -> dict[str, Any]:
        return storage.create(body.name, "live", model_name, "live", client=body.client.strip()).to_dict()

    @app.get("/api/sessions/{session_id}")
    def get_session(session_id: str) -> dict[str, Any]:
        return {**storage.get(session_id).to_dict(), "notes": storage.notes(session_id)}

    @app.patch("/api/sessions/{session_id}")
    def rename_session(session_id: str, body: SessionRename) -> dict[str, Any]:
        fields = {key: value.strip() if key == "client" else value
                  for key, value in body.model_dump().items() if value is not None}
        if not fields:
            raise HTTPException(422, "nothing to change")
        return storage.update(session_id, **fields).to_dict()

    @app.delete("/api/sessions/{session_id}", status_code=204)
    def delete_session(session_id: str) -> Response:
        storage.delete(session_id)
        return Response(status_code=204)

    @app.post("/api/sessions/{session_id}/stop")
    def stop_session(session_id: str) -> dict[str, Any]:
        session = storage.get(session_id)
        if session.kind != "live":
            raise HTTPException(409, "only live sessions can be stopped")
        return storage.update(session_id, status="stopped").to_dict()

    @app.post("/api/sessions/{session_id}/notes", status_code=201)
    def add_note(session_id: str, body: NoteCreate) -> dict[str, Any]:
        return storage.add_note(session_id, body.time_s, body.text)

    @app.patch("/api/sessions/{session_id}/notes/{note_id}")
    def edit_note(session_id: str, note_id: int, body: NoteEdit) -> dict[str, Any]:
        return storage.update_note(session_id, note_id, body.text)

    @app.delete("/api/sessions/{session_id}/notes/{note_id}", status_code=204)
    def delete_note(session_id: str, note_id: int) -> Response:
        storage.delete_note(session_id, note_id)
        return Response(status_code=204)

    def live_timeline(session: Session) -> Timeline:
        return timeline_from_records(storage.frames(session.id), recognizer.labels, session.model)

    @app.get("/api/sessions/{session_id}/timeline.csv")
    def timeline_csv(session_id: str) -> Response:
        session = storage.get(session_id)
        path = storage.folder(session_id) / "timeline.csv"
        if session.kind == "live":
            live_timeline(session).to_csv(path)
        elif session.status != "done":
            raise HTTPException(409, f"analysis is {session.status}")
        # read here, not streamed later: a delete racing the download then gives a 404, not a broken response
        return Response(path.read_bytes(), media_type="text/csv", headers=attachment(session_id, "timeline.csv"))

    @app.get("/api/sessions/{session_id}/summary.json")
    def summary_json(session_id: str) -> Response:
        session = storage.get(session_id)
        summary = session_summary(session)
        return JSONResponse({**summary, "session": session.to_dict(), "notes": storage.notes(session_id)},
                            headers=attachment(session_id, "summary.json"))

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

    @app.get("/api/sessions/{session_id}/report.{form}")
    def report(session_id: str, form: Literal["html", "pdf"]) -> Response:
        from rtfer.report.session_report import report_html, report_pdf

        session = storage.get(session_id)
        make = report_html if form == "html" else report_pdf
        content = make(session.name, session_summary(session), storage.notes(session_id), report_plot(session),
                       session_started=session.created, client=session.client)
        return Response(content, media_type="text/html" if form == "html" else "application/pdf",
                        headers=attachment(session_id, f"report.{form}"))

    def client_sessions(client: str) -> list[Session]:
        sessions = storage.list(client=client.strip()) if client.strip() else []
        if not sessions:
            raise HTTPException(404, "no sessions for this client")
        return sessions

    @app.get("/api/clients/trend")
    def client_trend(client: Annotated[str, Query(max_length=100)]) -> dict[str, Any]:
        """Per session of the client, oldest first: date, duration, mean valence and share of time per group."""
        rows = []
        for session in reversed(client_sessions(client)):
            try:
                summary = session_summary(session)
            except HTTPException:  # not analysed (yet): listed without numbers
                summary = {}
            shares = summary.get("share_of_time") or {}
            # surprise counts with neutral, as valence counts it 0
            groups = {group: round(sum(v for k, v in shares.items() if (GROUP_OF.get(k) or NEUTRAL) == group), 4)
                      for group in (POSITIVE, NEUTRAL, NEGATIVE)}
            rows.append({"id": session.id, "name": session.name, "created": session.created,
                         "duration_s": duration(session), "groups": groups,
                         "mean_valence": (summary.get("valence_smooth") or {}).get("mean")})
        return {"client": client.strip(), "sessions": rows}

    @app.get("/api/clients/export.zip")
    def client_export(client: Annotated[str, Query(max_length=100)]) -> Response:
        """Everything of a client: per session its files, its notes and session row as JSON, and reports."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for session in client_sessions(client):
                folder = f"{session.created_date()}-{session.id[:8]}"  # names made here, never the client's text
                if session.kind == "live":
                    live_timeline(session).to_csv(storage.folder(session.id) / "timeline.csv")
                for path in sorted(storage.folder(session.id).iterdir()):
                    if path.is_file() and not path.name.startswith("."):
                        archive.write(path, f"{folder}/{path.name}")
                archive.writestr(f"{folder}/session.json", json.dumps(
                    {"session": session.to_dict(), "notes": storage.notes(session.id)}, indent=1))
        return Response(buffer.getvalue(), media_type="application/zip",
                        headers={"content-disposition": 'attachment; filename="rtfer-client-export.zip"'})

    @app.delete("/api/clients", status_code=204)
    def client_erase(client: Annotated[str, Query(max_length=100)]) -> Response:
        """Right to erasure: every session of the client, its rows, notes, frames and folder."""
        for session in client_sessions(client):
            storage.delete(session.id)
        return Response(status_code=204)

    @app.get("/api/sessions/{session_id}/video")
    def video(session_id: str) -> FileResponse:
        session = storage.get(session_id)
        folder = storage.folder(session_id)
        files = [folder / "playable.mp4"] if (folder / "playable.mp4").is_file() else list(folder.glob("upload.*"))
        if session.kind != "upload" or not files:
            raise HTTPException(404, "this session has no video")
        # Starlette answers Range requests: the page can seek; stat here so a deleted file is a 404
        return FileResponse(files[0], stat_result=os.stat(files[0]))

    @app.post("/api/uploads", status_code=202)
    async def upload(file: Annotated[UploadFile, File()],
                     baseline_s: Annotated[float | None, Query(gt=0, le=600)] = None,
                     client: Annotated[str, Query(max_length=100)] = "",
                     keep_video: bool = True) -> dict[str, Any]:
        """``baseline_s``: take the first seconds of the video as the client's resting baseline.
        ``keep_video``: false deletes the video once analysed (only its results stay)."""
        head = await file.read(16)
        extension = sniff_video(head)
        if extension is None:
            raise HTTPException(415, "not a video this app accepts (mp4, mov, webm/mkv, avi; checked by content)")
        name = (file.filename or "video")[:200]
        session = storage.create(name, "upload", model_name, "queued", client=client.strip())
        target = storage.folder(session.id) / f"upload.{extension}"
        size = len(head)
        with target.open("wb") as out:
            out.write(head)
            while chunk := await file.read(1024 * 1024):
                size += len(chunk)
                if size > upload_limit:
                    out.close()
                    storage.delete(session.id)
                    raise HTTPException(413, f"upload larger than {max_upload_mb} MB")
                out.write(chunk)
        storage.update(session.id, video_name=name)
        if not keep_video:
            (storage.folder(session.id) / "discard-video").touch()  # survives a restart with the queue
        start_analysis(session.id, baseline_s)
        return storage.get(session.id).to_dict()

    def start_analysis(session_id: str, baseline_s: float | None = None) -> None:
        threading.Thread(target=analyse_upload, args=(session_id, baseline_s), daemon=True).start()

    def analyse_upload(session_id: str, baseline_s: float | None = None) -> None:
        """Worker thread: the upload's timeline.csv, summary.json and timeline.png, all or nothing.
        A session deleted meanwhile ends the work quietly; any other failure marks the session failed."""
        from rtfer.video.outputs import write_analysis

        folder = storage.folder(session_id)
        with analysis_slots:
            try:
                storage.update(session_id, status="processing")
                path = next(folder.glob("upload.*"))

                def progress(frame, result, timeline) -> None:
                    if timeline.info.frame_count and result.frame % 25 == 0:
                        storage.update(session_id, progress=min(result.frame / timeline.info.frame_count, 0.99))

                # its own recognizer and detector: live sessions are not held up by an upload
                write_analysis(path, folder, weights=weights, progress=False, on_frame=progress,
                               source_name=storage.get(session_id).video_name,
                               baseline=None if baseline_s is None else f"{baseline_s:g}s")
                if (folder / "discard-video").exists():
                    path.unlink()
                    (folder / "discard-video").unlink()
                elif not is_playable(path):  # e.g. AVI or MPEG-4 Part 2: the review plays an H.264 copy
                    try:
                        make_playable(path, folder / "playable.mp4")
                    except RtferError as exc:  # the results stand; only the review's video is missing
                        log.warning("session %s: %s", session_id, exc)
                storage.update(session_id, status="done", progress=1.0)
            except Exception as exc:  # a worker thread: whatever happens, the session must not stay "processing"
                if not storage.exists(session_id):
                    shutil.rmtree(folder, ignore_errors=True)  # deleted while it ran
                    return
                if not isinstance(exc, (RtferError, OSError, ValueError)):
                    log.exception("analysis of %s failed", session_id)
                storage.update(session_id, status="failed", error=public_error(exc, folder, storage.root))

    for session_id in storage.recover():  # uploads a killed server had not finished
        start_analysis(session_id)

    @app.websocket("/api/sessions/{session_id}/live")
    async def live(websocket: WebSocket, session_id: str):
        try:
            session = storage.get(session_id)
        except UnknownSession:
            await websocket.close(code=1008, reason="unknown session")
            return
        resumable = session.status == "interrupted" and session_id in dropped  # cut off here, not by a restart
        if session.kind != "live" or not (session.status == "live" or resumable):
            await websocket.close(code=1008, reason="session is not live")
            return
        if session_id in live_clients:
            await websocket.close(code=1008, reason="this session already has a client")
            return
        live_clients.add(session_id)
        if resumable:  # the same client back after a dropped connection: the timeline goes on
            storage.update(session_id, status="live")
        try:
            await websocket.accept()
            await stream_live(websocket, session_id)
        finally:
            # the page posts /stop before it closes its socket: a socket gone while still live was cut off
            # (a closed tab, a dropped network); its frames stay, and its client may come back to go on.
            # Marked before the slot is freed (one quick UPDATE, on the loop): a client coming back then
            # always finds the session resumable, never still live under a closing handler
            if storage.interrupt(session_id):
                dropped.add(session_id)
            live_clients.discard(session_id)

    async def stream_live(websocket: WebSocket, session_id: str) -> None:
        state = LiveSession(recognizer, model_lock, seq=storage.frame_count(session_id))
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("text") is not None:
                    await websocket.send_json(control(state, message["text"]))
                    continue
                try:
                    time_s, jpeg = check_frame_message(message.get("bytes") or b"")
                    # one frame at a time: the page sends the next frame only after this reply (backpressure)
                    reply, record = await run_in_threadpool(state.process_jpeg, time_s, jpeg)
                except FrameError as exc:
                    await websocket.send_json({"type": "error", "detail": str(exc)})
                    continue
                await asyncio.to_thread(storage.add_frames, session_id, [record])
                await websocket.send_json(reply)
        except WebSocketDisconnect:
            pass
        except UnknownSession:
            await websocket.close(code=1008, reason="session deleted")
        except SessionClosed:
            await websocket.close(code=1000, reason="session stopped")

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
