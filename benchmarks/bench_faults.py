"""Memory and refusal limits under hostile input (issue 17, docs/security.md).

    python benchmarks/bench_faults.py [--seconds 4] [--out FILE]

1. Writes a short 7680x4320 clip (a real face from ../shared, upscaled; a synthetic frame without it) to a
   temporary folder and runs ``rtfer analyze`` on it: the child's peak RSS (``ru_maxrss``).
2. Starts the app in a child process (token mode, --max-upload-mb 64, loopback) wrapped in a counter of
   the body bytes the app pulls from uvicorn per request, runs the hostile suite over real sockets
   (bodies without a token, over the limit by Content-Length, chunked past the limit; 20000x20000 JPEG
   and PNG frames over the WebSocket; NaN notes; 200 rounds of rename/note/get racing a delete; the 8K
   clip as an upload), and reports the server's RSS (VmRSS, and VmHWM: its peak) afterwards, the number
   of 5xx answers and the largest body the app read before refusing a request.
Everything stays on 127.0.0.1 and in temporary folders.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_CLIP = ROOT.parent / "shared" / "media" / "videos" / "liveportrait_driving_d0.mp4"
TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int, key: str) -> float:
    """A /proc/PID/status memory field in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def write_8k_clip(path: Path, seconds: float, fps: int = 10) -> Path:
    frames = []
    capture = cv2.VideoCapture(str(SHARED_CLIP))
    while len(frames) < seconds * fps:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    if not frames:  # no shared data: a synthetic frame (no face; decoding and downscaling are still measured)
        frames = [np.full((480, 640, 3), 90 + i % 50, np.uint8) for i in range(int(seconds * fps))]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (7680, 4320))
    for frame in frames:
        writer.write(cv2.resize(frame, (7680, 4320), interpolation=cv2.INTER_LINEAR))
    writer.release()
    return path


def analyze_peak_rss(clip: Path, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "rtfer", "analyze", str(clip), "--out", str(out), "--quiet"],
                            capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the only child so far
    summary = json.loads((out / "summary.json").read_text()) if result.returncode == 0 else {}
    return {"returncode": result.returncode, "stderr_tail": result.stderr[-300:], "peak_rss_mb": round(peak_mb, 1),
            "seconds": round(seconds, 1), "frames": summary.get("frames_processed"),
            "with_face": summary.get("frames_with_face"), "analysed_size": [summary.get("source", {}).get("width"),
                                                                          summary.get("source", {}).get("height")]}


def child_peak(measure, *args) -> dict:
    """``measure`` in a fresh process: ru_maxrss of children is a maximum over all of them so far."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(measure, args)


# -- the server child ---------------------------------------------------------------------------------------

def serve(port: int, data: Path, log_path: Path) -> None:
    """The app behind a counter of body bytes per request; refusals (4xx) are logged with their count."""
    import uvicorn

    from rtfer.app.server import create_app

    app = create_app(data, token=TOKEN, max_upload_mb=64)
    log = log_path.open("a")

    async def counted(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        pulled = 0
        status = 0

        async def counting_receive():
            nonlocal pulled
            message = await receive()
            pulled += len(message.get("body", b""))
            return message

        async def watching_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, counting_receive, watching_send)
        finally:
            log.write(json.dumps({"path": scope["path"], "status": status, "body_read": pulled}) + "\n")
            log.flush()

    uvicorn.run(counted, host="127.0.0.1", port=port, log_level="warning")


# -- the hostile client ---------------------------------------------------------------------------------------

def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request(method, path, body=body, headers={"Authorization": f"Bearer {TOKEN}", **(headers or {})})
    status = connection.getresponse().status
    connection.close()
    return status


FORM_START = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n'
              b"Content-Type: video/mp4\r\n\r\n\0\0\0\x18ftypisom")


def raw_body(port: int, headers: str, total: int, chunked: bool, chunk: int = 1 << 20) -> str:
    """Send headers then up to ``total`` bytes as fast as the server takes them; returns the status line.
    Multipart bodies start like a real upload, so that only their size can be refused."""
    start = FORM_START if "multipart" in headers else b'{"name": "'
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(headers.encode() + b"\r\n")
        sent = 0
        try:
            while sent < total:
                piece = (start + b"x" * (chunk - len(start))) if sent == 0 else b"x" * chunk
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += chunk
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed: what we measure
        try:
            return sock.recv(200).split(b"\r\n")[0].decode()
        except OSError as exc:
            return f"connection closed ({exc.__class__.__name__})"


def hostile_suite(port: int, clip: Path) -> dict:
    import websockets.sync.client as ws_client

    host = f"127.0.0.1:{port}"
    answers: dict[str, object] = {}
    form = "multipart/form-data; boundary=b"
    bodies = [  # name, path, content type, with the token, bytes, chunked
        ("upload 300 MB, no token", "/api/uploads", form, False, 300 << 20, False),
        ("upload 300 MB by Content-Length, limit 64 MB", "/api/uploads", form, True, 300 << 20, False),
        ("upload 300 MB chunked, limit 64 MB", "/api/uploads", form, True, 300 << 20, True),
        ("JSON 50 MB chunked", "/api/sessions", "application/json", True, 50 << 20, True)]
    for name, path, kind, with_token, size, chunked in bodies:
        headers = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {kind}\r\n"
                   + (f"Authorization: Bearer {TOKEN}\r\n" if with_token else "")
                   + ("Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n"))
        answers[name] = raw_body(port, headers, size, chunked)
    sid = json.loads(_post(port, "/api/sessions", b'{"name": "live"}'))["id"]
    answers["note NaN"] = request(port, "POST", f"/api/sessions/{sid}/notes", b'{"time_s": NaN, "text": "x"}',
                                  {"Content-Type": "application/json"})
    _, small = cv2.imencode(".jpg", np.full((16, 16, 3), 90, np.uint8))
    small = small.tobytes()
    sof = small.index(b"\xff\xc0")
    bomb = small[:sof + 5] + struct.pack(">HH", 20000, 20000) + small[sof + 9:]
    png = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes()
    png = png[:16] + struct.pack(">II", 20000, 20000) + png[24:]
    with ws_client.connect(f"ws://{host}/api/sessions/{sid}/live?token={TOKEN}", max_size=None) as ws:
        replies = []
        for image in (bomb, png) * 10:
            ws.send(struct.pack("<d", 0.0) + image)
            replies.append(json.loads(ws.recv())["detail"])
        answers["websocket bombs (20 frames)"] = sorted(set(replies))
    started = time.perf_counter()
    answers["health during the suite (s)"] = (request(port, "GET", "/api/health"),
                                              round(time.perf_counter() - started, 3))

    statuses: list[int] = []
    for _ in range(200):
        made = json.loads(_post(port, "/api/sessions", b'{"name": "race"}'))["id"]
        calls = [("PATCH", f"/api/sessions/{made}", b'{"name": "r"}'),
                 ("POST", f"/api/sessions/{made}/notes", b'{"time_s": 1, "text": "n"}'),
                 ("GET", f"/api/sessions/{made}", None), ("DELETE", f"/api/sessions/{made}", None)]
        threads = [threading.Thread(target=lambda c=c: statuses.append(
            request(port, c[0], c[1], c[2], {"Content-Type": "application/json"}))) for c in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    answers["race rounds: statuses"] = {str(s): statuses.count(s) for s in sorted(set(statuses))}

    boundary = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"8k.mp4\"\r\n" \
               b"Content-Type: video/mp4\r\n\r\n"
    body = boundary + clip.read_bytes() + b"\r\n--b--\r\n"
    upload = json.loads(_post(port, "/api/uploads", body, form))
    deadline = time.time() + 600
    while time.time() < deadline:
        session = json.loads(_get(port, f"/api/sessions/{upload['id']}"))
        if session["status"] in ("done", "failed"):
            break
        time.sleep(1)
    answers["8K upload"] = {"status": session["status"], "error": session["error"]}
    return answers


def _get(port: int, path: str) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
    return connection.getresponse().read()


def _post(port: int, path: str, body: bytes, kind: str = "application/json") -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("POST", path, body=body, headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": kind})
    return connection.getresponse().read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the 8K clip (10 fps)")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--serve", nargs=3, metavar=("PORT", "DATA", "LOG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), Path(args.serve[1]), Path(args.serve[2]))
        return
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = write_8k_clip(tmp / "8k.mp4", args.seconds)
        results["clip"] = {"size": "7680x4320", "seconds": args.seconds, "bytes": clip.stat().st_size}
        results["analyze"] = analyze_peak_rss(clip, tmp / "out")
        small = tmp / "small.mp4"  # the same frames at 640x360: what analysis costs without the 8K frames
        small_frames = cv2.VideoCapture(str(clip))
        writer = cv2.VideoWriter(str(small), cv2.VideoWriter_fourcc(*"mp4v"), 10, (640, 360))
        while (frame := small_frames.read()[1]) is not None:
            writer.write(cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA))
        writer.release()
        results["analyze_640x360_same_frames"] = child_peak(analyze_peak_rss, small, tmp / "out-small")
        port = free_port()
        log_path = tmp / "requests.jsonl"
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), str(tmp / "data"), str(log_path)],
                                  env=env)
        try:
            deadline = time.time() + 120
            while time.time() < deadline:
                try:
                    _get(port, "/api/health")
                    break
                except OSError:
                    time.sleep(0.5)
            results["server_rss_mb_at_start"] = round(proc_status(server.pid, "VmRSS"), 1)
            results["answers"] = hostile_suite(port, clip)
            results["server_rss_mb_after"] = round(proc_status(server.pid, "VmRSS"), 1)
            results["server_peak_rss_mb"] = round(proc_status(server.pid, "VmHWM"), 1)
        finally:
            server.terminate()
            server.wait(timeout=30)
        requests = [json.loads(line) for line in log_path.read_text().splitlines()]
        refused = [r for r in requests if 400 <= r["status"] < 500]
        results["server_5xx"] = sum(r["status"] >= 500 for r in requests)
        results["largest_body_read_before_a_refusal"] = max(refused, key=lambda r: r["body_read"], default=None)
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
