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


def build_model(spec: ModelSpec, *, inplace_relu: bool = False):
    """A real torch `nn.Sequential` for the spec: module i is layer i, named as in the generated code (conv1, bn1…).

    The names make its state_dict keys (`conv1.weight`, `bn1.running_mean`, `fc1.bias`…) those of the class
    `codegen.generate_code` writes, so a trained checkpoint loads into either. `inplace_relu` (training's own copy):
    a ReLU right after a convolution, batch norm or linear layer overwrites that layer's output instead of writing a
    new tensor; the values are the same, with one activation fewer to allocate, write and read per such ReLU."""
    import torch.nn as nn

    shapes = infer_shapes(spec)
    modules, shape = [], tuple(spec.input)
    for lay, out_shape in zip(spec.layers, shapes):
        kwargs = lay.kwargs
        if lay.kind.inferred:
            kwargs[lay.kind.inferred] = shape[0]
        modules.append(getattr(nn, lay.kind.torch_class)(**kwargs))
        shape = out_shape
    if inplace_relu:  # safe only where the layer before doesn't keep its output for its own backward pass
        for before, module in zip(modules, modules[1:]):
            if type(module) is nn.ReLU and type(before) in (nn.Conv2d, nn.BatchNorm2d, nn.Linear):
                module.inplace = True
    return nn.Sequential(OrderedDict(zip(layer_names(spec.layers), modules)))
