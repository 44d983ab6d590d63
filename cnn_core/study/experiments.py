"""An experiment's result: the finished runs of a batch turned into per-variant statistics, comparisons against
the baseline, the verdict and the exercise's question answered (the exercises are in exercises.py, the
statistics in statistics.py, the batch of runs in trials.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cnn_core.nets.spec import ModelSpec
from cnn_core.study.exercises import ExperimentConfig, exercise
from cnn_core.study.statistics import Comparison, VariantStats, compare, loss_text, mean, points, verdict_sentence


@dataclass(frozen=True)
class ExperimentResult:
    exercise: str
    seeds: int
    variants: tuple[VariantStats, ...]  # the baseline first
    comparisons: tuple[Comparison, ...] = field(default=())  # every other variant against the baseline

    @property
    def stats(self) -> dict[str, VariantStats]:
        return {v.name: v for v in self.variants}

    @property
    def main(self) -> Comparison:
        """The comparison the exercise's question is about."""
        treatment = exercise(self.exercise).treatment
        return next(c for c in self.comparisons if c.other == treatment)

    @property
    def verdict(self) -> str:
        return " ".join(verdict_sentence(c, self.stats) for c in self.comparisons)

    @property
    def loss_verdict(self) -> str:
        """The same rule on the test loss (lower is better): a loss can separate variants that accuracy does not."""
        out = []
        for c in self.comparisons:
            a, b = self.stats[c.baseline], self.stats[c.other]
            lc = compare(c.baseline, a.test_loss, c.other, b.test_loss)
            numbers = (f"{c.other} {loss_text(b.loss_mean, b.loss_std)} against {loss_text(a.loss_mean, a.loss_std)} for "
                       f"{c.baseline}")  # fmt: skip
            if lc.spread is None:
                out.append(f"Test loss: {numbers}.")
            elif lc.outcome == "unclear":
                out.append(f"Test loss: {numbers}; the gap of {abs(lc.difference):.3f} is within the spread "
                           f"({lc.spread:.3f}).")  # fmt: skip
            else:
                word = "higher (worse)" if lc.outcome == "better" else "lower (better)"
                out.append(f"Test loss: {numbers}; {word} by {abs(lc.difference):.3f}, more than the spread "
                           f"({lc.spread:.3f}).")  # fmt: skip
        return " ".join(out)

    @property
    def answer(self) -> str:
        """The exercise's question, answered in one line."""
        ex, c = exercise(self.exercise), self.main
        text = ex.answers[c.outcome].format(diff=points(c.difference), spread=points(c.spread))
        if c.spread is None:
            text = "Cannot tell with one seed: run at least two."
        return f"{ex.question} {text}"

    def to_dict(self) -> dict[str, Any]:
        """The CLI's --json: exercise, seeds, variants (name, test_acc, mean, std, params, seconds), verdict."""
        variants = [{"name": v.name, "test_acc": list(v.test_acc), "mean": v.mean, "std": v.std,
                     "params": v.params, "seconds": v.seconds} for v in self.variants]  # fmt: skip
        return {"exercise": self.exercise, "seeds": self.seeds, "variants": variants, "verdict": self.verdict}


def summarize_experiment(name: str, seeds: int, scores: dict[str, list[dict[str, Any]]]) -> ExperimentResult:
    """Per-variant statistics from each variant's per-seed scores (dicts with test_acc, test_loss, params,
    macs, seconds), in the exercise's variant order; every variant against the first (the baseline)."""
    rows = []
    for vname, runs in scores.items():
        if not runs:
            raise ValueError(f"variant {vname!r} has no finished runs")
        rows.append(VariantStats(vname, tuple(r["test_acc"] for r in runs), tuple(r["test_loss"] for r in runs),
                                 runs[0]["params"], runs[0]["macs"], mean([r["seconds"] for r in runs])))  # fmt: skip
    base = rows[0]
    comps = tuple(compare(base.name, base.test_acc, v.name, v.test_acc) for v in rows[1:])
    return ExperimentResult(name, seeds, tuple(rows), comps)


def cost(spec: ModelSpec) -> dict[str, int]:
    """Parameters and multiply-accumulates per image, from the calculator (no torch)."""
    from cnn_core.nets.summary import summarize

    s = summarize(spec)
    return {"params": s.total_params, "macs": s.total_macs}


def experiment_result(cfg: ExperimentConfig, states) -> ExperimentResult | None:
    """Statistics over the finished runs of a batch (TrialStates of `cfg.trials()`); None until the
    baseline and at least one other variant have a finished run."""
    scores: dict[str, list[dict[str, Any]]] = {v.name: [] for v in cfg.variants()}
    for s in states:
        if s.finished:
            scores[s.trial.label].append({**s.scores, **cost(s.trial.spec), "seconds": s.run.summary["train_seconds"]})
    base = next(iter(scores))
    scores = {k: v for k, v in scores.items() if v}
    if base not in scores or len(scores) < 2:
        return None
    return summarize_experiment(cfg.exercise, cfg.seeds, scores)
