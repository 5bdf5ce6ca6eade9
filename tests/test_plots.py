"""The run's figures: the image grids show each image under its own title, wrong ones in red."""

import numpy as np
import pytest

from src import plots


@pytest.mark.parametrize("channels", [1, 3])
def test_an_image_grid_shows_every_image_once_under_its_title(channels):
    images = np.stack([np.full((28, 28, channels), i / 25) for i in range(25)])
    y_true, y_pred = np.arange(25) % 10, np.arange(25) % 10
    y_pred[[3, 17]] = 0
    figure = plots.predictions(images, y_true, y_pred, [f"class {c}" for c in range(10)])
    (ax,) = figure.axes
    canvas = np.asarray(ax.images[0].get_array())
    texts = ax.texts
    for i, text in enumerate(texts):  # under each title, its own image
        x, y = text.get_position()
        below = canvas[int(y) + 14, int(x)]
        assert np.allclose(below, i / 25), (i, below)
    assert [t.get_text() for t in texts] == [
        f"GT:class {t} P:class {p}" for t, p in zip(y_true, y_pred, strict=True)]
    assert [i for i, t in enumerate(texts) if t.get_color() == "red"] == [3, 17]
    assert len(ax.patches) == 2  # the two wrong ones framed
    assert "(2 wrong)" in figure._suptitle.get_text()
    plots.close(figure)


def test_the_previews_are_drawn_once_for_what_they_show():
    from src.data import Splits
    from src.tracking import artifacts

    images = np.random.default_rng(0).random((30, 8, 8, 1)).astype("float32")

    def splits(first_image: float) -> Splits:
        x, y = images.copy(), np.arange(30) % 10
        x[0] = first_image
        return Splits(x, y, x[:0], y[:0], x, y, [str(c) for c in range(10)], "test", {})

    one = artifacts.preview_pngs(splits(0.5))
    assert set(one) == {"preview_train.png", "preview_test.png"}
    assert all(png.startswith(b"\x89PNG") for png in one.values())
    same_images = splits(0.5)
    same_images.x_train[25:] = 0  # past the 25 shown: the same pictures
    assert artifacts.preview_pngs(same_images) is one
    assert artifacts.preview_pngs(splits(0.9)) is not one
