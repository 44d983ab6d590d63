"""A spec made real: checked against a dataset's images and classes, and built as torch modules."""

from __future__ import annotations

from collections import OrderedDict

from cnn_core.nets.layers import layer_names
from cnn_core.nets.shapes import infer_shapes, shape_text
from cnn_core.nets.spec import ModelSpec


def check_fits(spec: ModelSpec, input_shape: tuple[int, ...], classes: tuple[str, ...], fix: str) -> None:
    """ValueError naming the difference when a model can't read images of `input_shape` into `classes`."""
    if tuple(spec.input) != tuple(input_shape):
        raise ValueError(f"the model expects {shape_text(spec.input)} (C×H×W) images but its dataset has "
                         f"{shape_text(input_shape)}: {fix}")  # fmt: skip
    if spec.num_classes != len(classes):
        raise ValueError(f"the model scores {spec.num_classes} classes but its dataset has {len(classes)} "
                         f"({', '.join(classes)}): {fix}")


def build_model(spec: ModelSpec, *, for_training: bool = False):
    """A real torch `nn.Sequential` for the spec: module i is layer i, named as in the generated code (conv1, bn1…).

    The names make its state_dict keys (`conv1.weight`, `bn1.running_mean`, `fc1.bias`…) those of the class
    `codegen.generate_code` writes, so a trained checkpoint loads into either. `for_training` (the engine's own copy)
    changes how, never what, it computes:
    - a ReLU right after a convolution, batch norm or linear layer overwrites that layer's output instead of writing
      a new tensor: one activation fewer to allocate, write and read per such ReLU;
    - a Flatten hands the layer before it a channels-last gradient when its input is channels-last: the gradient
      comes back through the flattening in torch's default layout, in which the pooling before it computes its
      backward pass about four times slower (`simple_cnn`'s training step: 4 % of its time)."""
    import torch.nn as nn

    shapes = infer_shapes(spec)
    modules, shape = [], tuple(spec.input)
    for lay, out_shape in zip(spec.layers, shapes):
        kwargs = lay.kwargs
        if lay.kind.inferred:
            kwargs[lay.kind.inferred] = shape[0]
        modules.append(getattr(nn, lay.kind.torch_class)(**kwargs))
        shape = out_shape
    if for_training:
        for before, module in zip([None, *modules], modules):
            # safe only where the layer before doesn't keep its output for its own backward pass
            if type(module) is nn.ReLU and type(before) in (nn.Conv2d, nn.BatchNorm2d, nn.Linear):
                module.inplace = True
            if type(module) is nn.Flatten:
                module.register_forward_pre_hook(_gradient_back_in_the_inputs_layout)
    return nn.Sequential(OrderedDict(zip(layer_names(spec.layers), modules)))


def _gradient_back_in_the_inputs_layout(flatten, inputs) -> None:
    """Before a Flatten: its channels-last input gets its gradient channels-last too."""
    import torch

    (x,) = inputs
    if x.requires_grad and x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        x.register_hook(lambda grad: grad.contiguous(memory_format=torch.channels_last))
