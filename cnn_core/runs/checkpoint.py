"""Checkpoint files: a run as the bytes of a .pt file, written atomically, read with `weights_only=True`."""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path

from cnn_core.nets.build import build_model
from cnn_core.runs.resources import check_network
from cnn_core.training.run import AGAIN, TrainedRun

TMP_SUFFIX = ".tmp"  # a checkpoint being written; renamed into place when complete


def checkpoint_bytes(run: TrainedRun, extra: dict | None = None) -> bytes:
    """The run as the bytes of a .pt checkpoint file; `extra`: entries beside the checkpoint's own (what a worker
    sends back with it: cnn_core.runs.held_out), read back by `load_checkpoint(extra=True)`."""
    import torch

    buf = io.BytesIO()
    torch.save({**(extra or {}), **run.to_payload()}, buf)
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


def load_checkpoint(source: str | Path | bytes, verify: bool = True, extra: bool = False):
    """Read a checkpoint (a path or its bytes) with `weights_only=True`; ValueError if unreadable.

    `verify` loads the weights into a model built from the spec; a run that a worker just sent needs no such check.
    `extra` (only with verify=False): return (run, the payload's entries that are not the checkpoint's own).
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
        return (run, {k: v for k, v in payload.items() if k not in run.to_payload()}) if extra else run
    check_size(run)
    try:
        build_model(run.spec).load_state_dict(run.state_dict)
    except (RuntimeError, ValueError):
        raise ValueError(f"its weights do not fit its own network (an edited file?): {AGAIN}") from None
    return run


def check_size(run: TrainedRun) -> None:
    """ValueError, before its model is built, when a checkpoint's network is too large for this server or its weights
    are not that network's: a 2 KB file may describe a network of a gigabyte (the spec is checked from its formulas,
    the weights by counting them)."""
    import torch

    verdict = check_network(run.spec)
    if verdict.refused:
        raise ValueError(f"the network it describes is not built: {verdict.message}")
    if not all(isinstance(t, torch.Tensor) for t in run.state_dict.values()):
        raise ValueError(f"its weights are not all tensors (an edited file?): {AGAIN}")
    found = sum(t.numel() for t in run.state_dict.values() if t.is_floating_point())
    if found != verdict.cost.params + verdict.cost.buffers:
        raise ValueError(f"its weights do not fit its own network (an edited file?): it holds {found:,} numbers, the "
                         f"network {verdict.cost.params + verdict.cost.buffers:,}: {AGAIN}")


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
