"""Training curves: one run in training/validation colours, several runs overlaid by name, a log loss axis."""

from ui.curves import curves_figure


def history(epochs, loss0=2.0, lr=1e-3):
    return [dict(epoch=e, train_loss=loss0 / e, val_loss=loss0 / e + 0.1, train_acc=1 - 0.5 / e, val_acc=1 - 0.6 / e,
                 lr=lr) for e in range(1, epochs + 1)]  # fmt: skip


def test_one_run_shows_training_validation_and_the_learning_rate():
    fig = curves_figure({"this run": history(3)})
    assert [t.name for t in fig.data] == ["training", "validation", "training", "validation", "learning rate"]
    assert list(fig.data[1].y) == [h["val_loss"] for h in history(3)]
    assert fig.layout.yaxis.type != "log" and fig.layout.yaxis3.type == "log"


def test_several_runs_overlay_with_their_names_and_one_colour_each():
    fig = curves_figure({"lr 0.001": history(3), "lr 0.1": history(5, loss0=4.0, lr=0.1)})
    names = [t.name for t in fig.data if t.showlegend]
    assert names == ["lr 0.001, train", "lr 0.001, val", "lr 0.1, train", "lr 0.1, val"]
    by_run = {}
    for t in fig.data:
        by_run.setdefault(t.legendgroup, set()).add(t.line.color)
    assert len(by_run) == 2 and all(len(colours) == 1 for colours in by_run.values())
    assert by_run["lr 0.001"] != by_run["lr 0.1"]
    assert len(fig.data[5].x) == 5  # the second run's own epochs


def test_log_scale_applies_to_the_loss_only():
    fig = curves_figure({"a": history(2)}, log_loss=True)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type != "log"
