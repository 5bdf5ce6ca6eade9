"""The homework's numpy 2-3-1 network, written from scratch (homework part 1)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from src.numpy_net import backward, forward, homework_setup, init_params, loss_fn, train

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_LOSS = 0.1332476222330792
# As the notebook printed them (8 decimals); its dL/dW1 was shown transposed, (2, 3).
NOTEBOOK_W1_GRAD_TRANSPOSED = [
    [0.00244596, -0.00030765, -0.00034768],
    [0.00262019, -0.00024188, -0.000372],
]
NOTEBOOK_GRADS = {
    "W2": [0.02216011, 0.02433097, 0.01797174],
    "b1": [0.00492577, -0.00058023, -0.00065977],
    "b2": 0.029249230265318685,
}
PRINTED_DIGITS_TOL = 1e-8


def off_reference_point():
    """A second point with non-zero biases, so bias terms in the forward pass are exercised."""
    rng = np.random.RandomState(1)
    params = init_params(rng)
    params["W1"] *= 3.0
    params["b1"] = rng.randn(3)
    params["b2"] = float(rng.randn())
    return params, rng.rand(50, 2), rng.randint(0, 2, size=50)


def test_homework_setup_matches_the_notebooks_global_seed_draws():
    state = np.random.get_state()
    try:
        np.random.seed(0)
        W1 = np.random.randn(3, 2)
        W2 = np.random.randn(3)
        X = np.random.rand(1000, 2)
        Y = np.random.randint(0, 2, size=1000)
    finally:
        np.random.set_state(state)
    params, X_ours, Y_ours = homework_setup()
    np.testing.assert_array_equal(params["W1"], W1)
    np.testing.assert_array_equal(params["W2"], W2)
    np.testing.assert_array_equal(params["b1"], np.zeros(3))
    assert params["b2"] == 0.0
    np.testing.assert_array_equal(X_ours, X)
    np.testing.assert_array_equal(Y_ours, Y)


def test_homework_setup_leaves_global_random_state_alone():
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    homework_setup()
    assert np.random.rand() == expected


def test_homework_setup_reproduces_reference_loss():
    params, X, Y = homework_setup()
    _, loss = backward(X, Y, params)
    assert loss == pytest.approx(REFERENCE_LOSS, rel=1e-12)
    assert loss_fn(forward(X, params)["y"], Y) == pytest.approx(REFERENCE_LOSS, rel=1e-12)


def test_homework_gradients_match_notebook():
    params, X, Y = homework_setup()
    grads, _ = backward(X, Y, params)
    expected_W1 = np.array(NOTEBOOK_W1_GRAD_TRANSPOSED).T
    np.testing.assert_allclose(grads["W1"], expected_W1, rtol=0, atol=PRINTED_DIGITS_TOL)
    np.testing.assert_allclose(grads["W2"], NOTEBOOK_GRADS["W2"], rtol=0, atol=PRINTED_DIGITS_TOL)
    np.testing.assert_allclose(grads["b1"], NOTEBOOK_GRADS["b1"], rtol=0, atol=PRINTED_DIGITS_TOL)
    assert grads["b2"] == pytest.approx(NOTEBOOK_GRADS["b2"], rel=1e-12)


def test_gradients_have_the_shape_of_their_weights():
    params, X, Y = homework_setup()
    grads, _ = backward(X, Y, params)
    assert set(grads) == set(params) == {"W1", "b1", "W2", "b2"}
    assert grads["W1"].shape == params["W1"].shape == (3, 2)
    assert grads["b1"].shape == params["b1"].shape == (3,)
    assert grads["W2"].shape == params["W2"].shape == (3,)
    assert isinstance(grads["b2"], float) and isinstance(params["b2"], float)


def test_forward_returns_intermediates_with_expected_shapes():
    params, X, _ = homework_setup()
    cache = forward(X, params)
    assert cache["z1"].shape == cache["h"].shape == (1000, 3)
    assert cache["z2"].shape == cache["y"].shape == (1000,)
    assert np.all((cache["y"] > 0) & (cache["y"] < 1))


@pytest.mark.parametrize(
    "point", [homework_setup, off_reference_point], ids=["homework", "off-reference"]
)
def test_finite_difference_gradient_check(point):
    params, X, Y = point()
    grads, _ = backward(X, Y, params)
    eps = 1e-6
    for name, value in params.items():
        base = np.asarray(value, dtype=np.float64)
        assert base.dtype == np.float64
        for idx in np.ndindex(base.shape):
            losses = []
            for sign in (+1, -1):
                shifted = base.copy()
                shifted[idx] += sign * eps
                probe = dict(params, **{name: shifted.item() if shifted.ndim == 0 else shifted})
                losses.append(loss_fn(forward(X, probe)["y"], Y))
            numeric = (losses[0] - losses[1]) / (2 * eps)
            analytic = np.asarray(grads[name], dtype=np.float64)[idx]
            rel_err = abs(analytic - numeric) / max(abs(analytic) + abs(numeric), 1e-300)
            assert rel_err < 1e-6, f"{name}{list(idx)}: analytic {analytic}, numeric {numeric}"


def test_gradient_descent_lowers_the_loss():
    params, X, Y = homework_setup()
    history = train(X, Y, params, lr=1.0, steps=300)
    assert len(history) == 301
    assert history[0] == pytest.approx(REFERENCE_LOSS, rel=1e-12)
    # Labels are random coin flips, so the floor is about 0.125 (always predicting 0.5).
    assert history[-1] < history[0] - 0.005
    assert all(later <= earlier for earlier, later in zip(history, history[1:], strict=False))


def test_train_updates_params_in_place_to_the_final_loss():
    params, X, Y = homework_setup()
    history = train(X, Y, params, lr=1.0, steps=20)
    _, loss_now = backward(X, Y, params)
    assert loss_now == pytest.approx(history[-1], rel=1e-12)
    assert loss_now < REFERENCE_LOSS


def test_module_entry_prints_loss_and_gradients():
    result = subprocess.run(
        [sys.executable, "-m", "src.numpy_net"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert str(REFERENCE_LOSS) in result.stdout
    assert "'b2': 0.029249230265318685" in result.stdout
    assert "0.02216011" in result.stdout
