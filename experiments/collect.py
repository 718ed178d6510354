"""Print a Markdown table of training-run summaries: python experiments/collect.py runs/*/summary.json"""

import csv
import json
import sys
from pathlib import Path

print("| run | best epoch | val accuracy | val macro-F1 | flip-TTA accuracy | train time (min) |")
print("|---|---|---|---|---|---|")
for name in sys.argv[1:]:
    path = Path(name)
    summary = json.loads(path.read_text())
    with (path.parent / "history.csv").open() as handle:
        minutes = sum(float(row["seconds"]) for row in csv.DictReader(handle)) / 60
    val = summary.get("val", {})
    print(f"| {path.parent.name} | {summary['best_epoch']} | {val.get('accuracy', float('nan')):.4f} | "
          f"{val.get('macro_f1', float('nan')):.4f} | {summary.get('val_tta_accuracy', float('nan')):.4f} | "
          f"{minutes:.1f} |")
