"""An experiment's result: the finished runs of a batch turned into per-variant statistics, comparisons against
the baseline, the verdict and the exercise's question answered (the exercises are in exercises.py, the
statistics in statistics.py, the batch of runs in trials.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cnn_core.nets.spec import ModelSpec
from cnn_core.study.exercises import ExperimentConfig, exercise
from cnn_core.study.statistics import (
    LOSS,
    Comparison,
    VariantStats,
    ci_text,
    compare,
    corrected,
    mean,
    no_evidence,
    points,
    signed_points,
    verdict_sentence,
)


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
        return " ".join(verdict_sentence(c) for c in self.comparisons)

    @property
    def loss_comparisons(self) -> tuple[Comparison, ...]:
        """The same test on the test loss (lower is better): a loss can separate variants that accuracy does not."""
        base = self.variants[0]
        return corrected([compare(base.name, base.test_loss, v.name, v.test_loss, base.seeds, v.seeds)
                          for v in self.variants[1:]])  # fmt: skip

    @property
    def loss_verdict(self) -> str:
        return "Test loss: " + " ".join(verdict_sentence(c, LOSS) for c in self.loss_comparisons)

    @property
    def answer(self) -> str:
        """The exercise's question, answered in one line."""
        ex, c = exercise(self.exercise), self.main
        why = no_evidence(c)
        if why is not None:
            return f"{ex.question} Cannot tell: {why}."
        text = ex.answers[c.outcome].format(diff=points(c.difference), signed=signed_points(c.difference),
                                            ci=f"{ci_text(c)} points")  # fmt: skip
        return f"{ex.question} {text}"

    def to_dict(self) -> dict[str, Any]:
        """The CLI's --json: exercise, seeds, variants (name, test_acc, mean, std, params, seconds), comparisons
        (each variant against the baseline: difference, ci_low, ci_high, p, p_adjusted, seeds, paired, outcome),
        verdict."""
        variants = [{"name": v.name, "test_acc": list(v.test_acc), "mean": v.mean, "std": v.std,
                     "params": v.params, "seconds": v.seconds} for v in self.variants]  # fmt: skip
        return {"exercise": self.exercise, "seeds": self.seeds, "variants": variants,
                "comparisons": [c.to_dict() for c in self.comparisons], "verdict": self.verdict}  # fmt: skip


def summarize_experiment(name: str, seeds: int, scores: dict[str, list[dict[str, Any]]]) -> ExperimentResult:
    """Per-variant statistics from each variant's per-seed scores (dicts with test_acc, test_loss, params,
    macs, seconds and optionally seed), in the exercise's variant order; every variant against the first (the
    baseline), seed by seed where both ran the same seeds, with Holm's correction across the variants."""
    rows = []
    for vname, runs in scores.items():
        if not runs:
            raise ValueError(f"variant {vname!r} has no finished runs")
        ran = tuple(r["seed"] for r in runs) if all("seed" in r for r in runs) else None
        rows.append(VariantStats(vname, tuple(r["test_acc"] for r in runs), tuple(r["test_loss"] for r in runs),
                                 runs[0]["params"], runs[0]["macs"], mean([r["seconds"] for r in runs]), ran))  # fmt: skip
    base = rows[0]
    comps = corrected([compare(base.name, base.test_acc, v.name, v.test_acc, base.seeds, v.seeds) for v in rows[1:]])
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
            scores[s.trial.label].append({**s.scores, **cost(s.trial.spec), "seconds": s.run.summary["train_seconds"],
                                          "seed": s.trial.seed})  # fmt: skip
    base = next(iter(scores))
    scores = {k: v for k, v in scores.items() if v}
    if base not in scores or len(scores) < 2:
        return None
    return summarize_experiment(cfg.exercise, cfg.seeds, scores)
