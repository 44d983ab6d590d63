"""How well a trained model does on held-out images: predictions, metrics, mistakes and an embedding.

The metrics are computed in NumPy (the tests compare them with scikit-learn's); scikit-learn's PCA and t-SNE and
torch are imported inside the functions that use them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnn_core.data.dataset import ImageDataset
from cnn_core.nets.build import check_fits
from cnn_core.nets.spec import ModelSpec

EMBEDDINGS = ("pca", "tsne")
SPLIT_NAMES = {"test": "test", "val": "validation"}


@dataclass
class Evaluation:
    """A model's answers on one held-out split of a dataset."""

    split: str  # "test", or "val" when the test split is empty
    notice: str  # why another split than "test" was used; "" otherwise
    indices: np.ndarray  # (N,) int64, indices into the dataset's images
    labels: np.ndarray  # (N,) int64, the true classes
    probs: np.ndarray  # (N, K) float32, softmax of the model's scores
    features: np.ndarray  # (N, F) float32, the input of the last linear layer (the penultimate features)
    classes: tuple[str, ...]

    @property
    def preds(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    @property
    def split_name(self) -> str:
        return SPLIT_NAMES[self.split]

    def name(self, position: int | str) -> str:
        """How the page numbers an image: its position in the evaluated split, e.g. 'test image 17'."""
        return f"{self.split_name} image {position}"

    @property
    def confidence(self) -> np.ndarray:
        """The probability the model gives its own answer."""
        return self.probs.max(axis=1)


@dataclass
class Report:
    """Per-class precision, recall, F1 and support, and the overall accuracy."""

    classes: tuple[str, ...]
    precision: np.ndarray  # (K,) of the images predicted as the class, the share that are it
    recall: np.ndarray  # (K,) of the images of the class, the share found
    f1: np.ndarray  # (K,) harmonic mean of precision and recall
    support: np.ndarray  # (K,) images of the class in the split
    accuracy: float  # share of all images classified correctly

    def rows(self) -> list[dict[str, float | str | int]]:
        """One dict per class, then the macro average: the table the page and the CLI show."""
        out = [{"class": c, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
               for c, p, r, f, s in zip(self.classes, self.precision, self.recall, self.f1, self.support)]  # fmt: skip
        out.append({"class": "macro average", "precision": float(self.precision.mean()),
                    "recall": float(self.recall.mean()), "f1": float(self.f1.mean()),
                    "support": int(self.support.sum())})  # fmt: skip
        return out


@dataclass(frozen=True)
class Mistake:
    index: int  # into the dataset's images
    position: int  # in the evaluated split: the number the page shows ("test image 17")
    true: int  # class index
    predicted: int  # class index
    confidence: float  # the probability of the (wrong) predicted class


def check_compatible(spec: ModelSpec, ds: ImageDataset) -> None:
    """ValueError naming the difference when a model can't read this dataset."""
    check_fits(spec, ds.input_shape, ds.classes, "the checkpoint's model and data settings do not belong together")


def held_out_split(ds: ImageDataset) -> tuple[str, str]:
    """The split to evaluate on ("test", else "val") and a notice when it is not the test split."""
    if len(ds.splits["test"]):
        return "test", ""
    if len(ds.splits["val"]):
        return "val", ("this dataset has no test images (its test share is 0), so these results are on the "
                       "validation images: they were used to steer training, so they flatter the model a little")
    raise ValueError("this dataset has no test or validation images to evaluate on: "
                     "set a test share above 0 on the Dataset page and train again")


def _last_linear(model):
    import torch.nn as nn

    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("the model has no linear layer, so it has no penultimate features")
    return linears[-1]


def predict(model, images: np.ndarray, batch_size: int = 256, with_features: bool = False):
    """Softmax probabilities (N, K) of a model in eval mode; with the penultimate features (N, F) on request."""
    import torch

    device = next(model.parameters()).device
    probs, feats = [], []
    hook = None
    if with_features:
        hook = _last_linear(model).register_forward_hook(lambda m, inp, out: feats.append(inp[0].flatten(1).cpu()))
    try:
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                x = torch.tensor(images[start : start + batch_size], dtype=torch.float32, device=device)  # a copy
                probs.append(torch.softmax(model(x), dim=1).cpu())
    finally:
        if hook is not None:
            hook.remove()
    probs_np = torch.cat(probs).numpy() if probs else np.zeros((0, 0), np.float32)
    if not with_features:
        return probs_np
    return probs_np, (torch.cat(feats).numpy() if feats else np.zeros((0, 0), np.float32))


def evaluate(model, ds: ImageDataset, batch_size: int = 256) -> Evaluation:
    """Run the model over the test split (the validation split when there is no test split)."""
    split, notice = held_out_split(ds)
    images, labels = ds.split(split)
    probs, features = predict(model, images, batch_size, with_features=True)
    return Evaluation(split, notice, ds.splits[split].copy(), labels.copy(), probs, features, tuple(ds.classes))


def confusion(labels: np.ndarray, preds: np.ndarray, num_classes: int, normalize: bool = False) -> np.ndarray:
    """(K, K): row = true class, column = predicted; counts, or each row as shares of that class (a class without
    images: a row of zeros). In NumPy, as scikit-learn's confusion_matrix counts (the tests compare): importing
    scikit-learn's metrics costs a web server about a second of CPU on the first Evaluation visit."""
    labels, preds = np.asarray(labels, dtype=np.int64), np.asarray(preds, dtype=np.int64)
    counts = np.bincount(labels * num_classes + preds, minlength=num_classes**2).reshape(num_classes, num_classes)
    if not normalize:
        return counts
    return _share(counts, counts.sum(axis=1, keepdims=True))


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole, 0 where whole is 0 (scikit-learn's zero_division=0)."""
    return np.divide(part, whole, out=np.zeros(np.broadcast(part, whole).shape), where=whole != 0)


def report(labels: np.ndarray, preds: np.ndarray, classes: tuple[str, ...]) -> Report:
    """Per-class precision, recall, F1 and support, and accuracy; a class never predicted gets precision 0 (as
    scikit-learn's precision_recall_fscore_support with zero_division=0, which the tests compare)."""
    counts = confusion(labels, preds, len(classes))
    hits, support = np.diag(counts), counts.sum(axis=1)
    precision, recall = _share(hits, counts.sum(axis=0)), _share(hits, support)
    f1 = _share(2 * precision * recall, precision + recall)
    accuracy = float(hits.sum() / len(labels)) if len(labels) else 0.0
    return Report(tuple(classes), precision, recall, f1, support, accuracy)


def mistakes(ev: Evaluation, limit: int | None = None) -> list[Mistake]:
    """The misclassified images, the most confident first."""
    preds, conf = ev.preds, ev.confidence
    wrong = np.flatnonzero(preds != ev.labels)
    wrong = wrong[np.argsort(-conf[wrong], kind="stable")][:limit]
    return [Mistake(int(ev.indices[i]), int(i), int(ev.labels[i]), int(preds[i]), float(conf[i])) for i in wrong]


def embed(features: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(N, 2) coordinates of the features: PCA (fast, linear) or t-SNE (slower, keeps neighbours together)."""
    if method not in EMBEDDINGS:
        raise ValueError(f"unknown embedding {method!r}; expected one of {', '.join(EMBEDDINGS)}")
    features = np.asarray(features, dtype=np.float32)
    if len(features) < 3:
        raise ValueError(f"an embedding needs at least 3 images, got {len(features)}")
    if features.shape[1] < 2:  # one feature: nothing to project, put it on the x axis
        features = np.column_stack([features, np.zeros(len(features), np.float32)])
    if method == "pca":
        from sklearn.decomposition import PCA

        coords = PCA(n_components=2, random_state=seed).fit_transform(features)
    else:
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, (len(features) - 1) / 3))  # t-SNE needs perplexity < N
        coords = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)
    return coords.astype(np.float32)
