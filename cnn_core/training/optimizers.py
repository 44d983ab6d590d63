"""torch.optim's SGD, Adam and AdamW, run eagerly: the same code and the same numbers, without TorchDynamo.

PyTorch wraps `Optimizer.add_param_group` and `zero_grad` in `torch._disable_dynamo` and every optimizer's `step` in
a graph-break helper; both import `torch._dynamo` on their first call, 1.2-1.5 s of CPU (SymPy and the compiler
stack) that a run which never compiles pays at the start of every CLI call and worker process. These subclasses
call the functions those decorators wrap (`inspect.unwrap` follows `functools.wraps`'s `__wrapped__`), the step
under `torch.no_grad()` as the wrapper runs it for an optimizer that isn't differentiable (none of ours is).
Nothing else changes: the state, the fused kernels, `param_groups`, `state_dict` and the learning-rate schedulers
are torch.optim's own (tests/training/test_optimizers.py compares the weights bit for bit). Should a PyTorch
release stop recording `__wrapped__`, `unwrap` returns the decorated function and the only cost is the import.
"""

from __future__ import annotations

import inspect

import torch

_ADD_PARAM_GROUP = inspect.unwrap(torch.optim.Optimizer.add_param_group)
_ZERO_GRAD = inspect.unwrap(torch.optim.Optimizer.zero_grad)  # once, not at every step


class _Eager:
    """Mixed in before a torch.optim class: its step, zero_grad and add_param_group without the compiler hooks."""

    def add_param_group(self, param_group: dict) -> None:
        _ADD_PARAM_GROUP(self, param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        _ZERO_GRAD(self, set_to_none)

    _torch_step = None  # the undecorated step of the torch.optim class, set by each subclass

    def step(self, closure=None):
        with torch.no_grad():
            return self._torch_step(closure)


class SGD(_Eager, torch.optim.SGD):
    _torch_step = inspect.unwrap(torch.optim.SGD.step)


class Adam(_Eager, torch.optim.Adam):
    _torch_step = inspect.unwrap(torch.optim.Adam.step)


class AdamW(_Eager, torch.optim.AdamW):
    _torch_step = inspect.unwrap(torch.optim.AdamW.step)
