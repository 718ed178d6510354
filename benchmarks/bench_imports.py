"""What each entry point imports, and what that costs (issue 12): a markdown table for docs/performance.md.

    /tmp/base-venv/bin/python benchmarks/bench_imports.py [--repeats 5]

Runs each entry point in a fresh interpreter under ``python -X importtime`` (the fastest of
``--repeats``), and reports the cumulative import time of the entry module, its heaviest third-party
imports, and whether PyTorch, scikit-learn, kornia or matplotlib were imported at all. Run it with the
base install's python to see what a user of the app or ``analyze`` pays.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

ENTRY_POINTS = {
    "rtfer --help": "from rtfer.cli import build_parser; build_parser().format_help()",
    "import rtfer": "import rtfer",
    "rtfer analyze (to its first frame)": "import rtfer.video.outputs, rtfer.video.analyze, rtfer.runtime.engine",
    "rtfer serve (the app)": "import rtfer.app.server",
    "rtfer evaluate": "import rtfer.evaluation.evaluate",
}
WATCHED = ("torch", "sklearn", "kornia", "matplotlib")
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_times(code: str) -> tuple[int, dict[str, int]]:
    """Microseconds that ``code``'s imports take, and the cumulative time of each package it pulls in."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                            check=True)
    total, packages = 0, {}
    for match in LINE.finditer(result.stderr):
        _, cumulative, indent, name = match.groups()
        if len(indent) == 1:  # a module imported by the code itself, not by another module
            total += int(cumulative)
        if "." not in name and name not in sys.stdlib_module_names and not name.startswith("_"):
            packages[name] = packages.get(name, 0) + int(cumulative)
    return total, packages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| entry point | import time | heaviest imports | " + " | ".join(WATCHED) + " |")
    print("|---|---|---|" + "---|" * len(WATCHED))
    for label, code in ENTRY_POINTS.items():
        runs = [import_times(code) for _ in range(args.repeats)]
        total, packages = min(runs, key=lambda run: run[0])
        heavy = sorted(((v, k) for k, v in packages.items() if k != "rtfer"), reverse=True)[:4]
        modules = set().union(*[set(run[1]) for run in runs])
        watched = " | ".join("yes" if name in modules else "no" for name in WATCHED)
        print(f"| `{label}` | {total / 1000:.0f} ms | " + ", ".join(f"{k} {v / 1000:.0f} ms" for v, k in heavy)
              + f" | {watched} |")


if __name__ == "__main__":
    main()
