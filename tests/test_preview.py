"""`python -m src.preview` shows a dataset without training or tracking anything."""

from pathlib import Path

import matplotlib.image
import pytest

from tests.conftest import run_cli


@pytest.mark.slow
def test_preview_writes_both_grids_into_the_hydra_output_dir(tmp_path):
    result = run_cli("src.preview", "dataset=fashion_mnist", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    paths = [Path(line) for line in result.stdout.split() if line.endswith(".png")]
    assert [p.name for p in paths] == ["preview_train.png", "preview_test.png"]
    for path in paths:
        assert path.is_file() and tmp_path / "outputs" in path.parents
        height, width, _ = matplotlib.image.imread(path).shape
        assert height > 500 and width > 500
    assert not (tmp_path / "mlflow.db").exists()
