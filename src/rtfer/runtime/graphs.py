"""ONNX graphs bound to safetensors weights at load time, so inference needs no PyTorch.

Each architecture configuration ships once as a *graph template*: the ONNX graph exported from PyTorch
with the tensors of the weights file left empty (a few tens of kB). Loading a model fills them from
its ``.safetensors`` file, which stays the one source of truth; a tensor that is missing, extra or of
another shape is an error, never a wrong answer. Templates of configurations that do not ship (your own
trained widths, say) are exported once with PyTorch (``rtfer[train]``) into the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from rtfer.errors import WeightsError
from rtfer.runtime.weights import WeightsMeta, load_tensors, shipped_dir

log = logging.getLogger(__name__)

#: Graph metadata keys: the names of the tensors bound from the weights file, and those the graph does
#: not use (BatchNorm's counters), both JSON lists.
BOUND, UNUSED = "rtfer_bound_tensors", "rtfer_unused_tensors"


def graph_key(meta: WeightsMeta) -> str:
    """What decides a graph's structure: the architecture, its constructor config and its input."""
    spec = json.dumps({"model": meta.model, "config": meta.config, "in_chans": meta.in_chans,
                       "input_size": meta.input_size}, sort_keys=True)
    return f"{meta.model}-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"


def shipped_graph_dir() -> Path:
    return shipped_dir() / "graphs"


def cached_template_path(meta: WeightsMeta) -> Path:
    from rtfer.data.readers import default_cache_dir

    return default_cache_dir() / "graphs" / f"{graph_key(meta)}.onnx"


def template_path(meta: WeightsMeta) -> Path:
    """The template for ``meta``: shipped, else cached, else exported now (needs PyTorch)."""
    shipped = shipped_graph_dir() / f"{graph_key(meta)}.onnx"
    if shipped.is_file():
        return shipped
    cached = cached_template_path(meta)
    if not cached.is_file():
        try:
            from rtfer.runtime.export import export_template
        except ImportError:
            raise WeightsError(f"no graph ships for this {meta.model} configuration ({graph_key(meta)}); "
                               'export one once with PyTorch: pip install "rtfer[train]"') from None
        log.info("exporting the %s graph once: %s", meta.model, cached)
        export_template(meta, cached)
    return cached


def bind(template: Path, weights_path: Path):
    """The template filled with the tensors of ``weights_path``: an ``onnx.ModelProto`` ready to run."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(template))
    props = {p.key: p.value for p in graph.metadata_props}
    if BOUND not in props:
        raise WeightsError(f"{template.name} is not an rtfer graph template")
    bound, unused = set(json.loads(props[BOUND])), set(json.loads(props[UNUSED]))
    tensors = load_tensors(weights_path)
    missing, extra = sorted(bound - set(tensors)), sorted(set(tensors) - bound - unused)
    if missing or extra:
        raise WeightsError(f"{weights_path}: tensors do not fit the {template.stem} graph (missing: "
                           f"{', '.join(missing[:5]) or 'none'}; unexpected: {', '.join(extra[:5]) or 'none'})")
    for init in graph.graph.initializer:
        if init.name not in bound:
            continue
        value = tensors[init.name]
        if tuple(init.dims) != value.shape:
            raise WeightsError(f"{weights_path}: tensor {init.name} has shape {value.shape}, "
                               f"the graph expects {tuple(init.dims)}")
        init.CopyFrom(numpy_helper.from_array(value.astype(np.float32), init.name))
    return graph


def write_graph(weights_path: Path, meta: WeightsMeta, out: Path) -> Path:
    """A single-file ONNX graph of the weights (dynamic batch size), e.g. for other ONNX runtimes."""
    import onnx

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.onnx")
    onnx.save(bind(template_path(meta), weights_path), str(tmp))
    tmp.replace(out)
    return out
