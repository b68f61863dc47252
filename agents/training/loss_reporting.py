"""Loss during and after LoRA training: the step recorder, the live bar, the loss-curve plot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

StepCallback = Callable[[int, float], None]


def loss_recorder(losses: list[tuple[int, float]], on_step: StepCallback | None, progress):
    """A transformers callback that appends (step, loss) to ``losses`` and reports it."""
    from transformers import TrainerCallback  # lazy: transformers takes seconds to import

    class LossRecorder(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs and "train_runtime" not in logs:
                step, loss = int(state.global_step), float(logs["loss"])
                losses.append((step, loss))
                if progress is not None:
                    progress(step, loss)
                if on_step is not None:
                    on_step(step, loss)

    return LossRecorder()


class LossBar:
    """A rich progress bar of optimizer steps, with the last loss."""

    def __init__(self, total: int):
        self.progress = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), transient=False)
        self.task = self.progress.add_task("train", total=total, loss="-")

    def __call__(self, step: int, loss: float) -> None:
        self.progress.update(self.task, completed=step, loss=f"{loss:.4f}")

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()


def plot_loss_curve(losses: list[tuple[int, float]], path: Path, validation_loss: float | None = None,
                    validation_loss_before: float | None = None) -> None:
    # lazy: matplotlib takes a while to import; only the loss curve needs it
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    axes.plot([s for s, _ in losses], [v for _, v in losses], marker="o", markersize=3, label="training loss")
    if validation_loss_before is not None:
        axes.axhline(validation_loss_before, color="grey", linestyle=":", label="validation loss, base model")
    if validation_loss is not None:
        axes.axhline(validation_loss, color="tab:orange", linestyle="--", label="validation loss, after")
    axes.set_xlabel("step")
    axes.set_ylabel("loss (target counselor turn)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
