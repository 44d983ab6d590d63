"""What a network costs, from its spec alone (the summary's formulas, no torch): its parameters, its arithmetic per
image and the memory training it takes; and whether that fits a memory allowance: fine, worth a warning, or refused.

The allowance is the memory one training run may use on this server (cnn_core.runs.resources.check_network gives
it from the server's plan), so the Architecture page, the Training page, the CLI and uploaded checkpoints all judge
a network the same way, before any model is built. A 2 KB spec can describe a network of a billion parameters.

The training estimate: every parameter four times in float32 (the weights, their gradients and Adam's two moments),
the buffers once, and every layer's output twice per image of the batch (kept for the backward pass, then its
gradient). For the presets it came within about ±40 % of the peak memory measured when training them (PyTorch
frees some outputs early and keeps some inputs), which is what a budget needs: the order of magnitude.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnn_core.nets.spec import ModelSpec
from cnn_core.nets.summary import BYTES_PER_VALUE, format_bytes, format_count, summarize

PARAM_COPIES = 4  # weights, gradients and two optimizer moments (Adam), each in float32
ACTIVATION_COPIES = 2  # each layer's output, kept for the backward pass, and its gradient
WARN_SHARE = 0.5  # warn once a network needs more than this share of the allowance
MACS_WARN = 1_000_000_000  # multiply-accumulates per image: above this, training on a CPU takes minutes per epoch
MACS_LIMIT = 20_000_000_000  # above this, hours per epoch on a class server's cores: refused


@dataclass(frozen=True)
class Cost:
    params: int  # trainable parameters
    buffers: int  # non-trainable numbers (batch norm's running statistics)
    macs: int  # multiply-accumulates for one image
    activation_bytes: int  # every layer's float32 output for one image
    batch_size: int  # images per training step, for training_bytes

    @property
    def training_bytes(self) -> int:
        """The estimated memory training takes: parameters and optimizer state, and a batch's activations."""
        weights = BYTES_PER_VALUE * (PARAM_COPIES * self.params + self.buffers)
        return weights + ACTIVATION_COPIES * self.activation_bytes * self.batch_size


@dataclass(frozen=True)
class Verdict:
    level: str  # "ok", "warn" (it fits, but uses much of what a run may have) or "refuse" (it does not fit)
    message: str  # one plain paragraph naming the numbers and what to change; "" when ok
    cost: Cost

    @property
    def refused(self) -> bool:
        return self.level == "refuse"


def network_cost(spec: ModelSpec, batch_size: int = 1) -> Cost:
    """The cost of a valid spec; the spec's SpecError (a ValueError) if it breaks."""
    summary = summarize(spec)
    if summary.error is not None:
        raise summary.error
    return Cost(summary.total_params, summary.total_buffers, summary.total_macs, summary.activation_bytes,
                max(1, int(batch_size)))  # fmt: skip


def judge(cost: Cost, allowance: int) -> Verdict:
    """Fine, a warning past WARN_SHARE of the allowance (or MACS_WARN), a refusal past it (or MACS_LIMIT)."""
    need = cost.training_bytes
    what = (f"{format_count(cost.params)} parameters, {format_count(cost.macs)} multiply-accumulates per image and "
            f"about {format_bytes(need)} of memory to train with batches of {cost.batch_size}")  # fmt: skip
    smaller = "use fewer or narrower layers, downsample the image sooner, or a smaller batch size"
    if need > allowance:
        return Verdict("refuse", f"this network is too large for this server: it has {what}, more than the "
                       f"{format_bytes(allowance)} a training run may use here: {smaller}", cost)  # fmt: skip
    if cost.macs > MACS_LIMIT:
        return Verdict("refuse", f"this network is too slow to train on this server: it has {what}; the limit is "
                       f"{format_count(MACS_LIMIT)} multiply-accumulates per image: {smaller}", cost)  # fmt: skip
    if need > WARN_SHARE * allowance:
        return Verdict("warn", f"this network is large for this server: it has {what}, "
                       f"{need / allowance:.0%} of the {format_bytes(allowance)} a training run may use here. "
                       "Training may be refused with a larger batch or image size", cost)  # fmt: skip
    if cost.macs > MACS_WARN:
        return Verdict("warn", f"this network is slow to train on a CPU: it has {what}; each epoch may take "
                       "minutes", cost)
    return Verdict("ok", "", cost)
