"""Whole-process cost of ``rtfer analyze`` on the base install against the ``fer`` pipeline (issue 12).

    python benchmarks/bench_process.py --rtfer /tmp/base-venv/bin/rtfer --fer-python /tmp/ferpeer/bin/python \
        [--repeats 3] [--out docs/results/process_perf.json]

A user pays for the whole process (start-up, model load, analysis, writing the CSV, JSON and plot),
not only the frames, so both sides run as the commands a user types and are timed from outside:

* one long clip: the four shared clips resized to 640x480 and joined (with two of them again) into one
  ~1,000-frame file, written once so both pipelines decode the same frames;
* a batch of short recordings: 20 three-second cuts of the same frames, each analysed by its own
  process one after another (what a folder of short clips costs without ``rtfer batch``);
* peak resident memory of each process (``wait4``'s ``ru_maxrss``), and ``rtfer --help``.

``--rtfer`` is the ``rtfer`` script of a base install (no PyTorch: ``bash .ci/base-install VENV``); the
``fer`` side is ``../shared/tools/fer_peer/fer_video_peer.py`` in its own venv (its README says how),
which reads and classifies every frame as ``fer``'s ``detect_emotions`` does. Runs alternate between
the two sides and the fastest of ``--repeats`` is kept, so load from elsewhere on the machine hurts
neither side more.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import cv2

SHARED = Path(__file__).resolve().parents[2] / "shared"
CLIPS = ["liveportrait_driving_d0.mp4", "liveportrait_driving_d12.mp4", "liveportrait_driving_d18.mp4",
         "liveportrait_source_s18.mp4", "liveportrait_driving_d12.mp4", "liveportrait_driving_d0.mp4"]
SIZE = (640, 480)
FPS = 25.0


def frames_of(names: list[str]):
    for name in names:
        capture = cv2.VideoCapture(str(SHARED / "media" / "videos" / name))
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            yield cv2.resize(frame, SIZE)
        capture.release()


def write_clips(folder: Path, short_count: int = 20, short_seconds: float = 3.0) -> tuple[Path, list[Path]]:
    """The long clip and the short cuts, all 640x480 at 25 fps (streamed: this process stays small)."""
    long_clip = write(folder / "long.mp4", frames_of(CLIPS))
    total = int(cv2.VideoCapture(str(long_clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    length = int(short_seconds * FPS)
    step = max(1, (total - length) // short_count)
    return long_clip, [write(folder / f"short_{i:02d}.mp4", cut(long_clip, i * step, length))
                       for i in range(short_count)]


def cut(clip: Path, start: int, length: int):
    capture = cv2.VideoCapture(str(clip))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    for _ in range(length):
        ok, frame = capture.read()
        if not ok:
            break
        yield frame
    capture.release()


def write(path: Path, frames) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process, which must succeed. ``posix_spawn`` starts it without
    copying this process's memory first, so ``ru_maxrss`` is the command's own."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        actions = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0), (os.POSIX_SPAWN_DUP2, errors.fileno(), 2)]
        pid = os.posix_spawnp(command[0], command, env or os.environ, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            raise SystemExit(f"failed: {' '.join(command)}\n{errors.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rtfer", required=True, help="the rtfer script of a base install")
    parser.add_argument("--fer-python", required=True, help="python of the fer peer venv")
    parser.add_argument("--fer-data", default=os.environ.get("FER_PEER_DATA", "/tmp/ferpeer/data"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    peer = str(SHARED / "tools" / "fer_peer" / "fer_video_peer.py")
    fer_env = {**os.environ, "FER_PEER_DATA": args.fer_data}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        long_clip, shorts = write_clips(folder)
        frames = int(cv2.VideoCapture(str(long_clip)).get(cv2.CAP_PROP_FRAME_COUNT))

        def rtfer(clip: Path) -> list[str]:
            return [args.rtfer, "analyze", str(clip), "--out", str(folder / "out" / clip.stem), "--quiet"]

        def fer(clip: Path) -> list[str]:
            return [args.fer_python, peer, str(clip)]

        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeats):
            for side, command in (("rtfer", rtfer), ("fer", fer)):
                env = fer_env if side == "fer" else None
                result = timed(command(long_clip), env)
                if side not in best or result[0] < best[side][0]:
                    best[side] = result
                batch_start = time.perf_counter()
                peak = max(timed(command(clip), env)[1] for clip in shorts)
                batch = (time.perf_counter() - batch_start, peak)
                key = f"{side}_batch"
                if key not in best or batch[0] < best[key][0]:
                    best[key] = batch
        help_seconds = min(timed([args.rtfer, "--help"])[0] for _ in range(5))
    result = {
        "long_clip": {"frames": frames, "size": f"{SIZE[0]}x{SIZE[1]}", "clips": CLIPS,
                      "rtfer_seconds": round(best["rtfer"][0], 2), "rtfer_peak_rss_mb": round(best["rtfer"][1]),
                      "fer_seconds": round(best["fer"][0], 2), "fer_peak_rss_mb": round(best["fer"][1]),
                      "speedup": round(best["fer"][0] / best["rtfer"][0], 2)},
        "short_clips": {"count": len(shorts), "seconds_each": 3.0,
                        "rtfer_seconds": round(best["rtfer_batch"][0], 2),
                        "rtfer_peak_rss_mb": round(best["rtfer_batch"][1]),
                        "fer_seconds": round(best["fer_batch"][0], 2), "fer_peak_rss_mb": round(best["fer_batch"][1]),
                        "speedup": round(best["fer_batch"][0] / best["rtfer_batch"][0], 2)},
        "rtfer_help_seconds": round(help_seconds, 3), "repeats": args.repeats, "cpus": os.cpu_count(),
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
