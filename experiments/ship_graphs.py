"""Write the graph template of every shipped model's architecture configuration into the package, and
remove templates no shipped model uses (run after shipping or re-shipping weights; needs rtfer[train]).

    python experiments/ship_graphs.py
"""

from __future__ import annotations

import logging

from rtfer.runtime.export import export_template
from rtfer.runtime.graphs import graph_key, shipped_graph_dir
from rtfer.runtime.weights import load_meta, shipped_models

log = logging.getLogger("ship_graphs")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder = shipped_graph_dir()
    keys = {graph_key(load_meta(name)): name for name in shipped_models()}
    for key, name in sorted(keys.items()):
        path = export_template(load_meta(name), folder / f"{key}.onnx")
        log.info("%s (for %s): %.0f kB", path.name, name, path.stat().st_size / 1e3)
    for stale in folder.glob("*.onnx"):
        if stale.stem not in keys:
            stale.unlink()
            log.info("removed %s (no shipped model uses it)", stale.name)


if __name__ == "__main__":
    main()
