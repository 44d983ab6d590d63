"""A trained run as one record: weights, configs, history and results (what `fit` returns), and its key.

`to_payload` / `from_payload` give it as plain types and tensors, which is what a checkpoint file holds
(written and read by cnn_core.runs.checkpoint).
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from cnn_core.data.config import DataConfig
from cnn_core.nets.build import build_model
from cnn_core.nets.layers import layer_names
from cnn_core.nets.spec import ModelSpec

FORMAT = "cnn-lab-checkpoint/1"
AGAIN = "download the checkpoint again from the Training page"
ENGINE_VERSION = 2  # part of every key: bump it when training changes, so old results aren't reused


def run_key(data_config, spec, train_config, device: str = "auto") -> str:
    """Hash of the dataset config, the model spec and the training config (which holds the seed). Precision "auto"
    counts as what it resolves to on `device` of this machine: bf16 and fp32 weights never share a key."""
    train = train_config.to_dict()
    if train.get("precision") == "auto":
        train["precision"] = resolved_precision(device)
    parts = [ENGINE_VERSION, data_config.to_dict(), spec.to_dict(), train]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


@functools.lru_cache(maxsize=8)
def resolved_precision(device: str = "auto") -> str:
    """What precision "auto" trains in on this device of this machine ("bf16" or "fp32"), as training resolves it."""
    from cnn_core.training.device import detect_device, resolve_precision

    try:
        return resolve_precision("auto", detect_device(device))
    except ValueError:  # a device this machine doesn't have: the run trains on what it has
        return resolve_precision("auto", detect_device("auto"))


def new_run_id() -> str:
    """A fresh run id: a uuid4 in hex (32 characters)."""
    return uuid.uuid4().hex


@dataclass
class TrainedRun:
    """Everything needed to rebuild, evaluate and explain a trained model."""

    spec: ModelSpec
    data_config: DataConfig
    train_config: dict[str, Any]  # TrainConfig.to_dict(): a dict keeps this module free of the engine
    state_dict: dict[str, Any]  # parameter and buffer tensors, on the CPU
    history: list[dict[str, float]] = field(default_factory=list)  # one dict per epoch
    summary: dict[str, Any] = field(default_factory=dict)  # val_acc, val_loss, epochs_run, device, params, …
    key: str = ""  # the model-cache key (hash of data config, spec, train config and seed): what was asked for
    run_id: str = field(default_factory=new_run_id)  # names these weights: two runs of one key differ here
    # The Evaluation (cnn_core.inspection.evaluate) its worker computed on the held-out split as it ended; None for a
    # run read from a file (cnn_core.runs.held_out). Not part of the checkpoint.
    held_out: Any = field(default=None, compare=False, repr=False)

    def build(self, device: str = "cpu"):
        """The model with its trained weights, in eval mode."""
        model = build_model(self.spec)
        model.load_state_dict(self.state_dict)
        return model.to(device).eval()

    def weights_digest(self) -> str:
        """A hash of the weights (names and values): what a cache shared between sessions keys a run by, since
        the run id in a checkpoint file is only what that file declares. Kept until the weights are replaced."""
        held = self.__dict__.get("_digest")
        if held is None or held[0] is not self.state_dict:
            held = self.__dict__["_digest"] = (self.state_dict, _weights_digest(self.state_dict))
        return held[1]

    def to_payload(self) -> dict[str, Any]:
        """Plain types and tensors only, so that `torch.load(weights_only=True)` reads it back."""
        return {
            "format": FORMAT,
            "key": self.key,
            "run_id": self.run_id,
            "spec": self.spec.to_dict(),
            "data_config": self.data_config.to_dict(),
            "train_config": dict(self.train_config),
            "state_dict": dict(self.state_dict),
            "history": [dict(h) for h in self.history],
            "summary": dict(self.summary),
        }

    @classmethod
    def from_payload(cls, payload: Any) -> TrainedRun:
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ValueError("it is not a CNN Lab checkpoint (it lacks the network and the dataset settings): "
                             "choose the .pt file that the Training page downloads")
        try:
            spec = ModelSpec.from_dict(payload["spec"])
            return cls(
                spec=spec,
                data_config=DataConfig.from_dict(payload["data_config"]),
                train_config=dict(payload["train_config"]),
                state_dict=_named_keys(spec, dict(payload["state_dict"])),
                history=list(payload["history"]),
                summary=dict(payload["summary"]),
                key=str(payload.get("key", "")),
                run_id=str(payload.get("run_id") or _weights_digest(payload["state_dict"])),
            )
        except (KeyError, TypeError):
            raise ValueError(f"the checkpoint has parts missing (an edited or older file?): {AGAIN}") from None


def _named_keys(spec: ModelSpec, state_dict: dict[str, Any]) -> dict[str, Any]:
    """Keys of checkpoints written before layers had names ("0.weight") as build_model names them ("conv1.weight")."""
    names = layer_names(spec.layers)
    renamed = {}
    for key, value in state_dict.items():
        head, _, rest = key.partition(".")
        renamed[f"{names[int(head)]}.{rest}" if head.isdigit() and int(head) < len(names) else key] = value
    return renamed


def _weights_digest(state_dict: dict[str, Any]) -> str:
    """A run id for a checkpoint saved before run ids existed: the same file always gets the same one."""
    digest = hashlib.sha256()
    for name, tensor in sorted(state_dict.items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]
