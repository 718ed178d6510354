"""The issue-15 training plan runs end to end on a CPU (tiny generated data, one epoch per run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import write_tree

ROOT = Path(__file__).resolve().parents[1]


def test_the_ensemble_and_distillation_plan_runs_on_a_cpu(tmp_path):
    classes = {"angry": 40, "happy": 40, "sad": 40, "neutral": 40}
    fer = tmp_path / "shared" / "datasets" / "fer2013"
    write_tree(fer / "train", classes, seed=1)
    write_tree(fer / "val", dict.fromkeys(classes, 10), seed=2)
    runs = tmp_path / "runs"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(["bash", "experiments/ensemble_distil.sh", str(tmp_path / "shared"), str(runs), "1"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("msfernet-s0", "vggnet-s1", "msfernet-supcon-s2", "msfernet-crop44-s3", "student"):
        assert (runs / name / "best.safetensors").is_file(), name
    assert json.loads((runs / "teacher.json").read_text())["teachers"][1].endswith("vggnet-s1/best.safetensors")
    ensemble = json.loads((runs / "eval" / "ensemble.json").read_text())
    assert ensemble["n"] == 40 and "deduplicated" in ensemble and ensemble["weights"].count("+") == 3
    assert json.loads((runs / "eval" / "student-crops.json").read_text())["tta"] == "crops"
    assert "| student |" in result.stdout  # the summary table
