"""Data-parallel fits on dask: per-epoch cost on a local cluster, and a cost model.

Fits ``GDRegressor(tol=None)`` on the same dense float64 data twice, with NumPy arrays
and with dask arrays on a ``LocalCluster`` of two single-threaded worker processes, and
prints Markdown tables:

- per-epoch wall time of each (the slope between a 1-epoch and an ``--epochs`` fit, so
  set-up, persist and the ``"auto"`` step are left out), graph executions per epoch
  (counted by a scheduler plugin), and bytes the workers send per epoch, to the client
  and to each other (from their transfer logs);
- the constants of the per-epoch cost model, measured here: the time of one chunk's
  fused task per row, and the fixed and per-task overhead of one execution (the slope of
  the per-epoch time over the number of chunks);
- ``T(workers) = compute(n / workers) + tasks * per-task overhead + fixed overhead +
  depth * network latency + bytes / bandwidth`` for 10, 100 and 1000 workers, one chunk
  per worker, at this n and at 1000 times this n. The network latency and bandwidth
  are assumptions, stated in the output.

Run from the repository root::

    python -m benchmarks.dask_scaling            # 1 000 000 x 20 in 8 chunks: ~1 minute
    python -m benchmarks.dask_scaling --quick    # 50 000 x 20: seconds
"""

from __future__ import annotations

import argparse
import math
import os
import time

# The workers inherit this: one BLAS thread per single-threaded worker, as the client.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import dask  # noqa: E402
import dask.array as da  # noqa: E402
import distributed  # noqa: E402
import numpy as np  # noqa: E402
from distributed.diagnostics.plugin import SchedulerPlugin  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from skgd import GDRegressor  # noqa: E402
from skgd._dask import _FAN_IN, _chunk_loss_gradient  # noqa: E402
from skgd.losses import SquaredError  # noqa: E402

# Assumptions of the cost model for a real cluster (not measured here).
NETWORK_LATENCY_S = 0.5e-3   # one hop between machines in a data centre
# The order of dask's per-task scheduler overhead on a dedicated scheduler machine; the
# overhead measured on a small, shared machine, where client, scheduler and workers
# share the cores, is larger.
DEDICATED_PER_TASK_S = 1e-3
BANDWIDTH_BYTES_S = 1.25e9   # 10 Gbit/s


class _GraphCounter(SchedulerPlugin):
    def __init__(self):
        self.count = 0

    def update_graph(self, scheduler, **kwargs):
        self.count += 1


def _bytes_sent(client, workers):
    """Bytes the workers have served so far: ``(to the client side, to each other)``."""
    logs = client.run(lambda dask_worker: list(dask_worker.transfer_outgoing_log))
    to_client = between = 0
    for log in logs.values():
        for entry in log:
            if entry["who"] in workers:
                between += entry["total"]
            else:
                to_client += entry["total"]
    return np.array([to_client, between])


def _fit_seconds(X, y, epochs, learning_rate):
    start = time.perf_counter()
    GDRegressor(tol=None, max_iter=epochs, learning_rate=learning_rate).fit(X, y)
    return time.perf_counter() - start


def _per_epoch(X, y, epochs, learning_rate, repeat=3):
    """Seconds per epoch: the slope between 1-epoch and ``epochs``-epoch fits."""
    one = min(_fit_seconds(X, y, 1, learning_rate) for _ in range(repeat))
    many = min(_fit_seconds(X, y, epochs, learning_rate) for _ in range(repeat))
    return (many - one) / (epochs - 1)


def _generate(client, n_samples, n_features, n_chunks):
    """X and y made on the workers, in ``n_chunks`` row chunks, and persisted."""
    rng = da.random.default_rng(0)
    rows = math.ceil(n_samples / n_chunks)
    X = rng.standard_normal((n_samples, n_features), chunks=(rows, n_features))
    y = X @ np.linspace(-1, 1, n_features) + rng.standard_normal(n_samples, chunks=rows)
    return client.persist([X, y])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 000 rows instead of 1e6")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args(argv)
    n_samples, n_features, n_chunks = (50_000 if args.quick else 1_000_000), 20, 8
    epochs = args.epochs

    # A fixed rate: the "auto" step is set-up, measured apart from the epochs.
    learning_rate = 0.5
    threadpool_limits(1)

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        counter = _GraphCounter()
        cluster.scheduler.add_plugin(counter)
        workers = set(client.scheduler_info()["workers"])
        dX, dy = _generate(client, n_samples, n_features, n_chunks)
        # The same data for the NumPy fit.
        X, y = dask.compute(dX, dy)
        GDRegressor(tol=None, max_iter=2, learning_rate=learning_rate).fit(dX, dy)

        numpy_epoch = _per_epoch(X, y, epochs, learning_rate)
        dask_epoch = _per_epoch(dX, dy, epochs, learning_rate)

        counts, sent = [], []
        for max_iter in (1, epochs):
            count, before = counter.count, _bytes_sent(client, workers)
            GDRegressor(tol=None, max_iter=max_iter, learning_rate=learning_rate).fit(dX, dy)
            counts.append(counter.count - count)
            sent.append(_bytes_sent(client, workers) - before)
        executions = (counts[1] - counts[0]) / (epochs - 1)
        to_client, between = (sent[1] - sent[0]) / (epochs - 1)

        start = time.perf_counter()
        auto = GDRegressor(tol=None, max_iter=1).fit(dX, dy)
        auto_seconds = time.perf_counter() - start

        # Overhead per task: the per-epoch time with 8 times more, smaller, chunks.
        many_chunks = 8 * n_chunks
        dX_many, dy_many = client.persist([
            array.rechunk({0: math.ceil(n_samples / many_chunks)}) for array in (dX, dy)])
        dask_epoch_many = _per_epoch(dX_many, dy_many, epochs, learning_rate)

    # One chunk's fused task, timed in this process: the compute the workers share.
    rows = math.ceil(n_samples / n_chunks)
    w = np.zeros(n_features + 1)
    start = time.perf_counter()
    for _ in range(5):
        _chunk_loss_gradient(SquaredError(), X[:rows], y[:rows], None, w, True)
    per_row = (time.perf_counter() - start) / 5 / rows

    def tasks(chunks):
        total, level = chunks, chunks
        while level > 1:
            level = math.ceil(level / _FAN_IN)
            total += level
        return total

    def depth(chunks):
        return max(1, math.ceil(math.log(chunks, _FAN_IN)))

    # Per epoch on the local cluster: each of the 2 workers computes half the rows, then
    # a fixed overhead plus one per task.
    per_task = (dask_epoch_many - dask_epoch) / (tasks(many_chunks) - tasks(n_chunks))
    fixed = dask_epoch - per_row * n_samples / 2 - per_task * tasks(n_chunks)
    result_bytes = (n_features + 1 + 2) * 8

    print(f"## skgd on dask: {n_samples:,} x {n_features} float64 in {n_chunks} chunks, "
          f"LocalCluster(2 workers x 1 thread), {epochs} epochs of GDRegressor(tol=None)\n")
    print("| fit | s / epoch | vs NumPy | executions / epoch | bytes to client / epoch "
          "| bytes between workers / epoch |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| NumPy (1 thread) | {numpy_epoch:.4f} | 1.00 | - | - | - |")
    print(f"| dask, {n_chunks} chunks | {dask_epoch:.4f} | {dask_epoch / numpy_epoch:.2f} "
          f"| {executions:g} | {to_client:.0f} | {between:.0f} |")
    print(f"| dask, {many_chunks} chunks | {dask_epoch_many:.4f} | "
          f"{dask_epoch_many / numpy_epoch:.2f} | | | |")
    print(f"\nSet-up of a dask fit with learning_rate='auto' and 1 epoch: "
          f"{auto_seconds:.3f} s (persist, checks, Gram matrix; auto step "
          f"{auto._learning_rate:.6g}).")
    print(f"A chunk's result: {result_bytes} bytes (n_params + 2 float64).\n")

    print("### Cost model constants (measured here unless marked assumed)\n")
    print("| constant | value |")
    print("| --- | ---: |")
    print(f"| fused task, per row of {n_features} features | {per_row * 1e9:.1f} ns |")
    print(f"| per task (scheduling, graph, transfer of a result) | {per_task * 1e3:.3f} ms |")
    print(f"| fixed per execution (client round trip) | {max(fixed, 0) * 1e3:.2f} ms |")
    print(f"| network latency per tree level (assumed) | {NETWORK_LATENCY_S * 1e3:.1f} ms |")
    print(f"| bandwidth (assumed) | {BANDWIDTH_BYTES_S / 1e9:.2f} GB/s |")
    print(f"| tree fan-in | {_FAN_IN} |\n")

    print("### Predicted seconds per epoch, one chunk per worker\n")
    print("T = per_row * n / workers + per_task * tasks + fixed "
          "+ depth * latency + depth * result bytes / bandwidth\n")
    print("| n | workers | compute | scheduling | tree latency + transfer | total "
          "| speed-up vs 1 NumPy thread | total at 1 ms / task (assumed) | speed-up |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in (n_samples, 1000 * n_samples):
        numpy_time = per_row * n
        for n_workers in (10, 100, 1000):
            compute = per_row * n / n_workers
            scheduling = per_task * tasks(n_workers) + max(fixed, 0)
            network = depth(n_workers) * (NETWORK_LATENCY_S
                                          + _FAN_IN * result_bytes / BANDWIDTH_BYTES_S)
            total = compute + scheduling + network
            dedicated = (compute + DEDICATED_PER_TASK_S * tasks(n_workers) + max(fixed, 0)
                         + network)
            print(f"| {n:,} | {n_workers} | {compute:.4f} | {scheduling:.4f} | "
                  f"{network:.4f} | {total:.4f} | {numpy_time / total:.1f} | "
                  f"{dedicated:.4f} | {numpy_time / dedicated:.1f} |")


if __name__ == "__main__":
    main()
