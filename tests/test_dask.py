"""Scale-out on dask (skgd/_dask.py), on a real two-process local cluster.

The data-parallel fit must reach the NumPy fit's coefficients and curves, run one graph
per epoch, leave X on the workers and return lazy predictions; Incremental and a
GridSearchCV on the joblib dask backend must work with the estimators as they are.
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

from distributed.diagnostics.plugin import SchedulerPlugin  # noqa: E402

from skgd import GDClassifier, GDRegressor  # noqa: E402

N_SAMPLES, N_FEATURES, CHUNK = 2000, 5, 500
# Executions before the first epoch of a GDRegressor fit with the default preconditioner
# and no derived arrays: persist X and y, check them, build its Gram matrix (see
# skgd/_dask.py).
SETUP_EXECUTIONS = 3


class GraphCounter(SchedulerPlugin):
    """Counts the graphs submitted to the scheduler: one per compute or persist."""

    def __init__(self):
        self.count = 0

    def update_graph(self, scheduler, **kwargs):
        self.count += 1


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        counter = GraphCounter()
        # The scheduler of a LocalCluster runs in this process: the plugin is shared.
        cluster.scheduler.add_plugin(counter)
        yield client, counter


def _relative_gap(actual, expected):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    return np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-300)


def _data(n_classes=None, n_targets=None, n_features=N_FEATURES, seed=0):
    """NumPy X, y, sample_weight and their dask twins in chunks of CHUNK rows."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_SAMPLES, n_features))
    if n_classes is None:
        coef = rng.normal(size=(n_features,) if n_targets is None else (n_features,
                                                                         n_targets))
        y = X @ coef + 0.3 * rng.normal(size=N_SAMPLES if n_targets is None
                                        else (N_SAMPLES, n_targets))
    else:
        y = np.array(["ant", "bee", "cat", "dog"])[
            np.argmax(X[:, :n_classes] + rng.normal(size=(N_SAMPLES, n_classes)), axis=1)]
    sample_weight = rng.uniform(0.5, 2.0, size=N_SAMPLES)
    dask_twins = [da.from_array(a, chunks=(CHUNK, *a.shape[1:])) for a in (X, y,
                                                                        sample_weight)]
    return (X, y, sample_weight), tuple(dask_twins)


def _assert_same_fit(numpy_model, dask_model, rtol=1e-8):
    assert dask_model.n_iter_ == numpy_model.n_iter_
    for name in ("coef_", "intercept_", "loss_curve_", "learning_rate_curve_"):
        assert _relative_gap(getattr(dask_model, name), getattr(numpy_model, name)) <= rtol
    if hasattr(numpy_model, "validation_scores_"):
        assert _relative_gap(dask_model.validation_scores_,
                             numpy_model.validation_scores_) <= rtol
        assert _relative_gap(dask_model.validation_loss_curve_,
                             numpy_model.validation_loss_curve_) <= rtol


@pytest.mark.parametrize("params", [
    {},
    {"alpha": 0.05, "penalty": "l1"},
    {"alpha": 0.01, "solver": "gd", "momentum": 0.9, "decay": "exponential"},
    {"solver": "adam", "learning_rate": 0.05, "decay": "inverse"},
    {"early_stopping": True, "validation_fraction": 0.2, "random_state": 0},
    {"penalty": None, "alpha": 1.0},
], ids=["auto", "l1", "momentum-exponential", "adam-inverse", "early-stopping",
        "no-penalty"])
def test_regressor_matches_numpy(cluster, params):
    (X, y, sw), (dX, dy, dsw) = _data()
    numpy_model = GDRegressor(tol=None, max_iter=20, **params).fit(X, y, sample_weight=sw)
    dask_model = GDRegressor(tol=None, max_iter=20, **params).fit(dX, dy, sample_weight=dsw)
    _assert_same_fit(numpy_model, dask_model)


def test_regressor_two_targets_converged_fit_matches_numpy(cluster):
    (X, y, _), (dX, dy, _) = _data(n_targets=2)
    numpy_model = GDRegressor(tol=1e-8).fit(X, y)
    dask_model = GDRegressor(tol=1e-8).fit(dX, dy)
    assert numpy_model.coef_.shape == (2, N_FEATURES)
    _assert_same_fit(numpy_model, dask_model)


@pytest.mark.parametrize("n_classes, params", [
    (2, {"alpha": 1e-3}),
    (4, {"class_weight": "balanced"}),
    (4, {"class_weight": {"ant": 2.0, "bee": 0.5}, "penalty": "elasticnet", "alpha": 0.01}),
    (2, {"early_stopping": True, "n_iter_no_change": 3, "random_state": 0}),
    (4, {"early_stopping": True, "validation_fraction": 0.3, "random_state": 1}),
], ids=["binary-l2", "multiclass-balanced", "multiclass-dict-elasticnet",
        "binary-early-stopping", "multiclass-early-stopping"])
def test_classifier_matches_numpy(cluster, n_classes, params):
    (X, y, sw), (dX, dy, dsw) = _data(n_classes=n_classes)
    numpy_model = GDClassifier(tol=None, max_iter=20, **params).fit(X, y, sample_weight=sw)
    dask_model = GDClassifier(tol=None, max_iter=20, **params).fit(dX, dy, sample_weight=dsw)
    np.testing.assert_array_equal(dask_model.classes_, numpy_model.classes_)
    _assert_same_fit(numpy_model, dask_model)


def test_auto_step_by_power_iteration_matches_numpy(cluster):
    # 300 columns: past the Gram matrix, both objectives iterate on X^T X.
    (X, y, _), (dX, dy, _) = _data(n_features=300)
    numpy_model = GDRegressor(tol=None, max_iter=3).fit(X, y)
    dask_model = GDRegressor(tol=None, max_iter=3).fit(dX, dy)
    _assert_same_fit(numpy_model, dask_model)


def test_warm_start_matches_numpy(cluster):
    (X, y, _), (dX, dy, _) = _data(n_classes=3)
    numpy_model = GDClassifier(tol=None, max_iter=10, warm_start=True).fit(X, y)
    dask_model = GDClassifier(tol=None, max_iter=10, warm_start=True).fit(dX, dy)
    _assert_same_fit(numpy_model.fit(X, y), dask_model.fit(dX, dy))


def test_numpy_targets_and_weights_with_dask_X(cluster):
    (X, y, sw), (dX, _, _) = _data()
    numpy_model = GDRegressor(tol=None, max_iter=20).fit(X, y, sample_weight=sw)
    dask_model = GDRegressor(tol=None, max_iter=20).fit(dX, y, sample_weight=sw)
    _assert_same_fit(numpy_model, dask_model)


def test_predictions_are_lazy_and_equal_numpy(cluster):
    (X, y, _), (dX, dy, _) = _data(n_classes=3)
    model = GDClassifier(tol=None, max_iter=20).fit(dX, dy)
    for method in ("predict", "decision_function", "predict_proba", "predict_log_proba"):
        lazy = getattr(model, method)(dX)
        assert isinstance(lazy, da.Array), method
        np.testing.assert_array_equal(lazy.compute(), getattr(model, method)(X))
    (X, y, _), (dX, dy, _) = _data(n_targets=2)
    regressor = GDRegressor(tol=None, max_iter=20).fit(dX, dy)
    prediction = regressor.predict(dX)
    assert isinstance(prediction, da.Array)
    np.testing.assert_array_equal(prediction.compute(), regressor.predict(X))


def test_one_graph_execution_per_epoch(cluster):
    _, counter = cluster
    _, (dX, dy, _) = _data()
    executions = {}
    for max_iter in (5, 9):
        before = counter.count
        # A rate that crawls, so that every epoch moves the point: the default fit is at
        # its optimum within two epochs, and where rounding then leaves the point fixed
        # bit for bit an epoch's graph has the key of the last one's, which the
        # scheduler may serve without a new submission.
        model = GDRegressor(tol=None, max_iter=max_iter, learning_rate=0.01).fit(dX, dy)
        executions[max_iter] = counter.count - before
        # And one that checks the point the last epoch's step reached (tol=None).
        assert executions[max_iter] == model.n_iter_ + SETUP_EXECUTIONS + 1
    assert executions[9] - executions[5] == 4


def test_early_stopping_adds_one_execution_per_epoch(cluster):
    _, counter = cluster
    _, (dX, dy, _) = _data(n_classes=2)
    executions = []
    for max_iter in (5, 9):
        before = counter.count
        # Without refits of the curvature metric, which add executions of their own.
        GDClassifier(tol=None, max_iter=max_iter, early_stopping=True,
                     preconditioner=None, random_state=0).fit(dX, dy)
        executions.append(counter.count - before)
    assert executions[1] - executions[0] == 2 * 4


def test_X_never_reaches_the_client(cluster):
    client, _ = cluster
    _, (dX, dy, _) = _data()
    dX, dy = client.persist([dX, dy])
    workers = set(client.scheduler_info()["workers"])

    def sent_off_the_workers():
        """What the workers served to anyone but each other (the scheduler and client)."""
        logs = client.run(lambda dask_worker: list(dask_worker.transfer_outgoing_log))
        return {(entry["start"], key): size for log in logs.values() for entry in log
                if entry["who"] not in workers for key, size in entry["keys"].items()}

    before = sent_off_the_workers()
    model = GDRegressor(tol=None, max_iter=30).fit(dX, dy)
    sent = {key: size for (start, key), size in sent_off_the_workers().items()
            if (start, key) not in before}
    assert model.n_iter_ == 30
    assert not [key for key in sent if key[0] in (dX.name, dy.name)]
    # The client receives the summed n_params + 2 floats per epoch and a few set-up
    # results: the whole fit is less than one chunk of X.
    assert 0 < sum(sent.values()) < CHUNK * N_FEATURES * 8


@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
def test_mini_batches_on_dask_arrays_raise(cluster, Estimator):
    _, (dX, dy, _) = _data(n_classes=None if Estimator is GDRegressor else 2)
    with pytest.raises(ValueError, match="batch_size=100 .*dask_ml.wrappers.Incremental"):
        Estimator(batch_size=100).fit(dX, dy)
    message = "partial_fit does not take dask arrays.*Incremental"
    with pytest.raises(ValueError, match=message):
        Estimator().partial_fit(dX, dy)


def test_non_finite_X_raises(cluster):
    (X, y, _), _ = _data()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="X is finite"):
        GDRegressor().fit(da.from_array(X, chunks=(CHUNK, N_FEATURES)), y)


def test_class_weights_that_zero_every_weight_raise_and_keep_the_model(cluster):
    (X, y, _), (dX, dy, _) = _data(n_classes=2)
    model = GDClassifier(max_iter=3, tol=None).fit(dX, dy)
    coef = model.coef_.copy()
    model.set_params(class_weight={"ant": 0.0, "bee": 0.0})
    with pytest.raises(ValueError, match="sums to zero"):
        model.fit(dX, dy)
    np.testing.assert_array_equal(model.coef_, coef)
    with pytest.raises(ValueError, match="sums to zero"):
        GDClassifier(class_weight={"ant": 0.0, "bee": 0.0}).fit(X, y)


@pytest.mark.parametrize("weight", [-0.1, np.nan, np.inf], ids=["negative", "nan", "inf"])
def test_bad_class_weights_raise_as_on_numpy(cluster, weight):
    (X, y, _), (dX, dy, _) = _data(n_classes=2)
    class_weight = {"ant": weight, "bee": 1.0}
    message = r"class_weight=.* class 'ant' .*finite and non-negative"
    with pytest.raises(ValueError, match=message):
        GDClassifier(class_weight=class_weight).fit(dX, dy)
    with pytest.raises(ValueError, match=message):
        GDClassifier(class_weight=class_weight).fit(X, y)


def test_y_of_unknown_chunk_sizes_gets_skgd_hint(cluster):
    _, (dX, dy, _) = _data()
    with pytest.raises(ValueError, match=r"y has chunks of unknown size; call "
                                         r"y.compute_chunk_sizes\(\) first"):
        GDRegressor().fit(dX, dy[dy > -np.inf])


@pytest.mark.parametrize("fit_params, params", [
    ({"X_val": "dX", "y_val": "dy"}, {"early_stopping": True}),
    ({}, {"early_stopping": True, "scoring": "loss"}),
], ids=["X_val", "scoring"])
def test_validation_data_and_scoring_are_refused_on_dask(cluster, fit_params, params):
    _, (dX, dy, _) = _data()
    arrays = {"dX": dX[:100], "dy": dy[:100]}
    with pytest.raises(ValueError, match="X_val, y_val and scoring are not supported"):
        GDRegressor(**params).fit(dX, dy, **{name: arrays[value]
                                             for name, value in fit_params.items()})


def test_a_cluster_without_workers_raises_after_the_connect_timeout():
    import dask

    _, (dX, dy, _) = _data()
    with distributed.LocalCluster(n_workers=0, processes=False,
                                  dashboard_address=":0") as empty, \
            distributed.Client(empty), \
            dask.config.set({"distributed.comm.timeouts.connect": "0.5s"}):
        with pytest.raises(ValueError, match="has no workers, and none joined within 0.5s"):
            GDRegressor().fit(dX, dy)


def test_incremental_streams_chunks_through_partial_fit(cluster):
    from dask_ml.wrappers import Incremental

    (X, y, _), (dX, dy, _) = _data(n_classes=3)
    classes = np.unique(y)
    search = Incremental(GDClassifier(learning_rate=0.1, batch_size=50, random_state=0))
    search.fit(dX, dy, classes=classes)
    model = search.estimator_
    np.testing.assert_array_equal(model.classes_, classes)
    # One partial_fit call, so one epoch, per chunk.
    assert model.n_iter_ == N_SAMPLES // CHUNK
    assert (search.predict(dX).compute() == y).mean() > 0.6


def test_grid_search_on_the_joblib_dask_backend(cluster):
    import joblib
    from sklearn.model_selection import GridSearchCV

    _, counter = cluster
    (X, y, _), _ = _data(n_classes=2)
    grid = {"learning_rate": [0.01, 0.1, "auto"]}
    before = counter.count
    with joblib.parallel_config(backend="dask", n_jobs=-1):
        search = GridSearchCV(GDClassifier(max_iter=50, tol=None), grid, cv=3).fit(X, y)
    assert counter.count > before  # the fits ran as tasks on the cluster
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = GridSearchCV(GDClassifier(max_iter=50, tol=None), grid, cv=3).fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               reference.cv_results_["mean_test_score"])
    assert search.best_params_ == reference.best_params_


def test_import_skgd_does_not_import_dask():
    code = ("import sys, numpy as np, skgd; "
            "skgd.GDRegressor(max_iter=5).fit(np.eye(3), np.arange(3.0)); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'dask', 'distributed'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


# -- issue 23: a cluster that loses its workers mid-fit, sparse chunks ------------------------
def test_a_cluster_scaled_to_zero_mid_fit_raises_after_the_connect_timeout():
    import dask

    _, (dX, dy, _) = _data()
    with distributed.LocalCluster(n_workers=1, processes=False,
                                  dashboard_address=":0") as shrinking, \
            distributed.Client(shrinking), \
            dask.config.set({"distributed.comm.timeouts.connect": "0.5s"}):

        def decay(epoch):
            # The client asks for the rate before each epoch: the cluster goes at the third.
            if epoch == 2:
                shrinking.scale(0)
            return 1.0

        model = GDRegressor(decay=decay, max_iter=50, tol=None)
        with pytest.raises(ValueError, match="lost its workers during the fit, and none "
                                             "joined within 0.5s"):
            model.fit(dX, dy)
        assert not hasattr(model, "coef_")


def test_sparse_chunks_get_a_clear_error(cluster):
    import scipy.sparse as sp

    _, (dX, dy, _) = _data()
    with pytest.raises(TypeError, match="SciPy sparse chunks .*csr_matrix.*toarray"):
        GDRegressor().fit(dX.map_blocks(sp.csr_matrix), dy)


@pytest.mark.parametrize("preconditioner", ["auto", "diagonal"])
def test_a_chunk_of_zero_weights_takes_no_share_of_the_metric(cluster, preconditioner):
    # Its Hessian's task built the chunk's objective before checking its weight, and
    # raised "sample_weight sums to 0.0" although the whole data weigh 75.
    (X, y, sw), _ = _data(n_classes=3)
    sw[:CHUNK] = 0.0
    dX, dy, dsw = (da.from_array(a, chunks=CHUNK) for a in (X, y, sw))
    numpy_model = GDClassifier(preconditioner=preconditioner).fit(X, y, sample_weight=sw)
    dask_model = GDClassifier(preconditioner=preconditioner).fit(dX, dy, sample_weight=dsw)
    assert _relative_gap(dask_model.coef_, numpy_model.coef_) <= 1e-8


def test_x_and_y_that_numpy_refuses_are_refused(cluster):
    # Complex X was fitted (its imaginary part dropped, with ComplexWarnings), X of no
    # column fitted an empty model, and labels of two types raised NumPy's bare
    # "'<' not supported between instances of 'int' and 'str'".
    (X, y, _), _ = _data()
    with pytest.raises(ValueError, match="Complex data not supported"):
        GDRegressor().fit(da.from_array(X + 0j, chunks=CHUNK), da.from_array(y, CHUNK))
    with pytest.raises(ValueError, match="0 feature"):
        GDRegressor().fit(da.from_array(X[:, :0], chunks=CHUNK), da.from_array(y, CHUNK))
    labels = np.array([1, "a"] * (len(y) // 2), dtype=object)
    with pytest.raises(TypeError, match=r"several types \(int, str\)"):
        GDClassifier().fit(da.from_array(X, chunks=CHUNK), da.from_array(labels, CHUNK))


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e-320), (np.float32, 1e300),
                                          (np.float32, 1e-50)])
def test_weights_of_any_scale_fit_as_on_numpy(cluster, dtype, scale):
    # Only their ratios matter: scaled by a power of 2 before the cast to X's dtype, as on
    # NumPy (they overflowed float32, or underflowed to a zero sum).
    (X, y, _), _ = _data(n_classes=2)
    X = X.astype(dtype)
    weight = np.full(X.shape[0], scale)
    expected = GDClassifier().fit(X, y, sample_weight=weight)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = GDClassifier().fit(da.from_array(X, chunks=CHUNK),
                                   da.from_array(y, chunks=CHUNK),
                                   sample_weight=da.from_array(weight, chunks=CHUNK))
    assert _relative_gap(model.coef_, expected.coef_) <= 1e-5


def test_nan_labels_raise_without_a_numpy_warning(cluster):
    (X, _, _), (dX, _, _) = _data()
    y = (X[:, 0] > 0).astype(float)
    y[3] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match="y is finite"):
            GDClassifier().fit(dX, da.from_array(y, chunks=CHUNK))


@pytest.mark.parametrize("dask", [False, True])
def test_weights_that_leave_one_class_raise(cluster, dask):
    # Its intercept would grow without bound: the fit stopped wherever tol said.
    (X, y, _), (dX, dy, _) = _data(n_classes=3)
    weight = (y == "cat").astype(float)
    data = (dX, dy, da.from_array(weight, chunks=CHUNK)) if dask else (X, y, weight)
    with pytest.raises(ValueError, match="one class only, 'cat'"):
        GDClassifier().fit(data[0], data[1], sample_weight=data[2])
    with pytest.raises(ValueError, match=r"\(times class_weight\) leaves samples of one"):
        GDClassifier(class_weight={"ant": 0.0, "bee": 0.0}).fit(*data[:2])


@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
def test_columns_far_off_zero_fit_as_on_numpy(cluster, Estimator):
    # Centred on the cluster as on NumPy: uncentred, the fit stopped as converged with
    # the column's coefficient 0 (a helper's audit).
    (X, y, _), _ = _data(n_classes=None if Estimator is GDRegressor else 2)
    X[:, 0] = 1e7 + X[:, 0]
    expected = Estimator().fit(X, y)
    model = Estimator().fit(da.from_array(X, chunks=CHUNK), da.from_array(y, chunks=CHUNK))
    assert _relative_gap(model.coef_, expected.coef_) <= 1e-6
    assert _relative_gap(model.intercept_, expected.intercept_) <= 1e-6


@pytest.mark.parametrize("Estimator, penalty", [(GDRegressor, "l1"),
                                                (GDClassifier, "elasticnet")])
def test_l1_fits_that_converge_are_checked_and_match_numpy(cluster, Estimator, penalty):
    # The L1 stop's coordinate check reads the objective's L1 strength from its penalty:
    # the dask objective has no alpha (an AttributeError at every converged L1 fit).
    (X, y, _), (dX, dy, _) = _data(n_classes=None if Estimator is GDRegressor else 2)
    expected = Estimator(penalty=penalty, alpha=1e-2).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = Estimator(penalty=penalty, alpha=1e-2).fit(dX, dy)
    assert _relative_gap(model.coef_, expected.coef_) <= 1e-6
