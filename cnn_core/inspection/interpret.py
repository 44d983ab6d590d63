"""Looking inside a trained CNN: its filters, its feature maps, Grad-CAM, saliency, and a user's own image.

torch is imported inside the functions that need it (Pillow comes with open_image, which checks an upload first).
"""

from __future__ import annotations

import numpy as np

from cnn_core.conv.images import centred_box, open_image
from cnn_core.nets.layers import ACTIVATIONS
from cnn_core.nets.spec import ModelSpec

DECODE_SIDE = 256  # an uploaded JPEG decodes at a reduced scale (1/2 to 1/8) down to this side, then is resized


def resolve_layer(model, layer):
    """The module a layer names: its index in the spec (model[i]), a name from named_modules(), or the module."""
    import torch.nn as nn

    if isinstance(layer, nn.Module):
        return layer
    modules = dict(model.named_modules())
    if isinstance(layer, int) and not isinstance(layer, bool) and isinstance(model, nn.Sequential):
        if 0 <= layer < len(model):
            return model[layer]
    elif str(layer) in modules and str(layer) != "":
        return modules[str(layer)]
    indices = f"an index from 0 to {len(model) - 1} or " if isinstance(model, nn.Sequential) else ""
    raise ValueError(f"the model has no layer {layer!r}; expected {indices}one of {', '.join(n for n in modules if n)}")


def conv_filters(model, layer) -> np.ndarray:
    """(out_channels, in_channels, kH, kW) weights of one conv layer."""
    import torch.nn as nn

    module = resolve_layer(model, layer)
    if not isinstance(module, nn.Conv2d):
        raise ValueError(f"layer {layer!r} is a {type(module).__name__}, not a conv layer: it has no filters")
    return module.weight.detach().cpu().numpy().copy()


def filter_patches(weights: np.ndarray) -> np.ndarray:
    """(out, kH, kW, 3) RGB patches in [0, 1] of 3-channel filters: grey is 0, each filter scaled to its largest weight."""
    if weights.ndim != 4 or weights.shape[1] != 3:
        raise ValueError(f"RGB patches need filters with 3 input channels, got shape {weights.shape}")
    bound = np.abs(weights).max(axis=(1, 2, 3), keepdims=True)
    bound[bound == 0] = 1.0
    return (0.5 + 0.5 * weights / bound).transpose(0, 2, 3, 1).astype(np.float32)


def conv_blocks(spec: ModelSpec) -> list[int]:
    """For each conv layer, the index where its block ends: after the batch norm and activation that follow it."""
    ends = []
    for i, lay in enumerate(spec.layers):
        if lay.type != "conv2d":
            continue
        end = i
        while end + 1 < len(spec.layers) and spec.layers[end + 1].type in ("batchnorm2d", *ACTIVATIONS):
            end += 1
            if spec.layers[end].type in ACTIVATIONS:
                break
        ends.append(end)
    return ends


def _as_batch(model, x):
    """A (C, H, W) or (1, C, H, W) image (NumPy or torch) as a float32 batch of one on the model's device."""
    import torch

    device = next(model.parameters()).device
    batch = x.detach().float() if torch.is_tensor(x) else torch.tensor(np.asarray(x), dtype=torch.float32)
    batch = batch.to(device)
    if batch.dim() == 3:
        batch = batch[None]
    if batch.dim() != 4 or batch.shape[0] != 1:
        raise ValueError(f"expected one image of shape (C, H, W), got {tuple(batch.shape)}")
    return batch.clone()


def feature_maps(model, x, layers) -> list[np.ndarray]:
    """The (C, H, W) output of each given layer for one image, in the order given."""
    import torch

    modules = [resolve_layer(model, layer) for layer in layers]
    outputs: dict[int, np.ndarray] = {}

    def keeper(k: int):
        def hook(module, inputs, output) -> None:  # returns None: a hook's return value would replace the output
            outputs[k] = output[0].cpu().numpy().copy()

        return hook

    handles = [m.register_forward_hook(keeper(k)) for k, m in enumerate(modules)]
    try:
        with torch.inference_mode():
            model(_as_batch(model, x))
    finally:
        for h in handles:
            h.remove()
    return [outputs[k] for k in range(len(modules))]


def _check_class(scores, target_class: int) -> None:
    k = scores.shape[1]
    if not 0 <= int(target_class) < k:
        raise ValueError(f"class {target_class} does not exist: the model scores classes 0 to {k - 1}")


def _unit_range(values):
    """Scale non-negative values so the largest is 1 (all zeros stay zeros)."""
    peak = values.max()
    return (values / peak if peak > 0 else values).clamp(0, 1)


def grad_cam(model, x, target_class: int, layer) -> np.ndarray:
    """Grad-CAM (Selvaraju et al., 2017): where `layer`'s channels, weighted by how much they raise the class's
    score, are active; an (H, W) map at the input's resolution in [0, 1]."""
    import torch
    import torch.nn.functional as F

    module = resolve_layer(model, layer)
    batch = _as_batch(model, x).requires_grad_(True)  # so that a graph exists even with frozen weights
    captured = []
    handle = module.register_forward_hook(lambda m, i, o: captured.append(o))
    try:
        with torch.enable_grad():
            scores = model(batch)  # (1, K)
            _check_class(scores, target_class)
            if not captured or captured[0].dim() != 4:
                shape = tuple(captured[0].shape[1:]) if captured else "nothing"
                raise ValueError(f"Grad-CAM needs a layer with an image-shaped (C, H, W) output; layer {layer!r} "
                                 f"gives {shape}: choose a conv layer")  # fmt: skip
            acts = captured[0]  # (1, C, h, w)
            (grads,) = torch.autograd.grad(scores[0, int(target_class)], acts)
    finally:
        handle.remove()
    weights = grads.mean(dim=(2, 3), keepdim=True)  # (1, C, 1, 1): each channel's average pull on the score
    cam = F.relu((weights * acts).sum(dim=1, keepdim=True))  # (1, 1, h, w)
    cam = F.interpolate(cam, size=batch.shape[-2:], mode="bilinear", align_corners=False)  # (1, 1, H, W)
    return _unit_range(cam[0, 0].detach()).cpu().numpy()


def saliency(model, x, target_class: int) -> np.ndarray:
    """Vanilla saliency (Simonyan et al., 2014): |d score / d pixel|, largest over channels; (H, W) in [0, 1]."""
    import torch

    batch = _as_batch(model, x).requires_grad_(True)
    with torch.enable_grad():
        scores = model(batch)
        _check_class(scores, target_class)
        (grad,) = torch.autograd.grad(scores[0, int(target_class)], batch)
    return _unit_range(grad[0].abs().amax(dim=0)).cpu().numpy()


def prepare_image(data: bytes, input_shape: tuple[int, int, int], invert: bool = False) -> tuple[np.ndarray, list[str]]:
    """An uploaded image file as the model's (C, H, W) float32 input in [0, 1], and notices of what was changed."""
    from PIL import Image, ImageOps

    c, h, w = input_shape
    if c not in (1, 3):
        raise ValueError(f"the model reads {c}-channel images; only grey (1) or colour (3) models can take a photo")
    draft = (max(w, DECODE_SIDE), max(h, DECODE_SIDE))  # a large JPEG decodes at a reduced scale, no smaller
    with open_image(data, draft) as (img, size):  # its size checked before anything is decoded
        try:
            img.load()
        except (OSError, SyntaxError, ValueError) as exc:
            raise ValueError(f"the image file is damaged or incomplete ({str(exc)[:120]}): upload it again") from None
        notices = []
        if getattr(img, "n_frames", 1) > 1:
            notices.append(f"it has {img.n_frames} frames: using the first")
        before = img.size
        img = ImageOps.exif_transpose(img)
        if img.size != before:  # turned a quarter: the declared size turns too
            size = size[::-1]
        if "A" in img.getbands() or "transparency" in img.info:
            img = Image.alpha_composite(Image.new("RGBA", img.size, (0, 0, 0, 255)), img.convert("RGBA"))
            notices.append("transparent parts became black, like the dataset's background")
        if img.mode == "P":  # a palette of colours, one band of indices
            img = img.convert("RGB")
        bands = len(img.getbands())
        if c == 3 and bands < 3:
            notices.append("converted from grey to colour (red, green and blue equal), as the model reads 3 channels")
        elif c == 1 and bands >= 3:
            notices.append("converted from colour to grey, as the model reads 1 channel")
        img = img.convert("RGB" if c == 3 else "L")
        left, top, right, bottom = centred_box(size, (w, h))
        if (right - left, bottom - top) != size:
            notices.append(f"cropped to its centre ({right - left}×{bottom - top} of its {size[0]}×{size[1]} pixels, as the "
                           f"dataset's images are) and resized to {w}×{h} pixels, the model's input size")  # fmt: skip
        elif size != (w, h):
            notices.append(f"resized from {size[0]}×{size[1]} to {w}×{h} pixels, the model's input size")
        if img.size != (w, h):  # cropped as the dataset's images are, never squeezed; nothing outside the crop leaks in
            img = img.crop(centred_box(img.size, (w, h))).resize((w, h), Image.Resampling.BILINEAR)
        arr = np.asarray(img, dtype=np.float32) / 255.0
    arr = arr[None] if c == 1 else arr.transpose(2, 0, 1)  # (C, H, W)
    if invert:
        arr = 1.0 - arr
        notices.append("colours inverted (dark becomes light)")
    return np.ascontiguousarray(arr), notices
