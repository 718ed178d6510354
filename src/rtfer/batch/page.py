"""``study.html``: one line per video with its numbers and a small inline valence plot.

The plot is an SVG drawn here (no scripts, no CDN), so the page opens offline and can be mailed as one file.
"""

from __future__ import annotations

import csv
import html
import math
from pathlib import Path
from typing import Any

SPARK_WIDTH, SPARK_HEIGHT, SPARK_POINTS = 240, 36, 240
_STYLE = """body{font:14px system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse}th,td{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left;
vertical-align:middle}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.failed td{color:#a33}.spark{display:block}small{color:#666}"""


def valence_points(timeline: Path, points: int = SPARK_POINTS) -> list[tuple[float, float | None]]:
    """Smoothed valence over time, averaged into at most ``points`` bins (``None`` where no face was seen)."""
    times, values = [], []
    with timeline.open(newline="") as handle:
        for row in csv.DictReader(handle):
            times.append(float(row["time_s"]))
            values.append(float(row["valence_smooth"]) if row["valence_smooth"] else math.nan)
    if not times:
        return []
    size = max(1, math.ceil(len(times) / points))
    binned = []
    for start in range(0, len(times), size):
        chunk = [v for v in values[start:start + size] if not math.isnan(v)]
        binned.append((times[start], sum(chunk) / len(chunk) if chunk else None))
    return binned


def sparkline(points: list[tuple[float, float | None]], width: int = SPARK_WIDTH, height: int = SPARK_HEIGHT) -> str:
    """An SVG of valence in [-1, 1] over time: a zero line, and one polyline per stretch with a face."""
    if not points:
        return ""
    t0, t1 = points[0][0], points[-1][0]
    span = (t1 - t0) or 1.0

    def xy(t: float, v: float) -> str:
        return f"{(t - t0) / span * (width - 2) + 1:.1f},{(1 - v) / 2 * (height - 2) + 1:.1f}"

    stretches, current = [], []
    for t, v in points:
        if v is None:
            if current:
                stretches.append(current)
            current = []
        else:
            current.append(xy(t, v))
    if current:
        stretches.append(current)
    lines = "".join(f'<polyline points="{" ".join(s)}" fill="none" stroke="#2b6cb0" stroke-width="1.2"/>'
                    if len(s) > 1 else f'<circle cx="{s[0].split(",")[0]}" cy="{s[0].split(",")[1]}" r="1" '
                    'fill="#2b6cb0"/>' for s in stretches)
    middle = height / 2
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="valence over time"><rect width="{width}" height="{height}" fill="#fafafa"/>'
            f'<line x1="0" y1="{middle}" x2="{width}" y2="{middle}" stroke="#bbb" stroke-dasharray="2,2"/>'
            f"{lines}</svg>")


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "<td></td>"
    if isinstance(value, float):
        return f'<td class="num">{value:.3f}</td>'
    if isinstance(value, int):
        return f'<td class="num">{value}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def write_study_page(rows: list[dict[str, Any]], out_root: Path, manifest_columns: list[str], path: Path) -> Path:
    """The page for the study table ``rows``; plots come from each analysed video's ``timeline.csv``."""
    valence_columns = sorted({c for row in rows for c in row if c.startswith("valence") and c.endswith("_mean")})
    headers = ["video", *manifest_columns, "status", "duration (s)", "face share", *valence_columns, "changes",
               "valence over time (-1 to 1)"]
    body = []
    for row in rows:
        ok = row["status"] != "failed"
        video = (f'<a href="{html.escape(row["video_id"])}/timeline.png">{html.escape(row["video_id"])}</a>'
                 if ok else html.escape(row["video_id"]))
        plot = (sparkline(valence_points(out_root / row["video_id"] / "timeline.csv")) if ok
                else f"<small>{html.escape(row.get('reason', ''))}</small>")
        cells = [f"<td>{video}</td>", *(_cell(row.get(c)) for c in manifest_columns), _cell(row["status"]),
                 _cell(row.get("duration_s")), _cell(row.get("face_share")),
                 *(_cell(row.get(c)) for c in valence_columns), _cell(row.get("changes")), f"<td>{plot}</td>"]
        body.append(f'<tr class="{"ok" if ok else "failed"}">{"".join(cells)}</tr>')
    failed = sum(row["status"] == "failed" for row in rows)
    reused = sum(row["status"] == "reused" for row in rows)
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>rtfer study</title>'
            f"<style>{_STYLE}</style></head><body><h1>Study: {len(rows)} videos</h1>"
            f"<p>{len(rows) - failed} with results ({reused} of them from an earlier run), {failed} failed. "
            "Valence: P(positive) − P(negative), smoothed; "
            "the dashed line is 0. Decision support, not a diagnosis.</p>"
            f"<table><thead><tr>{''.join(f'<th>{html.escape(h)}</th>' for h in headers)}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></body></html>")
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
