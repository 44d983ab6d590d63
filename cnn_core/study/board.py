"""The class board: the server's finished runs grouped by lesson (dataset config), a challenge's leaderboard,
the anonymous names students train under, and the teacher's passphrase for clearing a lesson.

Entries are the run registry's listing rows (plain dicts: run_id, key, status, saved, who, params,
train_seconds, layers, input, num_classes, data_config, train_config, …), optionally with `test_acc`
filled in by `test_accuracy`. Nothing here reads Streamlit or the environment's secrets.
"""

from __future__ import annotations

import hmac
import random
import unicodedata
from dataclasses import dataclass
from typing import Any

from cnn_core.data.config import DataConfig

PASSPHRASE_VAR = "CNN_LAB_TEACHER_PASSPHRASE"  # environment variable (or Streamlit secret) that unlocks clearing
NAME_MAX = 24  # characters in a student's name
SCORED = ("completed", "early stopping")  # runs that count in a challenge; stopped or diverged ones don't
ADJECTIVES = ("Amber", "Bold", "Brave", "Bright", "Calm", "Clever", "Cosmic", "Curious", "Eager", "Gentle",
              "Golden", "Happy", "Jolly", "Keen", "Lucky", "Mighty", "Nimble", "Quick", "Quiet", "Rapid",
              "Silver", "Sunny", "Swift", "Witty")  # fmt: skip
ANIMALS = ("Badger", "Beaver", "Bison", "Falcon", "Ferret", "Gecko", "Heron", "Ibex", "Koala", "Lemur", "Lynx",
           "Marmot", "Narwhal", "Ocelot", "Otter", "Owl", "Panda", "Puffin", "Quokka", "Raven", "Seal", "Tapir",
           "Walrus", "Yak")  # fmt: skip


# ---------------------------------------------------------------- names


def random_name(rng: random.Random | None = None) -> str:
    """An anonymous name such as 'Swift Otter 42': friendly, and says nothing about the student."""
    rng = rng or random.Random()
    return f"{rng.choice(ADJECTIVES)} {rng.choice(ANIMALS)} {rng.randint(10, 99)}"


def clean_name(text: str) -> str:
    """A name a student typed, trimmed and with spaces collapsed; ValueError if empty, too long or unprintable."""
    name = " ".join(str(text).split())
    if not name:
        raise ValueError("choose a name (any nickname will do)")
    if len(name) > NAME_MAX:
        raise ValueError(f"a name has at most {NAME_MAX} characters, this one has {len(name)}")
    if any(unicodedata.category(ch)[0] == "C" for ch in name):
        raise ValueError("a name may not hold control characters")
    return name


# ---------------------------------------------------------------- lessons


def lesson_of(entry: dict[str, Any]) -> str:
    """The lesson a run belongs to: the key of its dataset config (defaults filled in, so equal datasets match)."""
    return _data_config(entry).key()


def _data_config(entry: dict[str, Any]) -> DataConfig:
    data = entry["data_config"]
    return data if isinstance(data, DataConfig) else DataConfig.from_dict(data)


def describe_lesson(config: DataConfig) -> str:
    """A dataset in a few words, e.g. 'shapes: 4 classes, 32×32, 250 per class, noise 0.1, rotation 45°'."""
    words = [f"{len(config.classes)} classes", f"{config.size}×{config.size}", f"{config.n_per_class} per class"]
    if config.noise:
        words.append(f"noise {config.noise:g}")
    extras = {"position_jitter": "position jitter {:g}", "scale_jitter": "scale jitter {:g}",
              "rotation": "rotation {:g}°", "clutter": "clutter {}"}  # fmt: skip
    words += [text.format(getattr(config, name)) for name, text in extras.items() if getattr(config, name, 0)]
    if getattr(config, "color_mode", "per_class") == "random":
        words.append("random colours")
    if config.seed != DataConfig.__dataclass_fields__["seed"].default:
        words.append(f"seed {config.seed}")
    return f"{config.dataset}: " + ", ".join(words)


def describe_network(entry: dict[str, Any]) -> str:
    """A network in a few words, e.g. '11 layers, 619k parameters'."""
    return f"{entry.get('layers', '?')} layers, {compact_count(entry.get('params'))} parameters"


def compact_count(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}k" if n >= 1e4 else f"{n:,}"


@dataclass(frozen=True)
class Lesson:
    key: str  # DataConfig.key() of the lesson's dataset
    config: DataConfig
    title: str  # describe_lesson(config)
    entries: tuple[dict[str, Any], ...]  # its runs, newest first


def group_by_lesson(entries: list[dict[str, Any]]) -> list[Lesson]:
    """Runs grouped by dataset config, the lesson with the newest run first; entries keep their order in a group."""
    groups: dict[str, list[dict[str, Any]]] = {}
    configs: dict[str, DataConfig] = {}
    for entry in sorted(entries, key=lambda e: e.get("saved", 0), reverse=True):
        config = _data_config(entry)
        groups.setdefault(config.key(), []).append(entry)
        configs[config.key()] = config
    return [Lesson(key, configs[key], describe_lesson(configs[key]), tuple(group)) for key, group in groups.items()]


# ---------------------------------------------------------------- challenges


@dataclass(frozen=True)
class Challenge:
    """Which runs of a lesson compete, and on what: e.g. the best test accuracy under 100k parameters."""

    max_params: int | None = None  # only networks with at most this many parameters; None = any size
    metric: str = "test_acc"  # the score to rank by, highest first: "test_acc" or "val_acc"

    def __post_init__(self) -> None:
        if self.metric not in ("test_acc", "val_acc"):
            raise ValueError(f"unknown challenge metric {self.metric!r}; expected test_acc or val_acc")
        if self.max_params is not None and self.max_params < 1:
            raise ValueError(f"a parameter budget must be at least 1, got {self.max_params}")

    def describe(self) -> str:
        what = {"test_acc": "test accuracy", "val_acc": "validation accuracy"}[self.metric]
        budget = f" under {compact_count(self.max_params)} parameters" if self.max_params else ""
        return f"best {what}{budget}"

    def admits(self, entry: dict[str, Any]) -> bool:
        params = entry.get("params")
        within = self.max_params is None or (params is not None and params <= self.max_params)
        return within and entry.get("status") in SCORED and isinstance(entry.get(self.metric), (int, float))


def leaderboard(entries: list[dict[str, Any]], challenge: Challenge) -> list[dict[str, Any]]:
    """The runs the challenge admits, best first (ties: fewer parameters, then earlier), each with its `rank`."""
    ranked = sorted((e for e in entries if challenge.admits(e)),
                    key=lambda e: (-e[challenge.metric], e.get("params") or 0, e.get("saved", 0)))  # fmt: skip
    return [{**entry, "rank": i} for i, entry in enumerate(ranked, 1)]


# ---------------------------------------------------------------- scores and the teacher


def test_accuracy(run, dataset) -> tuple[str, float]:
    """(split, accuracy) of a trained run on its dataset's test images (validation when there is no test split)."""
    import numpy as np

    from cnn_core.inspection.evaluate import held_out_split, predict

    split, _ = held_out_split(dataset)
    images, labels = dataset.split(split)
    preds = predict(run.build(), images).argmax(axis=1)
    return split, float(np.mean(preds == labels))


def passphrase_ok(given: str, expected: str | None) -> bool:
    """Whether a typed passphrase matches the teacher's, in constant time; never when none is set."""
    if expected is None or str(expected) == "" or not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8"), str(expected).encode("utf-8"))  # a number in TOML: as text


def runs_to_clear(entries: list[dict[str, Any]], lesson: str, given: str, expected: str | None) -> list[str]:
    """The run ids of one lesson, for the teacher to clear; PermissionError unless the passphrase matches."""
    if expected is None or str(expected) == "":
        raise PermissionError(f"clearing is switched off: the teacher sets a passphrase in ${PASSPHRASE_VAR} "
                              "or in Streamlit secrets")  # fmt: skip
    if not passphrase_ok(given, expected):
        raise PermissionError("that is not the teacher's passphrase")
    return [e["run_id"] for e in entries if lesson_of(e) == lesson]
