"""Session reports (HTML and PDF): timeline plot, share of time per emotion, change points, notes, model.

Both are self-contained (the plot is embedded), so a report can be filed or sent without the app.
"""

from __future__ import annotations

import base64
import html
import io
import textwrap
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.backends.backend_pdf import PdfPages

from rtfer.report.palette import EMOTION_COLORS
from rtfer.taxonomy import GROUP_OF, NEGATIVE, NEUTRAL, POSITIVE

DISCLAIMER = ("rtfer estimates facial expressions from video. Its output is decision support for a trained "
              "professional, not a diagnosis: expressions are not feelings, models trained on posed or web "
              "images err on spontaneous expressions, lighting, head pose and faces under-represented in the "
              "training data, and a session's context matters more than any score.")
VALENCE_NOTE = ("How to read the numbers. Valence is P(happy) minus P(angry, disgust, fear, sad) of the model's "
                "output, from -1 (negative) to +1 (positive); surprise and neutral count 0, so an unsure or "
                "surprised face reads near 0. The line is smoothed over about a second; the shaded band is the "
                "spread of the per-frame readings around it. The bars (and the coloured bands) show the smoothed "
                "probability of each emotion. A numbered change marker is a shift of the shown emotion or of "
                "valence that lasted, listed below as a sentence. This is decision support, not a diagnosis.")


def clock(seconds: float) -> str:
    """A session time as m:ss (h:mm:ss past an hour), as the page shows it."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _when(session_started: float | None) -> str:
    """The line under the title: when the session happened (the report's own date only beside it)."""
    made = time.strftime("%Y-%m-%d %H:%M")
    if session_started is None:
        return f"rtfer session report, made {made}"
    started = time.strftime("%Y-%m-%d %H:%M", time.localtime(session_started))
    return f"Session of {started}; report made {made} by rtfer"


def _rows(summary: dict[str, Any], notes: list[dict[str, Any]], client: str = "") -> dict[str, list[list[str]]]:
    shares = sorted(summary["share_of_time"].items(), key=lambda item: -item[1])
    valence = summary.get("valence_smooth") or {}
    baseline, corrected_mean = summary.get("baseline"), (summary.get("valence_corrected_smooth") or {}).get("mean")
    corrected = ([["baseline", f"{baseline['source']} ({baseline['frames']} frames, resting valence "
                               f"{baseline['resting_valence']:+.2f})"],
                  ["mean valence corrected for the baseline", f"{corrected_mean:+.2f}"]]
                 if baseline and corrected_mean is not None else [["baseline", "none: valence as read"]])
    return {
        "overview": [
            *([["client", client]] if client else []),
            ["source", str(summary["source"].get("path", ""))],
            ["model", str(summary.get("model", ""))],
            ["frames analysed", f"{summary['frames_processed']} ({summary['frames_with_face']} with a face)"],
            ["duration", f"{summary['source'].get('duration_s') or 0:.1f} s"],
            ["mean valence (smoothed)", "-" if valence.get("mean") is None else f"{valence['mean']:+.2f}"],
            *corrected,
            ["range", "-" if valence.get("min") is None else f"{valence['min']:+.2f} to {valence['max']:+.2f}"],
        ],
        "shares": [[name, f"{100 * share:.1f}%"] for name, share in shares if share > 0],
        "groups": [[group, f"{100 * sum(v for k, v in shares if (GROUP_OF.get(k) or NEUTRAL) == group):.1f}%"]
                   for group in (POSITIVE, NEUTRAL, NEGATIVE)],
        "changes": [[f"{number}. {clock(c['time_s'])}", c.get("text") or f"{c['from']} → {c['to']}, valence "
                     f"{c['valence_before']:+.2f} → {c['valence_after']:+.2f}"]
                    for number, c in enumerate(summary["change_points"], 1)],
        "notes": [[clock(n["time_s"]), n["text"]] for n in notes],
    }


def _table(rows: list[list[str]], header: list[str] | None = None) -> str:
    head = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>" if rows else "<p>none</p>"


def report_html(title: str, summary: dict[str, Any], notes: list[dict[str, Any]], plot_png: Path | None,
                session_started: float | None = None, client: str = "") -> str:
    rows = _rows(summary, notes, client)
    image = ""
    if plot_png is not None and plot_png.is_file():
        encoded = base64.b64encode(plot_png.read_bytes()).decode()
        image = f'<img alt="valence over time" src="data:image/png;base64,{encoded}">'
    shares = "".join(
        f'<div class="share"><span>{html.escape(name)}</span><span class="bar" style="width:{value};'
        f'background:{EMOTION_COLORS.get(name, "#999")}"></span><span>{value}</span></div>'
        for name, value in rows["shares"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}: rtfer session report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #1d1d1f; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; }}
td, th {{ border: 1px solid #ccc; padding: 0.3rem 0.6rem; }}
img {{ max-width: 100%; }} .share {{ display: grid; grid-template-columns: 6rem 1fr 4rem; gap: .5rem; }}
.bar {{ height: 1rem; display: inline-block; }} .disclaimer {{ border-left: 4px solid #E69F00; padding: .5rem 1rem; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(_when(session_started))}.</p>
<p class="disclaimer">{html.escape(DISCLAIMER)}</p>
<h2>Overview</h2>{_table(rows["overview"])}
<h2>Valence over time</h2><p>{html.escape(VALENCE_NOTE)}</p>{image}
<h2>Share of time per emotion</h2>{shares or "<p>no face was seen</p>"}
<h2>Share of time per group</h2><p>Surprise counts as neutral, as in valence.</p>{_table(rows["groups"])}
<h2>Emotional changes</h2>{_table(rows["changes"], ["time", "change"])}
<h2>Notes</h2>{_table(rows["notes"], ["time", "note"])}
</body></html>
"""


def report_pdf(title: str, summary: dict[str, Any], notes: list[dict[str, Any]], plot_png: Path | None,
               session_started: float | None = None, client: str = "") -> bytes:
    rows = _rows(summary, notes, client)
    buffer = io.BytesIO()
    with PdfPages(buffer) as pdf:
        fig = plt.figure(figsize=(8.27, 11.69))  # A4
        fig.text(0.07, 0.96, title, fontsize=16, weight="bold", va="top")
        fig.text(0.07, 0.93, _when(session_started), fontsize=9, va="top")
        fig.text(0.07, 0.91, "\n".join(textwrap.wrap(DISCLAIMER, 120)), fontsize=8, va="top", color="#7a4b00")
        fig.text(0.07, 0.86, "\n".join(textwrap.wrap(VALENCE_NOTE, 120)), fontsize=8, va="top")
        y = 0.76
        for label, value in rows["overview"]:
            fig.text(0.07, y, f"{label}: {value}", fontsize=9)
            y -= 0.018
        if plot_png is not None and plot_png.is_file():  # the page's full width: readable on A4
            axis = fig.add_axes((0.02, y - 0.38, 0.96, 0.37))
            axis.imshow(plt.imread(plot_png))
            axis.axis("off")
            y -= 0.40
        for heading, table in (("Share of time", rows["shares"]), ("Share of time per group (surprise: neutral)",
                                                                    rows["groups"]),
                               ("Emotional changes", rows["changes"]),
                               ("Notes", rows["notes"])):
            fig.text(0.07, y, heading, fontsize=11, weight="bold")
            y -= 0.02
            for row in table or [["none"]]:
                lines = textwrap.wrap("   ".join(row), 110) or [""]  # wrapped in full, never cut off
                for line in lines:
                    if y < 0.04:
                        pdf.savefig(fig)
                        plt.close(fig)
                        fig, y = plt.figure(figsize=(8.27, 11.69)), 0.95
                    fig.text(0.09, y, line, fontsize=9)
                    y -= 0.015
                y -= 0.004
            y -= 0.01
        pdf.savefig(fig)
        plt.close(fig)
    return buffer.getvalue()
