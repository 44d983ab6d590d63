"""A trained run as one record (weights, configs, history, results) and its checkpoint file."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnn_core.data import DataConfig
from cnn_core.layers import layer_names
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
    except OSError as exc:  # the file itself could not be opened: say which way
        raise ValueError(f"cannot read the checkpoint file: {exc.strerror or exc}") from None
    except Exception:  # EOFError, pickle and zip errors, worded differently by each torch version: not shown
        raise ValueError(unreadable(source if isinstance(source, bytes) else Path(source).read_bytes())) from None
    run = TrainedRun.from_payload(payload)
    if not verify:
        return run
    try:
        build_model(run.spec).load_state_dict(run.state_dict)
    except (RuntimeError, ValueError):
        raise ValueError(f"its weights do not fit its own network (an edited file?): {AGAIN}") from None
    return run


AGAIN = "download the checkpoint again from the Training page"
PICKLE_PROTOCOL_2 = b"\x80\x02"  # how a checkpoint in PyTorch's legacy (pre-zip) format begins


def unreadable(data: bytes) -> str:
    """Why `torch.load(weights_only=True)` refused these bytes, in plain words (torch's message says how it
    failed inside, differently in each version), and what to do."""
    if not data:
        return f"the file is empty: {AGAIN}"
    if data.startswith(b"PK\x03\x04"):  # a zip archive, as torch.save writes since PyTorch 1.6
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names, damaged = archive.namelist(), archive.testzip() is not None
        except (zipfile.BadZipFile, EOFError, OSError, ValueError):
            return f"the file is cut short or damaged (an interrupted download?): {AGAIN}"
        if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "it is a zip archive, not a checkpoint: choose the .pt file that the Training page downloads"
        if damaged:
            return f"the file is damaged (its contents fail their checksum): {AGAIN}"
        return ("it holds program code as well as weights (a whole model saved with torch.save(model), or a "
                "file from another program), which the app never runs, for safety: use a checkpoint from the "
                "Training page")  # fmt: skip
    if data.startswith(PICKLE_PROTOCOL_2) and len(data) > 64:
        return f"it is in an old PyTorch file format that the app can't open safely: {AGAIN}"
    return "it is not a PyTorch checkpoint: choose the .pt file that the Training page downloads"
