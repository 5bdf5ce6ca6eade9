"""The notebooks' figures, as matplotlib figures for `mlflow.log_figure`."""

import matplotlib

matplotlib.use("Agg")  # runs headless in sweeps and CI; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from src.data import Splits  # noqa: E402

GRID = 5  # images a side in the image grids


def close(figure: Figure) -> None:
    plt.close(figure)


def confusion(cm: np.ndarray, class_names: list[str]) -> Figure:
    """Counts in every cell; rows true, columns predicted, class names on both axes."""
    side = max(8.0, 0.55 * len(class_names))  # room for every class's name
    fig, ax = plt.subplots(figsize=(side + 1, side))
    ConfusionMatrixDisplay(cm, display_labels=class_names).plot(
        ax=ax, cmap="Blues", values_format="d", xticks_rotation=45, colorbar=False
    )
    ax.set(xlabel="Predicted label", ylabel="True label", title="Test set confusion matrix")
    fig.tight_layout()
    return fig


def curves(history: dict[str, list[float]]) -> Figure:
    """Train vs validation loss and accuracy per epoch: the overfitting picture (training
    alone in a final fit, which validates on nothing)."""
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        ax.plot(epochs, history[metric], "o-", label=f"train {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], "o-", label=f"validation {metric}")
        title = "Training and validation" if f"val_{metric}" in history else "Training"
        ax.set(xlabel="epoch", ylabel=metric, title=f"{title} {metric}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no "epoch 2.5"
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def image_grid(images: np.ndarray, titles: list[str], title: str, wrong=None) -> Figure:
    """Up to 25 images (H, W, C in [0, 1]; grayscale or colour) on a 5x5 grid, each titled;
    `wrong` images framed and titled in red. Drawn as one picture on one Axes, in a tenth of
    the time 25 Axes and a tight layout take: every run draws two or three of these."""
    images = np.clip(np.asarray(images[:GRID * GRID], np.float32), 0, 1)
    wrong = np.zeros(len(images), bool) if wrong is None else np.asarray(wrong)
    height, width, channels = images.shape[1:]
    step_x, step_y = width + width // 4, height + height // 2  # a gap, and room for a title
    blank = 0.0 if channels == 1 else 1.0  # white: gray_r draws 0 white, RGB draws 1 white
    canvas = np.full((GRID * step_y, GRID * step_x, channels), blank, np.float32)
    fig, ax = plt.subplots(figsize=(10, 11))
    for i, image in enumerate(images):
        top, left = (i // GRID) * step_y + step_y - height, (i % GRID) * step_x
        canvas[top:top + height, left:left + width] = image
        colour = "red" if wrong[i] else "black"
        ax.text(left + width / 2, top - 1, titles[i], ha="center", va="bottom", fontsize=9,
                color=colour)
        if wrong[i]:
            ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), width, height, fill=False,
                                       edgecolor="red", lw=3))
    if channels == 1:  # grayscale, dark on light as the notebooks drew it
        ax.imshow(canvas[..., 0], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    else:  # colour, as photographed
        ax.imshow(canvas, interpolation="nearest")
    ax.axis("off")
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.93)
    fig.suptitle(title, fontsize=14)
    return fig


def predictions(images, y_true, y_pred, class_names: list[str]) -> Figure:
    """The homework's `GT:x P:y` grid; wrong predictions framed and titled in red."""
    pairs = zip(y_true, y_pred, strict=True)
    titles = [f"GT:{class_names[true]} P:{class_names[pred]}" for true, pred in pairs]
    wrong = np.asarray(y_true) != np.asarray(y_pred)
    n_wrong = int(wrong.sum())
    title = f"First {len(images)} test images: ground truth vs prediction ({n_wrong} wrong)"
    return image_grid(images, titles, title, wrong)


def preview(images, labels, class_names: list[str], split: str) -> Figure:
    """The first images of a split, titled with their labels (homework part 2.1)."""
    titles = [class_names[y] for y in labels]
    return image_grid(images, titles, f"First {len(images)} {split} images with labels")


def split_previews(data: Splits, n: int = 25) -> dict[str, Figure]:
    """What the model sees: the first `n` training-split and test images, keyed by PNG name."""
    names = data.class_names
    return {
        "preview_train.png": preview(data.x_train[:n], data.y_train[:n], names, "training"),
        "preview_test.png": preview(data.x_test[:n], data.y_test[:n], names, "test"),
    }
