"""Homework part 1: a 2-3-1 feed-forward network written from scratch in numpy.

Kept free of Keras/TensorFlow so that every forward and backward step is visible and can be
checked against the homework notebook's numbers and against finite differences.

Shapes follow the homework: W1 (3, 2), b1 (3,), W2 (3,), b2 a float. Sigmoid on the hidden
and output layers; loss L = 1/(2N) * sum((y - y_t)^2). Run `python -m src.numpy_net` to print
the notebook's loss and gradients and then watch gradient descent lower the loss.
"""

from pprint import pprint

import numpy as np

REFERENCE_SEED = 0  # the homework's np.random.seed(0)
N_SAMPLES = 1000


def sigmoid(z):
    """Logistic function; its derivative s * (1 - s) is what the backward pass reuses."""
    return 1.0 / (1.0 + np.exp(-z))


def init_params(rng_seed=0):
    """Random weights, zero biases; takes a seed or a RandomState so draws can be sequenced."""
    rng = rng_seed
    if not isinstance(rng, np.random.RandomState):
        rng = np.random.RandomState(rng_seed)
    W1 = rng.randn(3, 2)
    b1 = np.zeros(3)
    W2 = rng.randn(3)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": 0.0}


def homework_setup(seed=REFERENCE_SEED):
    """Parameters and data drawn in the notebook's order, so its reference numbers reproduce.

    The notebook called np.random.seed(0) and then randn, randn, rand, randint on the global
    generator; one private RandomState(0) gives the same stream without touching global state.
    """
    rng = np.random.RandomState(seed)
    params = init_params(rng)
    X = rng.rand(N_SAMPLES, 2)
    Y = rng.randint(0, 2, size=N_SAMPLES)
    return params, X, Y


def forward(X, params):
    """Forward pass returning every intermediate, because backward needs them all."""
    z1 = X @ params["W1"].T + params["b1"]  # (N, 3)
    h = sigmoid(z1)
    z2 = h @ params["W2"] + params["b2"]  # (N,)
    y = sigmoid(z2)
    return {"z1": z1, "h": h, "z2": z2, "y": y}


def loss_fn(y, Y):
    """Half mean squared error; the 1/2 cancels the square's 2 in the derivative."""
    return float(np.sum((y - Y) ** 2) / (2 * len(Y)))


def backward(X, Y, params):
    """Gradients of the loss w.r.t. every parameter, each in its parameter's shape, and the loss.

    W1's gradient is (3, 2) like W1; the notebook printed it transposed as (2, 3).
    """
    cache = forward(X, params)
    h, y = cache["h"], cache["y"]
    dz2 = (y - Y) / len(Y) * y * (1.0 - y)  # dL/dz2, (N,)
    dz1 = np.outer(dz2, params["W2"]) * h * (1.0 - h)  # dL/dz1, (N, 3)
    grads = {
        "W1": dz1.T @ X,
        "b1": dz1.sum(axis=0),
        "W2": h.T @ dz2,
        "b2": float(dz2.sum()),
    }
    return grads, loss_fn(y, Y)


def train(X, Y, params, lr, steps):
    """Plain full-batch gradient descent; updates `params` in place.

    Returns the loss history: the loss before each step followed by the loss after the last
    one (steps + 1 values), so history[0] is the starting loss and history[-1] the final one.
    """
    history = []
    for _ in range(steps):
        grads, loss = backward(X, Y, params)
        history.append(loss)
        for name, grad in grads.items():
            params[name] = params[name] - lr * grad
    history.append(loss_fn(forward(X, params)["y"], Y))
    return history


def main(lr=5.0, steps=300, every=50):
    """Print the notebook's loss and gradients, then train and print the falling loss."""
    params, X, Y = homework_setup()
    grads, loss = backward(X, Y, params)
    print(loss)
    pprint(grads)
    history = train(X, Y, params, lr=lr, steps=steps)
    for step in range(0, steps + 1, every):
        print(f"step {step:4d}  loss {history[step]:.6f}")


if __name__ == "__main__":
    main()
