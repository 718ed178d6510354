"""Graph templates exported from PyTorch (needs ``rtfer[train]``): the structure of an architecture
configuration as ONNX, its tensors to be bound from a weights file (:mod:`rtfer.runtime.graphs`)."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxscript.optimizer
import torch
from onnx import helper
from torch import nn

from rtfer.errors import RtferError
from rtfer.models import create_model
from rtfer.runtime.graphs import BOUND, UNUSED
from rtfer.runtime.predict import has_intensity
from rtfer.runtime.weights import WeightsMeta


class BothHeads(nn.Module):
    """Exports a model's class and intensity logits as two graph outputs."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.forward_outputs(x)


def make_template(graph: onnx.ModelProto, state: dict[str, np.ndarray]) -> onnx.ModelProto:
    """The exported ``graph`` with the tensors of ``state`` left empty, optimised, and recorded as bound.

    The state's tensors are made graph inputs while ONNX Script's optimiser folds the exporter's shape
    arithmetic, so it cannot fold BatchNorm into the convolutions (which would tie the graph to one set
    of weights); ONNX Runtime fuses them when it loads the bound graph. Then they become initializers
    without data. The exporter names a wrapped module's tensors ``model.<name>``; they get the state's names.
    """
    kept, bound = [], {}
    for init in graph.graph.initializer:
        name = init.name if init.name in state else init.name.removeprefix("model.")
        if name not in state:
            kept.append(init)  # a constant of the graph itself (shapes, axes)
            continue
        if tuple(init.dims) != state[name].shape:
            raise RtferError(f"graph tensor {init.name} has shape {tuple(init.dims)}, weights {state[name].shape}")
        bound[init.name] = (name, init.data_type, list(init.dims))
    for node in graph.graph.node:
        node.input[:] = [bound[i][0] if i in bound else i for i in node.input]
    del graph.graph.initializer[:]
    graph.graph.initializer.extend(kept)
    graph.graph.input.extend(helper.make_tensor_value_info(*spec) for spec in bound.values())
    graph = onnxscript.optimizer.optimize(graph)
    names = {name for name, _, _ in bound.values()}
    inputs = [i for i in graph.graph.input if i.name not in names]
    del graph.graph.input[:]
    graph.graph.input.extend(inputs)
    used = names & _used_names(graph)
    graph.graph.initializer.extend(onnx.TensorProto(name=name, data_type=dtype, dims=dims)
                                   for name, dtype, dims in bound.values() if name in used)
    for node in graph.graph.node:  # the exporter's per-node stack traces: most of the file, no use here
        node.ClearField("metadata_props")
        node.doc_string = ""
    helper.set_model_props(graph, {BOUND: json.dumps(sorted(used)), UNUSED: json.dumps(sorted(set(state) - used))})
    return graph


def _used_names(graph: onnx.ModelProto) -> set[str]:
    return {name for node in graph.graph.node for name in node.input}


def export_template(meta: WeightsMeta, out: Path) -> Path:
    """Write the graph template of ``meta``'s architecture configuration to ``out``.

    The graph is exported unoptimised, so BatchNorm keeps its own tensors (the exporter's optimiser
    would fold them into the convolutions, tying the graph to one set of weights); ONNX Runtime fuses
    them when it loads the bound graph.
    """
    model = create_model(meta.model, **meta.config).eval()
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    outputs = ["logits", "intensity"] if has_intensity(model) else ["logits"]
    graph = BothHeads(model).eval() if has_intensity(model) else model
    example = torch.zeros(2, meta.in_chans, meta.input_size, meta.input_size)
    batch = torch.export.Dim("batch", min=1, max=65536)
    for name in ("onnx_ir", "onnxscript", "torch.onnx"):  # the exporter narrates every pass at INFO
        logging.getLogger(name).setLevel(logging.ERROR)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.onnx")
    try:
        with warnings.catch_warnings():  # the exporter's deprecation chatter is not the user's concern
            warnings.simplefilter("ignore", FutureWarning)
            program = torch.onnx.export(graph, (example,), input_names=["faces"], output_names=outputs,
                                        dynamic_shapes=({0: batch},), dynamo=True, verbose=False, optimize=False)
        program.save(str(tmp), external_data=False)
    except ImportError as exc:
        raise RtferError(f"ONNX export needs the onnx and onnxscript packages ({exc})") from None
    onnx.save(make_template(onnx.load(str(tmp)), state), str(tmp))
    tmp.replace(out)
    return out
