"""The study table: ``study.csv`` (one row per video) and ``frames.parquet`` (every analysed frame, long format).

Both are built from what each video's folder holds (``summary.json``, ``timeline.csv``), so videos finished
by an earlier run enter the table exactly like new ones. Every ``valence*`` block of a summary becomes a
``<name>_mean`` column, so corrected valence appears as soon as summaries carry it.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from rtfer.taxonomy import group_of

BASE_COLUMNS = ("video_id", "path")
RESULT_COLUMNS = ("status", "reason", "duration_s", "fps", "frames", "frames_processed", "face_share")
TAIL_COLUMNS = ("changes", "model", "processing_seconds", "out")


MEASURED_PREFIXES = ("valence", "share_", "group_")


def manifest_column(name: str) -> str:
    """A manifest column's name in the table: as given, unless it would clash with a measured column."""
    clashes = name in (*BASE_COLUMNS, *RESULT_COLUMNS, *TAIL_COLUMNS) or name.startswith(MEASURED_PREFIXES)
    return f"manifest_{name}" if clashes else name


def study_row(record: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    """One video's line: identity, manifest columns, status, and the numbers of its summary (if any)."""
    row: dict[str, Any] = {"video_id": record["id"], "path": record["path"],
                           **{manifest_column(k): v for k, v in columns.items()},
                           "status": record["status"], "reason": record.get("reason", "")}
    summary = record.get("summary")
    if not summary:
        return row
    source = summary["source"]
    processed = summary["frames_processed"]
    row.update(duration_s=source["duration_s"], fps=source["fps"], frames=source["frames"],
               frames_processed=processed,
               face_share=round(summary["frames_with_face"] / processed, 4) if processed else None)
    for key, block in summary.items():
        if key.startswith("valence") and isinstance(block, dict) and "mean" in block:
            row[f"{key}_mean"] = block["mean"]
    groups: dict[str, float] = {}
    for emotion, share in summary["share_of_time"].items():
        row[f"share_{emotion}"] = share
        group = group_of(emotion)
        if group is not None:
            groups[group] = groups.get(group, 0.0) + share
    row.update({f"group_{group}": round(share, 4) for group, share in sorted(groups.items())})
    row.update(changes=len(summary["change_points"]), model=summary["model"],
               processing_seconds=summary["processing_seconds"], out=record["id"])
    return row


def write_study_csv(rows: list[dict[str, Any]], manifest_columns: list[str], path: Path) -> Path:
    """``study.csv``: identity, manifest columns, status, then the measured columns that any row has."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    measured = [c for c in seen if c.startswith(MEASURED_PREFIXES)]
    columns = [*BASE_COLUMNS, *manifest_columns, *RESULT_COLUMNS, *measured, *TAIL_COLUMNS]
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else row[c] for c in columns})
    tmp.replace(path)
    return path


def _frame_schema(header: list[str]):
    import pyarrow as pa

    integers = {"frame", "face_found", "track_id", "x", "y", "w", "h"}
    fields = [pa.field("video_id", pa.string())]
    for name in header:
        kind = pa.int64() if name in integers else pa.string() if name == "label" else pa.float64()
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def write_frames_parquet(out_root: Path, video_ids: list[str], path: Path) -> int:
    """Every video's ``timeline.csv`` into one Parquet file with a ``video_id`` column, one video at a time
    (memory stays that of the largest video). Returns the number of frames written."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    writer = None
    total = 0
    tmp = path.with_suffix(".parquet.tmp")
    try:
        for video_id in video_ids:
            timeline = out_root / video_id / "timeline.csv"
            with timeline.open() as handle:
                header = handle.readline().strip().split(",")
            schema = _frame_schema(header)
            table = pacsv.read_csv(timeline, convert_options=pacsv.ConvertOptions(
                column_types={f.name: f.type for f in schema if f.name != "video_id"}, strings_can_be_null=True))
            table = table.add_column(0, "video_id", pa.array([video_id] * table.num_rows, pa.string()))
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table.cast(writer.schema))
            total += table.num_rows
        if writer is None:  # no video succeeded: an empty table with the id column, still readable
            pq.write_table(pa.table({"video_id": pa.array([], pa.string())}), tmp)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)
    return total
