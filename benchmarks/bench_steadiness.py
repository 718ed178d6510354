"""How steady and how responsive the smoothed timeline is, on the shared clips (issue 14).

    python benchmarks/bench_steadiness.py                       # analyse the clips with this checkout
    python benchmarks/bench_steadiness.py --outputs DIR          # or score existing `rtfer analyze` folders
                                                                 # DIR/<clip stem>/timeline.csv (+ summary.json)

Measured per clip, from ``timeline.csv`` and ``summary.json`` as a user gets them:

* travel per second: the sum of |change| of ``valence_smooth`` between consecutive frames with a face,
  divided by the time covered; over the whole clip and over its *steady* stretches (one expression held,
  chosen by looking at the frames: see ``STEADY``);
* onset delay: on a posed neutral-to-expression onset (``ONSETS``), the time from the first frame whose
  raw probabilities put the expression first to the first frame whose shown label is that expression;
* change points: false changes per minute (changes dated inside steady stretches) and, on the onsets that
  move valence (neutral to grin), the delay from the onset to the moment the change is reported
  (``confirmed_s``; outputs of older versions, found offline, have no such time and show ``-``).
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

import numpy as np

#: steady stretches (s), from the frames: d0 neutral before the grin; d18 neutral (mouth moving) before
#: its surprise; s18 a neutral woman turning her head for the whole clip
STEADY = {"liveportrait_driving_d0": [(0.0, 0.7)], "liveportrait_driving_d18": [(0.0, 2.0)],
          "liveportrait_source_s18": [(0.0, 9.4)]}
#: posed onsets: (search window start, end, expression, does valence move?)
ONSETS = {"liveportrait_driving_d0": (0.5, 1.5, "happy", True),
          "liveportrait_driving_d18": (1.8, 2.6, "surprise", False),
          "liveportrait_driving_d12": (0.3, 1.0, "happy", True)}


def read(folder: Path) -> tuple[list[dict[str, str]], dict]:
    rows = list(csv.DictReader((folder / "timeline.csv").open()))
    return rows, json.loads((folder / "summary.json").read_text())


def travel(times: np.ndarray, values: np.ndarray, start: float = -np.inf, stop: float = np.inf) -> tuple[float, float]:
    """(sum of |change|, seconds covered) over consecutive frames with a value inside [start, stop]."""
    inside = (times >= start) & (times <= stop)
    pairs = inside[1:] & inside[:-1] & ~np.isnan(values[1:]) & ~np.isnan(values[:-1])
    return float(np.abs(np.diff(values))[pairs].sum()), float(np.diff(times)[pairs].sum())


def score_clip(name: str, folder: Path) -> dict:
    rows, summary = read(folder)
    times = np.array([float(r["time_s"]) for r in rows])
    smooth = np.array([float(r["valence_smooth"]) if r["valence_smooth"] else np.nan for r in rows])
    moved, covered = travel(times, smooth)
    result = {"clip": name, "seconds": round(float(times[-1] - times[0]), 2),
              "travel_per_s": round(moved / covered, 3), "changes": len(summary["change_points"])}
    if name in STEADY:
        parts = [travel(times, smooth, a, b) for a, b in STEADY[name]]
        seconds = sum(c for _, c in parts)
        result["steady_s"] = round(seconds, 2)
        result["steady_travel_per_s"] = round(sum(m for m, _ in parts) / seconds, 3)
        result["false_changes"] = sum(any(a <= c["time_s"] <= b for a, b in STEADY[name])
                                      for c in summary["change_points"])
    if name in ONSETS:
        start, stop, target, moves = ONSETS[name]
        labels = [c.removeprefix("p_") for c in rows[0] if c.startswith("p_")]
        onset = next(t for t, r in zip(times, rows, strict=True) if start <= t <= stop and r["face_found"] == "1"
                     and labels[int(np.argmax([float(r[f"p_{n}"]) for n in labels]))] == target)
        shown = next((t for t, r in zip(times, rows, strict=True) if t >= onset and r["label"] == target), None)
        result["onset_s"] = round(float(onset), 2)
        result["onset_label_delay_s"] = None if shown is None else round(float(shown - onset), 2)
        if moves:
            change = next((c for c in summary["change_points"] if c.get("confirmed_s", c["time_s"]) >= onset), None)
            result["change_report_delay_s"] = (None if change is None or "confirmed_s" not in change
                                               else round(change["confirmed_s"] - onset, 2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--outputs", type=Path, help="score existing analyze folders instead of analysing")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    clips = sorted((args.shared / "media" / "videos").glob("*.mp4"))
    with tempfile.TemporaryDirectory() as scratch:
        results = []
        for clip in clips:
            folder = (args.outputs or Path(scratch)) / clip.stem
            if args.outputs is None:
                from rtfer.video.outputs import write_analysis

                write_analysis(clip, folder, progress=False)
            results.append(score_clip(clip.stem, folder))
    steady_s = sum(r.get("steady_s", 0) for r in results)
    false = sum(r.get("false_changes", 0) for r in results)
    print("| clip | s | travel/s (all) | travel/s (steady) | changes | false changes | label delay | "
          "change reported after |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        def cell(key: str, r: dict = r) -> str:
            return "-" if r.get(key) is None else str(r[key])

        print(f"| {r['clip'].removeprefix('liveportrait_')} | {r['seconds']} | {r['travel_per_s']} | "
              f"{cell('steady_travel_per_s')} | {r['changes']} | {cell('false_changes')} | "
              f"{cell('onset_label_delay_s')} | {cell('change_report_delay_s')} |")
    print(f"\nfalse changes per minute over {steady_s:.1f} s of steady stretches: {60 * false / steady_s:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"clips": results, "steady_s": steady_s, "false_changes": false}, indent=1))


if __name__ == "__main__":
    main()
