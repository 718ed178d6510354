"""``rtfer batch``: every video of a study analysed on Dask, then the study table and page.

Videos whose folder is already done (same input, same settings) are reused without a task; the others are
submitted one task each, with retries, and collected as they finish. A failed video is recorded in
``batch.json`` and the table and never stops the others. On Ctrl-C the tasks are cancelled, the embedded
cluster is shut down, unfinished folders are cleared, and ``batch.json`` says what was left.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from rtfer import __version__
from rtfer.batch.cluster import connect
from rtfer.batch.inputs import VIDEO_PATTERNS, Video, discover
from rtfer.batch.job import PROGRESS_TOPIC, analyse_video, clear_outputs, fingerprint, is_done, remove_empty
from rtfer.batch.page import write_study_page
from rtfer.batch.table import manifest_column, study_row, write_frames_parquet, write_study_csv
from rtfer.errors import RtferError

log = logging.getLogger(__name__)

REPORT_EVERY_S = 5.0


@dataclass
class ClusterChoice:
    """Where to run: ``workers`` local processes (default: one per core), a ``scheduler`` address, or SLURM."""

    workers: int | None = None
    scheduler: str | None = None
    slurm_jobs: int | None = None
    slurm_opts: list[str] = field(default_factory=list)
    dashboard: bool = False
    threads: int | None = None   # ONNX/OpenCV threads per video; None: the worker's cores per task slot


def _reused(video: Video, out: Path) -> dict[str, Any]:
    summary = json.loads((out / video.id / "summary.json").read_text())
    return {"id": video.id, "path": str(video.path), "status": "reused", "reason": "", "summary": summary}


class _Report:
    """``batch.json``: settings, counts and one entry per video; rewritten while the batch runs."""

    def __init__(self, out: Path, videos: list[Video], settings: dict[str, Any], where: str):
        self.path = out / "batch.json"
        self.videos = videos
        self.records: dict[str, dict[str, Any]] = {}
        self.head = {"rtfer": __version__, "out": str(out), "cluster": where, "settings": settings,
                     "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self.started = time.perf_counter()
        self.written = 0.0

    def add(self, record: dict[str, Any]) -> None:
        if record["status"] == "failed" and "input" not in record:  # a re-run knows the same input fails again
            record["input"] = _input_or_none(Path(record["path"]))
        self.records[record["id"]] = record
        if time.perf_counter() - self.written > REPORT_EVERY_S:
            self.write("running")

    def entries(self) -> list[dict[str, Any]]:
        pending = {"status": "pending", "reason": ""}
        entries = []
        for video in self.videos:
            record = self.records.get(video.id, pending)
            entry = {"id": video.id, "path": str(video.path), "status": record["status"],
                     "reason": record.get("reason", ""), "seconds": record.get("seconds")}
            if record["status"] == "failed":
                entry["input"] = record.get("input")
            entries.append(entry)
        return entries

    def write(self, state: str) -> dict[str, Any]:
        entries = self.entries()
        counts: dict[str, int] = {}
        for entry in entries:
            counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        report = {**self.head, "state": state, "wall_seconds": round(time.perf_counter() - self.started, 3),
                  "counts": counts, "videos": entries}
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(report, indent=1))
        tmp.replace(self.path)
        self.written = time.perf_counter()
        return report


class _Bar:
    """One bar over videos, advanced by the share of each video done as workers report it."""

    def __init__(self, total: int, enabled: bool):
        self.bar = tqdm(total=total, unit="video", desc="batch", disable=not enabled,
                        bar_format="{l_bar}{bar}| {n:.1f}/{total} videos [{elapsed}<{remaining}{postfix}]")
        self.shares: dict[str, float] = {}
        self.frames = 0
        self.failed = 0

    def on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        message = event[1]
        self._advance(message["id"], float(message["share"]))

    def _advance(self, video_id: str, share: float) -> None:
        done = self.shares.get(video_id, 0.0)
        if share > done:
            self.shares[video_id] = share
            self.bar.update(min(share - done, self.bar.total - self.bar.n))  # float sums must not pass the end

    def finished(self, record: dict[str, Any]) -> None:
        self._advance(record["id"], 1.0)
        self.frames += (record.get("summary") or {}).get("frames_processed", 0)
        self.failed += record["status"] == "failed"
        self.bar.set_postfix(frames=self.frames, failed=self.failed)

    def close(self) -> None:
        self.bar.close()


def _failure(video: Video, exc: BaseException) -> dict[str, Any]:
    """The record of a task that did not return (its worker died on every try, or Dask gave up)."""
    if type(exc).__name__ == "KilledWorker":
        reason = "the worker analysing it died on every try (out of memory or a crash in a native library?)"
    else:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
    return {"id": video.id, "path": str(video.path), "status": "failed", "reason": reason[:500]}


def _run_tasks(videos: list[Video], out: Path, settings: dict[str, Any], choice: ClusterChoice,
               report: _Report, progress: bool, retries: int) -> None:
    from distributed import as_completed

    local = True
    try:
        with connect(choice.workers, choice.scheduler, choice.slurm_jobs, choice.slurm_opts,
                     choice.dashboard) as connection:
            local = connection.local
            report.head["cluster"] = connection.description
            log.info("analysing %d video(s) on %s", len(videos), connection.description)
            threads = choice.threads or connection.threads
            bar = _Bar(len(videos), progress)
            connection.client.subscribe_topic(PROGRESS_TOPIC, bar.on_event)
            futures = {connection.client.submit(analyse_video, str(video.path.resolve()), video.id,
                                                str(out.resolve()), settings, threads, retries=retries, pure=False,
                                                key=f"rtfer-batch-{video.id}-{time.time_ns()}"): video
                       for video in videos}
            try:
                for future in as_completed(futures):
                    video = futures[future]
                    try:
                        record = {**future.result(), "path": str(video.path)}  # the path as the user named it
                    except Exception as exc:
                        record = _failure(video, exc)
                    bar.finished(record)
                    report.add(record)
            except KeyboardInterrupt:
                connection.client.cancel(list(futures))
                raise
            finally:
                bar.close()
    except KeyboardInterrupt:
        if local:  # the embedded workers stopped with the cluster: clear what the killed tasks left
            _clear_unfinished(videos, report, out)
        raise


def _clear_unfinished(videos: list[Video], report: _Report, out: Path) -> None:
    for video in videos:
        if video.id not in report.records:
            clear_outputs(out / video.id)
            remove_empty(out / video.id, out)


def _input_or_none(path: Path) -> dict[str, Any] | None:
    try:
        return fingerprint(path)
    except OSError:
        return None


def _known_failures(out: Path, settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Videos that failed in the previous run with these settings, by id (with the input they failed on)."""
    try:
        previous = json.loads((out / "batch.json").read_text())
    except (OSError, ValueError):
        return {}
    if previous.get("settings") != settings:
        return {}
    return {entry["id"]: entry for entry in previous.get("videos", [])
            if entry.get("status") == "failed" and entry.get("input")}


def run_batch(inputs: list[str | Path], out: str | Path, settings: dict[str, Any],
              patterns: tuple[str, ...] = VIDEO_PATTERNS, choice: ClusterChoice | None = None,
              progress: bool = True, retries: int = 2, retry_failed: bool = False) -> dict[str, Any]:
    """Analyse every video named by ``inputs`` into ``out`` and write the study table; returns ``batch.json``.

    ``settings`` are ``rtfer analyze``'s options (weights, every, fps, backend, detect_every, track_id, ...),
    given to every video's analysis unchanged and recorded in its done-marker. A video that failed before on
    the same input and settings is not tried again unless ``retry_failed``; a missing one fails at once.
    """
    out = Path(out)
    videos = discover(inputs, patterns, exclude=out)
    out.mkdir(parents=True, exist_ok=True)
    root = out.resolve()
    for video in videos:
        if not (out / video.id).resolve().is_relative_to(root):  # ids are sanitised; this guards the guarantee
            raise RtferError(f"{video.path}: its output folder {out / video.id} would lie outside {out}")
    report = _Report(out, videos, settings, "none (all reused)")
    failures = {} if retry_failed else _known_failures(out, settings)
    todo = []
    for video in videos:
        known = failures.get(video.id)
        if not video.path.is_file():
            report.add({"id": video.id, "path": str(video.path), "status": "failed",
                        "reason": "video not found" if not video.path.exists() else "not a file"})
        elif is_done(video.path, out / video.id, settings):
            report.add(_reused(video, out))
        elif known and known["path"] == str(video.path) and known["input"] == _input_or_none(video.path):
            report.add({**known, "seconds": None})
        else:
            todo.append(video)
    log.info("%d video(s): %d done or failed before (--retry-failed tries those again), %d to analyse",
             len(videos), len(videos) - len(todo), len(todo))
    try:
        if todo:
            _run_tasks(todo, out, settings, choice or ClusterChoice(), report, progress, retries)
    except KeyboardInterrupt:
        report.write("interrupted")
        raise
    rows = [study_row(report.records[video.id], video.columns) for video in videos]
    manifest_columns = list(dict.fromkeys(manifest_column(c) for video in videos for c in video.columns))
    write_study_csv(rows, manifest_columns, out / "study.csv")
    analysed = [row["video_id"] for row in rows if row["status"] != "failed"]
    write_frames_parquet(out, analysed, out / "frames.parquet")
    write_study_page(rows, out, manifest_columns, out / "study.html")
    return report.write("finished")
