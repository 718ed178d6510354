"""rtfer batch: discovery and names, the per-video job, the study table, resume, Ctrl-C, and real Dask clusters."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SHARED, needs_shared
from rtfer.batch.inputs import discover, safe_part
from rtfer.batch.job import MARKER, fingerprint
from rtfer.batch.page import sparkline
from rtfer.batch.runner import ClusterChoice, run_batch
from rtfer.errors import DataError
from test_video import blank_frames, write_video

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

SRC = Path(__file__).resolve().parents[1] / "src"
VIDEOS = SHARED / "media" / "videos"
SETTINGS = {"weights": "msfernet-fer2013-7", "every": 1, "fps": None, "track_id": None, "detect_every": 8,
            "backend": "auto", "baseline": None}
OUTPUTS = {"timeline.csv", "faces.csv", "summary.json", "timeline.png", MARKER}


def env() -> dict[str, str]:
    """Subprocesses (the CLI, dask scheduler and worker) import this checkout's rtfer."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}


def rtfer(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rtfer", *args], capture_output=True, text=True, timeout=timeout,
                          env=env())


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def cluster() -> str:
    """A warm LocalCluster shared by the tests that do not test starting one (its workers keep their model)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                      scheduler_kwargs={"dashboard": False}) as local:
        yield local.scheduler_address


@pytest.fixture
def study(tmp_path: Path) -> Path:
    """Two short clips (one nested), a corrupt one, an empty one, and a file that is not a video."""
    root = tmp_path / "study"
    (root / "site b").mkdir(parents=True)
    write_video(root / "p01.mp4", blank_frames(6, (96, 128)))
    write_video(root / "site b" / "p02.mp4", blank_frames(9, (96, 128)))
    (root / "corrupt.mp4").write_bytes(os.urandom(4000))
    (root / "empty.avi").write_bytes(b"")
    (root / "notes.txt").write_text("not a video")
    return root


# -- inputs: discovery, manifests, names ------------------------------------------------------------------
def test_discovery_is_recursive_skips_hidden_and_the_output_folder(study):
    (study / ".cache").mkdir()
    write_video(study / ".cache" / "hidden.mp4", blank_frames(2, (32, 32)))
    (study / "results" / "old").mkdir(parents=True)
    write_video(study / "results" / "old" / "annotated.mp4", blank_frames(2, (32, 32)))
    ids = [video.id for video in discover([study], exclude=study / "results")]
    assert sorted(ids) == ["corrupt", "empty", "p01", "site_b/p02"]
    only_mp4 = [video.id for video in discover([study], ("*.MP4",), exclude=study / "results")]
    assert sorted(only_mp4) == ["corrupt", "p01", "site_b/p02"]      # patterns ignore case


def test_colliding_and_odd_names_get_distinct_safe_folders(tmp_path):
    root = tmp_path / "in"
    (root / "x").mkdir(parents=True)
    for name in ("a.mp4", "a.avi", "A.mov", "we ird:name!.mp4", "batch.json.mp4", "x.mp4", "x/y.mp4", "#1.mp4"):
        (root / name).write_bytes(b"v")
    videos = discover([root])
    ids = [video.id for video in videos]
    assert len({i.lower() for i in ids}) == len(ids) == 8             # x is y's folder, batch.json reserved
    assert {"a", "a-2", "a-3", "we_ird_name_", "batch.json-2", "x-2", "x/y", "_1"} == {i.lower() for i in ids}
    out = tmp_path / "out"
    for i in ids:
        assert all(safe_part(part) == part for part in i.split("/"))
        assert (out / i).resolve().is_relative_to(out.resolve())
    assert [safe_part(n) for n in ("..", "../..", "", ".hidden")] == ["_", "_..", "_", "hidden"]


def test_manifest_paths_and_errors(tmp_path, study):
    manifest = study / "manifest.csv"
    manifest.write_text("path,participant,status\np01.mp4,P1,pilot\nsite b/p02.mp4,P2,main\n")
    videos = discover([manifest, study / "p01.mp4"])  # the same file twice is one video, with its columns
    assert [(v.id, v.columns) for v in videos] == [("p01", {"participant": "P1", "status": "pilot"}),
                                                   ("site_b/p02", {"participant": "P2", "status": "main"})]
    (tmp_path / "bad.csv").write_text("file,participant\np01.mp4,P1\n")
    with pytest.raises(DataError, match="'path' column"):
        discover([tmp_path / "bad.csv"])
    with pytest.raises(DataError, match="not found"):
        discover([tmp_path / "nowhere"])


def test_fingerprint_sees_a_change_in_the_last_megabyte(tmp_path):
    path = tmp_path / "long.bin"
    data = bytearray(os.urandom(3 << 20))
    path.write_bytes(data)
    before = fingerprint(path)
    stat = path.stat()
    data[-10] ^= 0xFF
    path.write_bytes(data)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime: only the hash tells
    assert fingerprint(path)["edges_sha256"] != before["edges_sha256"]


def test_sparkline_breaks_where_no_face_was_seen():
    svg = sparkline([(0.0, 0.5), (1.0, 0.4), (2.0, None), (3.0, -0.2), (4.0, -0.3)])
    assert svg.count("<polyline") == 2 and "<script" not in svg
    assert sparkline([]) == ""


def test_progress_never_passes_the_end():
    from rtfer.batch.runner import _Bar

    rng = random.Random(1)                       # shares whose deltas sum to 5.000000000000001 in floats
    bar = _Bar(5, enabled=True)
    for i in range(5):
        for share in sorted(rng.random() for _ in range(7)):
            bar.on_event((0.0, {"id": str(i), "share": share}))
        bar.finished({"id": str(i), "status": "analysed", "summary": {"frames_processed": 10}})
        assert bar.bar.n <= bar.bar.total
    assert bar.frames == 50 and bar.bar.format_dict["n"] == pytest.approx(5)
    bar.close()


# -- a whole batch on the embedded cluster: outputs, failures, table, resume ------------------------------
def test_batch_on_a_local_cluster_then_resume(study, tmp_path, cluster):
    out = tmp_path / "out"
    report = run_batch([study], out, SETTINGS, choice=ClusterChoice(workers=1), progress=False)  # embedded
    status = {entry["id"]: entry for entry in report["videos"]}
    assert {k: v["status"] for k, v in status.items()} == {"corrupt": "failed", "empty": "failed",
                                                            "p01": "analysed", "site_b/p02": "analysed"}
    assert status["corrupt"]["reason"] and "\n" not in status["corrupt"]["reason"]
    assert json.loads((out / "batch.json").read_text())["counts"] == {"failed": 2, "analysed": 2}
    assert {p.name for p in (out / "p01").iterdir()} == OUTPUTS           # what rtfer analyze writes + marker
    assert {p.name for p in (out / "site_b" / "p02").iterdir()} == OUTPUTS
    assert not (out / "corrupt").exists() and not (out / "empty").exists()  # failures leave no folder

    rows = {row["video_id"]: row for row in read_csv(out / "study.csv")}
    assert rows["p01"]["status"] == "analysed" and rows["p01"]["frames_processed"] == "6"
    assert rows["p01"]["face_share"] == "0.0" and rows["p01"]["model"] == "msfernet-fer2013-7"
    assert rows["corrupt"]["status"] == "failed" and rows["corrupt"]["reason"]
    import pyarrow.parquet as pq

    frames = pq.read_table(out / "frames.parquet").to_pylist()
    assert len(frames) == 6 + 9 and {f["video_id"] for f in frames} == {"p01", "site_b/p02"}
    page = (out / "study.html").read_text()
    assert "site_b/p02" in page and "corrupt" in page and "<script" not in page

    # resume: nothing is redone; a changed input, a missing marker (interrupted) and stale scratch are
    (out / "p01" / "timeline.png").write_bytes(b"kept")
    write_video(study / "site b" / "p02.mp4", blank_frames(4, (96, 128)))
    scratch = out / "p01" / ".rtfer-partial-stale"
    scratch.mkdir()
    again = run_batch([study], out, SETTINGS, choice=ClusterChoice(scheduler=cluster), progress=False)
    assert {e["id"]: e["status"] for e in again["videos"]} == {"corrupt": "failed", "empty": "failed",
                                                                "p01": "reused", "site_b/p02": "analysed"}
    assert {e["id"]: e["seconds"] for e in again["videos"]}["corrupt"] is None  # same input: not tried again
    assert (out / "p01" / "timeline.png").read_bytes() == b"kept" and scratch.exists()
    assert read_csv(out / "study.csv")[-1]["frames_processed"] == "4"
    (out / "p01" / MARKER).unlink()
    third = run_batch([study / "p01.mp4"], out, SETTINGS, choice=ClusterChoice(scheduler=cluster), progress=False)
    assert third["videos"][0]["status"] == "analysed" and not scratch.exists()
    assert (out / "p01" / "timeline.png").read_bytes() != b"kept"


def test_changed_settings_redo_the_video(study, tmp_path, cluster):
    out = tmp_path / "out"
    run_batch([study / "p01.mp4"], out, SETTINGS, choice=ClusterChoice(scheduler=cluster), progress=False)
    report = run_batch([study / "p01.mp4"], out, {**SETTINGS, "every": 2}, choice=ClusterChoice(scheduler=cluster),
                       progress=False)
    assert report["videos"][0]["status"] == "analysed"
    assert read_csv(out / "study.csv")[0]["frames_processed"] == "3"


def test_a_video_whose_worker_dies_is_retried_on_another(study, tmp_path, cluster):
    from distributed import Client, WorkerPlugin

    flag = tmp_path / "crashed"

    class CrashOnce(WorkerPlugin):
        """The first worker to analyse crash.mp4 dies in the middle of it (as on an out-of-memory kill)."""

        def setup(self, worker):
            import rtfer.video.outputs as outputs

            original = outputs.write_analysis

            def crashing(video, *args, **kwargs):
                if Path(str(video)).name == "crash.mp4" and not flag.exists():
                    flag.touch()
                    os._exit(1)
                return original(video, *args, **kwargs)

            outputs.write_analysis = crashing

    write_video(study / "crash.mp4", blank_frames(5, (96, 128)))
    with Client(cluster) as client:
        client.register_plugin(CrashOnce(), name="crash-once")
    report = run_batch([study / "crash.mp4", study / "p01.mp4"], tmp_path / "out", SETTINGS,
                       choice=ClusterChoice(scheduler=cluster), progress=False)
    assert flag.exists()                                           # a worker did die on it
    assert [e["status"] for e in report["videos"]] == ["analysed", "analysed"]
    assert {p.name for p in (tmp_path / "out" / "crash").iterdir()} == OUTPUTS


# -- the command: manifest columns, bad input, Ctrl-C, a real two-process cluster --------------------------
def test_cli_manifest_columns_and_exit_codes(study, tmp_path, cluster):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"path,participant,status\n{study / 'p01.mp4'},P1,pilot\n{study / 'corrupt.mp4'},P2,x\n"
                        "gone.mp4,P3,y\n")
    result = rtfer("batch", str(manifest), "--out", str(tmp_path / "out"), "--scheduler", cluster, "--quiet")
    assert result.returncode == 1, result.stderr                   # a failed video: reported, exit 1
    assert "failed:" in result.stdout and "Traceback" not in result.stderr
    rows = read_csv(tmp_path / "out" / "study.csv")
    assert list(rows[0])[:4] == ["video_id", "path", "participant", "manifest_status"]
    assert [(r["participant"], r["manifest_status"], r["status"]) for r in rows] == [
        ("P1", "pilot", "analysed"), ("P2", "x", "failed"), ("P3", "y", "failed")]
    assert rows[2]["reason"] == "video not found"
    missing = rtfer("batch", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o2"))
    assert missing.returncode == 2 and missing.stderr.strip().startswith("rtfer batch: error: input not found")
    assert not (tmp_path / "o2").exists()


def test_ctrl_c_keeps_finished_videos_and_leaves_no_partial_one(tmp_path):
    study = tmp_path / "study"
    study.mkdir()
    write_video(study / "a_short.mp4", blank_frames(3, (96, 128)))
    write_video(study / "b_long.mp4", blank_frames(1500, (240, 320)))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "rtfer", "batch", str(study), "--out", str(out), "--workers", "1", "--quiet"]
    process = subprocess.Popen(command, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "a_short" / MARKER).exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        assert (out / "a_short" / MARKER).exists(), "the short video never finished"
        time.sleep(1.0)                                  # the long one is under way
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert {p.name for p in (out / "a_short").iterdir()} == OUTPUTS
    assert not (out / "b_long").exists()                # no partial output
    report = json.loads((out / "batch.json").read_text())
    assert report["state"] == "interrupted" and report["counts"] == {"analysed": 1, "pending": 1}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def two_process_cluster(tmp_path):
    """``dask scheduler`` and one ``dask worker`` on loopback, as separate processes; always torn down."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    scheduler = subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1",
                                  "--port", address.rsplit(":", 1)[1], "--no-dashboard"], env=env(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--nthreads", "1",
                               "--host", "127.0.0.1", "--no-dashboard"], env=env(), cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for process in (worker, scheduler):
            process.terminate()
        for process in (worker, scheduler):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_batch_on_a_two_process_cluster(study, tmp_path, two_process_cluster):
    out = tmp_path / "out"
    result = rtfer("batch", str(study), "--out", str(out), "--scheduler", two_process_cluster, "--quiet")
    assert result.returncode == 1, result.stderr
    report = json.loads((out / "batch.json").read_text())
    assert report["cluster"] == f"scheduler {two_process_cluster}"
    assert report["counts"] == {"failed": 2, "analysed": 2}
    assert {p.name for p in (out / "site_b" / "p02").iterdir()} == OUTPUTS
    again = rtfer("batch", str(study), "--out", str(out), "--scheduler", two_process_cluster, "--quiet")
    assert json.loads((out / "batch.json").read_text())["counts"] == {"failed": 2, "reused": 2}, again.stderr


@needs_shared("media", "videos")
def test_real_clips_and_a_broken_file(tmp_path, cluster):
    study = tmp_path / "study"
    study.mkdir()
    clips = sorted(VIDEOS.glob("*.mp4"))[:2]
    for clip in clips:
        (study / clip.name).symlink_to(clip)
    (study / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(20000))
    out = tmp_path / "out"
    report = run_batch([study], out, {**SETTINGS, "fps": 10.0, "baseline": "1s"},
                       choice=ClusterChoice(scheduler=cluster), progress=False)
    assert report["counts"] == {"analysed": 2, "failed": 1}
    rows = [row for row in read_csv(out / "study.csv") if row["status"] == "analysed"]
    assert all(float(row["face_share"]) > 0.9 for row in rows)      # the clips show a face throughout
    assert all(-1 <= float(row["valence_mean"]) <= 1 for row in rows)
    assert all(-2 <= float(row["valence_corrected_mean"]) <= 2 for row in rows)   # the baseline passed through
    shares = [sum(float(v) for k, v in row.items() if k.startswith("group_")) for row in rows]
    assert all(0.5 <= s <= 1.0001 for s in shares)                 # groups leave out surprise only
    assert (out / "study.html").read_text().count("<polyline") >= 2


def test_slurm_options_make_a_job_script():
    pytest.importorskip("dask_jobqueue")
    from rtfer.batch.cluster import slurm_options
    from rtfer.errors import RtferError

    options = slurm_options(["queue=short", "memory=8GB", "cores=4", "account=lab-1"])
    assert options["queue"] == "short" and options["cores"] == 4 and options["security"] is True
    with pytest.raises(RtferError, match="KEY=VALUE"):
        slurm_options(["queue"])
    from dask_jobqueue import SLURMCluster

    local = {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}
    with SLURMCluster(**{**options, "security": None, "scheduler_options": local}) as cluster:
        script = cluster.job_script()
    assert "#SBATCH -p short" in script and "#SBATCH -A lab-1" in script and "--nthreads 4" in script
