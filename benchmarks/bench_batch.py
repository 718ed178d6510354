"""Throughput of ``rtfer batch`` on this machine (issue 16, docs/batch.md).

    python benchmarks/bench_batch.py [--repeat 3] [--workers 1 2] [--out docs/results/batch_perf.json]

The clips of ../shared/media/videos are copied ``--repeat`` times into a temp folder (copies, so each is a
distinct video) and analysed by ``run_batch`` on an embedded LocalCluster of 1 and of 2 worker processes.
Reported per worker count:

* throughput: seconds of video analysed per wall second, end to end (cluster start, model load per worker,
  analysis, study table) and in steady state (the sum of the videos' own durations over the time from the
  first to the last task, i.e. without start-up);
* start-up: wall time of the whole command minus the time spent in tasks' span.

The scheduler's own cost per video is measured apart: round trips of ``--tasks`` empty tasks through
the same kind of LocalCluster (submit, schedule, run, return), which every video pays once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from rtfer.batch.runner import ClusterChoice, run_batch
from rtfer.runtime.weights import DEFAULT_MODEL

SHARED_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"


def copy_clips(source: Path, folder: Path, repeat: int) -> list[Path]:
    copies = []
    for round_ in range(repeat):
        for clip in sorted(source.glob("*.mp4")):
            copies.append(Path(shutil.copy(clip, folder / f"r{round_}_{clip.name}")))
    return copies


def measure_batch(folder: Path, workers: int, weights: str) -> dict:
    out = Path(tempfile.mkdtemp(prefix="bench-batch-out-"))
    try:
        started = time.perf_counter()
        report = run_batch([folder], out, {"weights": weights}, choice=ClusterChoice(workers=workers),
                           progress=False)
        wall = time.perf_counter() - started
        summaries = [json.loads((out / entry["id"] / "summary.json").read_text()) for entry in report["videos"]]
        video_s = sum(s["source"]["duration_s"] for s in summaries)
        frames = sum(s["frames_processed"] for s in summaries)
        task_s = [entry["seconds"] for entry in report["videos"]]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    busy = sum(task_s) / workers  # the workers' time in tasks, per worker
    return {"workers": workers, "videos": len(summaries), "video_seconds": round(video_s, 2), "frames": frames,
            "wall_s": round(wall, 2), "throughput_end_to_end": round(video_s / wall, 3),
            "throughput_steady": round(video_s / busy, 3), "frames_per_s_steady": round(frames / busy, 1),
            "startup_and_table_s": round(wall - busy, 2), "mean_task_s": round(sum(task_s) / len(task_s), 3)}


def _empty_task(i: int) -> int:
    return i


def scheduler_overhead(tasks: int) -> dict:
    """Seconds per empty task through a one-worker LocalCluster, submitted one at a time and all at once."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.submit(_empty_task, -1, pure=False).result()
        started = time.perf_counter()
        for i in range(tasks):
            client.submit(_empty_task, i, pure=False).result()
        serial = (time.perf_counter() - started) / tasks
        started = time.perf_counter()
        client.gather([client.submit(_empty_task, i, pure=False) for i in range(tasks)])
        bulk = (time.perf_counter() - started) / tasks
    return {"tasks": tasks, "round_trip_ms": round(serial * 1000, 2), "per_task_in_bulk_ms": round(bulk * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=Path, default=SHARED_VIDEOS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--weights", default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        copies = copy_clips(args.videos, Path(tmp), args.repeat)
        runs = []
        for workers in args.workers:
            runs.append(measure_batch(Path(tmp), workers, args.weights))
            print(json.dumps(runs[-1]))
    overhead = scheduler_overhead(args.tasks)
    print(json.dumps(overhead))
    result = {"cores": os.cpu_count(), "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
              "clips": len(copies), "weights": args.weights, "runs": runs, "scheduler": overhead}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
