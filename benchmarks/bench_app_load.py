"""Load on the app: N concurrent live sessions over loopback for a fixed time (issue 6, docs/performance.md).

    python benchmarks/bench_app_load.py [--sessions 8] [--seconds 60] [--weights NAME] [--out FILE]

Starts `rtfer serve` on a free loopback port with a temporary data dir, opens N live sessions, and has
N WebSocket clients send 640x480 JPEG frames of a real clip, each waiting for the answer before sending
the next (what the page does). Reports errors, frames answered, per-frame round-trip latency (p50/p95)
and the server's resident memory at the start, middle and end. Traffic goes to 127.0.0.1 only, and the
run stops by itself after --seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import websockets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def clip_frames(path: Path, count: int = 100) -> list[bytes]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        frames.append(cv2.imencode(".jpg", cv2.resize(frame, (640, 480)), [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
    return frames


async def client(url: str, frames: list[bytes], seconds: float, latencies: list[float], errors: list[str]) -> int:
    sent = 0
    start = time.perf_counter()
    try:
        async with websockets.connect(url, max_size=2**22) as ws:
            while time.perf_counter() - start < seconds:
                t = time.perf_counter()
                await ws.send(struct.pack("<d", t - start) + frames[sent % len(frames)])
                reply = json.loads(await ws.recv())
                latencies.append((time.perf_counter() - t) * 1000)
                if reply.get("type") != "result":
                    errors.append(str(reply))
                sent += 1
    except (OSError, websockets.WebSocketException) as exc:
        errors.append(repr(exc))
    return sent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--weights", default="msfernet-fer2013-7")
    parser.add_argument("--clip", type=Path, default=Path("../shared/media/videos/liveportrait_driving_d12.mp4"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen([sys.executable, "-m", "rtfer", "serve", "--port", str(port), "--data-dir", data,
                                   "--weights", args.weights], stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"{base}/api/health", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            ids = []
            for i in range(args.sessions):
                body = json.dumps({"name": f"load {i}"}).encode()
                request = urllib.request.Request(f"{base}/api/sessions", data=body,
                                                 headers={"content-type": "application/json"}, method="POST")
                ids.append(json.loads(urllib.request.urlopen(request).read())["id"])
            frames = clip_frames(args.clip)
            memory = {"start_mb": round(rss_mb(server.pid), 1)}
            latencies: list[float] = []
            errors: list[str] = []

            async def run() -> list[int]:
                tasks = [client(f"ws://127.0.0.1:{port}/api/sessions/{sid}/live", frames, args.seconds, latencies,
                                errors) for sid in ids]
                middle = asyncio.get_running_loop().call_later(args.seconds / 2, lambda: memory.update(
                    middle_mb=round(rss_mb(server.pid), 1)))
                counts = await asyncio.gather(*tasks)
                middle.cancel()
                return counts

            counts = asyncio.run(run())
            memory["end_mb"] = round(rss_mb(server.pid), 1)
        finally:
            server.terminate()
            server.wait(timeout=30)
    values = np.array(latencies)
    result = {
        "sessions": args.sessions, "seconds": args.seconds, "errors": len(errors), "error_examples": errors[:3],
        "frames_answered": int(sum(counts)),
        "frames_per_session_per_s": round(sum(counts) / args.sessions / args.seconds, 2),
        "latency_p50_ms": round(float(np.percentile(values, 50)), 1) if len(values) else None,
        "latency_p95_ms": round(float(np.percentile(values, 95)), 1) if len(values) else None,
        "server_memory": memory,
    }
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
