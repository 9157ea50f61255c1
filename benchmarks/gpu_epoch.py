"""One full-batch epoch on the host (NumPy) against one on a GPU (PyTorch CUDA).

``python -m benchmarks.gpu_epoch [--rows N] [--features P] [--device cuda]``

Times the gradient pass that each epoch of a full-batch fit runs
(``LinearObjective.loss_gradient``, binary cross-entropy, float32) on the same X held
by NumPy and by PyTorch on ``--device``, plus the per-epoch cost of a whole
``GDClassifier`` fit there and a default fit to its tol (in the curvature
preconditioner's metric, whose ``p x p`` factorisations run on the host), and reports the
memory bandwidth the gradient achieves: bytes of X per epoch / epoch time, beside the
card's peak (from its name) and the read bandwidth a plain ``X.sum()`` reaches on it.
``--device cpu --rows 200000`` runs the same code on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

# scikit-learn's Array API dispatch needs SciPy's, which is read at SciPy's import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402

# Peak memory bandwidth in GB/s of the cards this is likely to meet, by name.
_PEAK_GB_S = {
    "H200": 4800, "H100 NVL": 3900, "H100 PCIe": 2000, "H100": 3350,
    "A100-SXM4-80GB": 2039, "A100-PCIE-80GB": 1935, "A100": 1555,
    "L40S": 864, "L4": 300, "A10": 600, "V100": 900, "T4": 320,
}


def _peak(name):
    for key, value in _PEAK_GB_S.items():
        if key in name:
            return value
    return None


def _median_seconds(function, synchronize, repeat):
    function()  # warm-up: kernels, caches, allocator
    synchronize()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _fit_epoch_seconds(X, y, synchronize, config_context):
    """Per-epoch seconds of a whole fit: (11 epochs - 1 epoch) / 10, set-up excluded."""
    from skgd import GDClassifier

    def fit(epochs):
        with config_context(array_api_dispatch=True), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            synchronize()
            start = time.perf_counter()
            GDClassifier(max_iter=epochs, tol=None).fit(X, y)
            synchronize()
            return time.perf_counter() - start

    fit(1)
    return (min(fit(11) for _ in range(2)) - min(fit(1) for _ in range(2))) / 10


def _default_fit(X, y, synchronize, config_context):
    """A default ``GDClassifier(alpha=1/n)`` fit to its tol (curvature preconditioner,
    refits to the local Hessian): seconds, epochs, optimality, the metric used."""
    from skgd import GDClassifier

    with config_context(array_api_dispatch=True):
        synchronize()
        start = time.perf_counter()
        model = GDClassifier(alpha=1.0 / X.shape[0]).fit(X, y)
        synchronize()
    return time.perf_counter() - start, model


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_epoch",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    import torch
    from sklearn import config_context

    from skgd.losses import BinaryCrossEntropy, LinearObjective

    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA device: run with --device cpu for a dry run")
        card = torch.cuda.get_device_name(args.device)

        def synchronize():
            torch.cuda.synchronize(args.device)
    else:
        card = platform.processor() or "CPU"

        def synchronize():
            pass

    n, p = args.rows, args.features
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, p), dtype=np.float32)
    y = (X[:, :5].sum(axis=1) + rng.standard_normal(n, dtype=np.float32) > 0).astype(
        np.float32)
    X_dev = torch.asarray(X, device=args.device)
    y_dev = torch.asarray(y, device=args.device)
    gib = X.nbytes / 2**30
    print(f"X: {n} x {p} float32, {gib:.2f} GiB; torch {torch.__version__} on {card}; "
          f"numpy {np.__version__}, {torch.get_num_threads()} host threads")

    host = LinearObjective(BinaryCrossEntropy(), X, y)
    device = LinearObjective(BinaryCrossEntropy(), X_dev, y_dev)
    w = np.full(host.n_params, 0.01, dtype=np.float32)
    w_dev = torch.asarray(w, device=args.device)
    host_s = _median_seconds(lambda: host.loss_gradient_array(w), lambda: None, args.repeat)
    device_s = _median_seconds(lambda: device.loss_gradient_array(w_dev), synchronize,
                               args.repeat)
    read_s = _median_seconds(lambda: X_dev.sum(), synchronize, args.repeat)
    host_fit_s = _fit_epoch_seconds(X, y, lambda: None, config_context)
    device_fit_s = _fit_epoch_seconds(X_dev, y_dev, synchronize, config_context)

    host_full_s, host_model = _default_fit(X, y, lambda: None, config_context)
    device_full_s, device_model = _default_fit(X_dev, y_dev, synchronize, config_context)

    def bandwidth(seconds):
        return X.nbytes / seconds / 1e9

    peak = _peak(card)
    print()
    print("| pass | NumPy (host) | torch (device) | speed-up |")
    print("|---|--:|--:|--:|")
    print(f"| gradient pass (loss_gradient) | {host_s * 1e3:.1f} ms | {device_s * 1e3:.2f} ms "
          f"| {host_s / device_s:.1f}x |")
    print(f"| epoch of a GDClassifier fit | {host_fit_s * 1e3:.1f} ms | "
          f"{device_fit_s * 1e3:.2f} ms | {host_fit_s / device_fit_s:.1f}x |")
    print(f"| default fit to tol, preconditioner_={device_model.preconditioner_!r} "
          f"({host_model.n_iter_} / {device_model.n_iter_} epochs, optimality "
          f"{host_model.optimality_:.1e} / {device_model.optimality_:.1e}) | "
          f"{host_full_s:.2f} s | {device_full_s:.3f} s | {host_full_s / device_full_s:.1f}x |")
    print()
    print(f"gradient bandwidth on the device: {bandwidth(device_s):.0f} GB/s "
          f"(bytes of X per epoch / epoch time; the pass reads X twice, forward and "
          f"back, so the memory system moves {2 * bandwidth(device_s):.0f} GB/s)")
    print(f"plain X.sum() read bandwidth on the device: {bandwidth(read_s):.0f} GB/s")
    print(f"card's peak: {f'{peak} GB/s' if peak else 'unknown for ' + repr(card)}"
          + (f"; the gradient reaches {bandwidth(device_s) / peak:.0%} of it "
             f"({2 * bandwidth(device_s) / peak:.0%} counting both reads)" if peak else ""))
    print(f"host gradient bandwidth: {bandwidth(host_s):.1f} GB/s")


if __name__ == "__main__":
    main()
