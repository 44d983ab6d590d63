"""A trained run as one record (weights, configs, history, results) and its checkpoint file."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnn_core.data import DataConfig
from cnn_core.spec import ModelSpec, build_model

FORMAT = "cnn-lab-checkpoint/1"
TMP_SUFFIX = ".tmp"  # a checkpoint being written; renamed into place when complete


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

    def build(self, device: str = "cpu"):
        """The model with its trained weights, in eval mode."""
        model = build_model(self.spec)
        model.load_state_dict(self.state_dict)
        return model.to(device).eval()

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
            raise ValueError(f"not a CNN Lab checkpoint (expected format {FORMAT})")
        try:
            return cls(
                spec=ModelSpec.from_dict(payload["spec"]),
                data_config=DataConfig.from_dict(payload["data_config"]),
                train_config=dict(payload["train_config"]),
                state_dict=dict(payload["state_dict"]),
                history=list(payload["history"]),
                summary=dict(payload["summary"]),
                key=str(payload.get("key", "")),
                run_id=str(payload.get("run_id") or _weights_digest(payload["state_dict"])),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"checkpoint is incomplete or damaged ({exc})") from None


def _weights_digest(state_dict: dict[str, Any]) -> str:
    """A run id for a checkpoint saved before run ids existed: the same file always gets the same one."""
    digest = hashlib.sha256()
    for name, tensor in sorted(state_dict.items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def checkpoint_bytes(run: TrainedRun) -> bytes:
    """The run as the bytes of a .pt checkpoint file."""
    import torch

    buf = io.BytesIO()
    torch.save(run.to_payload(), buf)
    return buf.getvalue()


def save_checkpoint(run: TrainedRun, path: str | Path) -> None:
    """Write atomically through a temporary file of its own: a reader never sees half a file, two writers never
    share a temporary file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(checkpoint_bytes(run))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(source: str | Path | bytes, verify: bool = True) -> TrainedRun:
    """Read a checkpoint (a path or its bytes) with `weights_only=True`; ValueError if unreadable.

    `verify` loads the weights into a model built from the spec; a run that a worker just sent needs no such check.
    """
    import torch

    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
        with stream:
            payload = torch.load(stream, map_location="cpu", weights_only=True)
    except MemoryError:  # the machine's trouble, not the file's
        raise
    except Exception as exc:  # OSError, EOFError, pickle and zip errors: they vary by torch version
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ValueError(f"cannot read the checkpoint (damaged, or not a CNN Lab .pt file): {first}") from None
    run = TrainedRun.from_payload(payload)
    if not verify:
        return run
    try:
        build_model(run.spec).load_state_dict(run.state_dict)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"checkpoint weights do not fit its own model spec: {str(exc).splitlines()[0]}") from None
    return run
