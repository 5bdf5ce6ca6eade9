"""FLOP accounting from layer shapes, and the machine's float32 matmul peak to compare with.

Counts multiply-adds of Conv2D and Dense as 2 FLOPs; pooling, activations and the optimizer
are memory-bound and not counted. Training costs forward + backward, where the backward pass
needs each layer's weight gradient and input gradient (each as costly as the forward) except
the first layer's input gradient, since nothing upstream needs it:
MNIST cnn forward 5.06 MFLOP, training 3 x 5.06 - 0.39 (conv1) = 14.78 MFLOP per sample.
"""

import time

import numpy as np


def forward_flops(model) -> dict[str, int]:
    """FLOPs per sample of each Conv2D/Dense layer's forward pass, by layer name."""
    counts = {}
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            kh, kw, cin, cout = layer.kernel.shape
            _, oh, ow, _ = layer.output.shape
            counts[layer.name] = 2 * oh * ow * cout * kh * kw * cin
        elif kind == "Dense":
            cin, cout = layer.kernel.shape
            counts[layer.name] = 2 * cin * cout
    return counts


def training_flops(model) -> int:
    """Forward + weight gradients + input gradients of all but the first counted layer."""
    forward = list(forward_flops(model).values())
    return 3 * sum(forward) - forward[0]


def sgemm_gflops(n: int = 2048, repeats: int = 7) -> float:
    """Best-of-`repeats` float32 n x n matmul rate with NumPy's BLAS, in GFLOP/s."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    a @ b  # warm up threads and caches
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9
