"""Resumable training state without pickle: tensors in safetensors, everything else in JSON.

``checkpoint.safetensors`` holds the model, projection head, EMA model, optimizer buffers and the
RNG state under prefixed keys; ``checkpoint.json`` holds the epoch, config, history and the
optimizer's hyper-parameters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from rtfer.errors import RtferError

TENSORS = "checkpoint.safetensors"
STATE = "checkpoint.json"


def flatten_optimizer(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state dict into tensors (``opt.<param>.<key>``) and JSON."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param_id, buffers in state_dict["state"].items():
        for key, value in buffers.items():
            if isinstance(value, torch.Tensor):
                tensors[f"opt.{param_id}.{key}"] = value
            else:
                scalars.setdefault(str(param_id), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def unflatten_optimizer(tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("opt."):
            _, param_id, key = name.split(".", 2)
            state.setdefault(int(param_id), {})[key] = value
    for param_id, values in extra["scalars"].items():
        state.setdefault(int(param_id), {}).update(values)
    return {"state": state, "param_groups": extra["param_groups"]}


def save_checkpoint(run_dir: Path, modules: dict[str, torch.nn.Module], optimizer: torch.optim.Optimizer,
                    state: dict[str, Any]) -> None:
    """Atomically write the checkpoint pair (tensors first, then the JSON that points at them)."""
    tensors: dict[str, torch.Tensor] = {}
    for prefix, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"{prefix}.{key}"] = value.detach().cpu()
    opt_tensors, opt_extra = flatten_optimizer(optimizer.state_dict())
    tensors.update({k: v.detach().cpu() for k, v in opt_tensors.items()})
    tensors["rng.torch"] = torch.get_rng_state()
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    tmp = run_dir / (TENSORS + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(run_dir / TENSORS)
    tmp_state = run_dir / (STATE + ".tmp")
    tmp_state.write_text(json.dumps({**state, "optimizer": opt_extra}, indent=1))
    tmp_state.replace(run_dir / STATE)


def load_checkpoint_state(run_dir: Path) -> dict[str, Any]:
    """The JSON half of a run's checkpoint; raises :class:`RtferError` if there is none."""
    run_dir = Path(run_dir)
    if not (run_dir / TENSORS).is_file() or not (run_dir / STATE).is_file():
        raise RtferError(f"no checkpoint to resume in {run_dir} (expected {TENSORS} and {STATE})")
    try:
        return json.loads((run_dir / STATE).read_text())
    except json.JSONDecodeError as exc:
        raise RtferError(f"{run_dir / STATE} is damaged: {exc}") from None


def load_checkpoint(run_dir: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and JSON state of a run folder."""
    state = load_checkpoint_state(run_dir)
    return load_file(str(Path(run_dir) / TENSORS)), state


def module_state(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    start = prefix + "."
    return {k[len(start):]: v for k, v in tensors.items() if k.startswith(start)}
