"""GDClassifierCV and GDRegressorCV: a grid of learning rates and alphas, every fold and
setting fitted side by side.

A :class:`~sklearn.model_selection.GridSearchCV` over a gradient-descent estimator fits
each (setting, fold) on its own, streaming X once per epoch each time. Here every fit is a
descent of the engine (:func:`skgd._engine.descent`), and :func:`skgd._engine.run_many`
advances them in lockstep: each epoch, the requests of all fits that see the same rows are
answered by one pass over X (:func:`skgd.losses.stacked_loss_gradient`), a matrix product
with the parameters of all of them side by side.

A fold's training rows are not copied: its fits weigh the rows of X by the fold's training
weights, zero on its test rows, which is the same objective (``F`` divides by the sum of
the weights) without a second copy of X. Mini-batch fits, whose batches must be drawn from
the training rows as the estimator's own fit draws them, take the fold's rows as a copy.
The rest of each fit (metric, step, stopping rule, refits) is the estimator's own code, so
each fit is the one ``GridSearchCV`` would make, to rounding.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs
from scipy.stats import rankdata
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from . import _curvature
from ._array_api import input_namespace, is_numpy
from ._curvature import BLOCK_BYTES
from ._engine import DivergenceError, run_many
from ._estimators import (
    GDClassifier,
    GDRegressor,
    _BaseGD,
    _CallbackReport,
    _check_dense_y,
    _check_weight_sum,
    _is_dask,
    _take_rows,
    _targets_in,
)
from .losses import LinearObjective, side_by_side, stacked_loss_gradient

# The estimator's parameters that the grid replaces.
_GRID = ("alpha", "learning_rate")


class _FoldFit:
    """One (setting, fold) fit: the estimator that runs it and where it stands."""

    def __init__(self, estimator, fold, candidate):
        self.estimator, self.fold, self.candidate = estimator, fold, candidate
        self.objective = None
        self.outcome = None
        self.message = None
        self.seconds = 0.0


class _BaseGDCV(BaseEstimator):
    """The search shared by both CV estimators."""

    _parameter_constraints: dict = {
        **{name: rule for name, rule in _BaseGD._parameter_constraints.items()
           if name not in _GRID},
        "learning_rates": ["array-like"],
        "alphas": ["array-like"],
        "cv": ["cv_object"],
        "refit": ["boolean"],
        "n_jobs": [Integral, None],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- the grid ---------------------------------------------------------------------
    def _estimator(self):
        """The estimator each fit is a copy of (its learning rate and alpha set per
        candidate)."""
        params = {name: getattr(self, name) for name in self._estimator_class().get_params()
                  if name not in _GRID}
        return self._estimator_class(**params)

    def _candidates(self):
        """The grid in GridSearchCV's order (alpha, then learning_rate fastest)."""
        rates = list(self.learning_rates)
        alphas = list(self.alphas)
        if not rates or not alphas:
            raise ValueError(f"learning_rates={self.learning_rates!r} and alphas="
                             f"{self.alphas!r} must each hold at least one value.")
        for rate in rates:
            if not (rate == "auto" if isinstance(rate, str) else
                    isinstance(rate, Real) and math.isfinite(rate) and rate > 0):
                raise ValueError(f"learning_rates holds {rate!r}; each learning rate must "
                                 "be a finite float > 0 or 'auto'.")
        for alpha in alphas:
            if isinstance(alpha, str) or not (isinstance(alpha, Real)
                                              and math.isfinite(alpha) and alpha >= 0):
                raise ValueError(f"alphas holds {alpha!r}; each alpha must be a finite "
                                 "float >= 0.")
        return list(ParameterGrid({"alpha": alphas, "learning_rate": rates}))

    # -- fitting ----------------------------------------------------------------------
    def _fit(self, X, y, sample_weight, groups):
        name, single = type(self).__name__, self._estimator_class.__name__
        if _is_dask(X):
            raise TypeError(
                f"{name} fits NumPy arrays and SciPy sparse matrices in memory. For a dask "
                f"array, search with dask-ml's GridSearchCV over {single}, which fits "
                "each setting on the cluster.")
        _check_dense_y(y)
        if self.early_stopping:
            raise ValueError(
                f"{name} scores every setting on held-out folds and keeps no validation "
                f"split inside them: early_stopping=True is not supported. Search with "
                f"GridSearchCV over {single}(early_stopping=True), or bound the fits with "
                "max_iter and tol.")
        base = self._estimator()
        base._validate_params()
        base._check_params()
        candidates = self._candidates()
        self._check_namespace(X)
        X, y = validate_data(self, X, y, accept_sparse="csr",
                             dtype=[np.float64, np.float32],
                             multi_output=self._regression, y_numeric=self._regression)
        if not self._regression:
            check_classification_targets(y)
        sample_weight = base._host_sample_weight(sample_weight, X.shape[0], X.dtype)
        cv = check_cv(self.cv, y, classifier=not self._regression)
        splits = list(cv.split(X, y, groups))
        n_splits = len(splits)

        targets = {}
        folds = [self._fold(k, base, X, y, sample_weight, train, test, targets)
                 for k, (train, test) in enumerate(splits)]
        chunks = np.array_split(np.arange(n_splits), min(n_splits, self._n_jobs()))
        # Threads that each call a BLAS using every core would fight over the cores:
        # they share them instead.
        blas_threads = max(1, (os.cpu_count() or 1) // len(chunks))
        with threadpool_limits(limits=None if len(chunks) == 1 else blas_threads,
                               user_api="blas"):
            runs = Parallel(n_jobs=len(chunks), prefer="threads")(
                delayed(self._search)(base, candidates, [folds[k] for k in chunk])
                for chunk in chunks)
        # A run's fits share its passes: each is given an equal share of its time.
        fits = []
        for run_fits, seconds in runs:
            for fit in run_fits:
                fit.seconds = seconds / len(run_fits)
            fits += run_fits

        results, curves, diverged, messages = self._results(candidates, folds, fits, X, y,
                                                  sample_weight)
        self._warn(messages, len(fits))
        best = int(np.argmin(results["rank_test_score"]))
        best_params = candidates[best]
        best_estimator = None
        if self.refit:
            best_estimator = clone(base).set_params(**best_params)
            best_estimator.fit(X, y, **({} if np.all(sample_weight == 1)
                                        else {"sample_weight": sample_weight}))
        # Stored only now: a search that raises leaves a fitted model as it was.
        self.cv_results_ = results
        self.loss_curves_ = curves
        self.diverged_ = diverged
        self.best_index_ = best
        self.best_params_ = best_params
        self.best_score_ = float(results["mean_test_score"][best])
        self.learning_rate_ = best_params["learning_rate"]
        self.alpha_ = best_params["alpha"]
        self.n_splits_ = n_splits
        for attribute in ("best_estimator_", "coef_", "intercept_", "n_iter_", "classes_"):
            self.__dict__.pop(attribute, None)
        if best_estimator is not None:
            self.best_estimator_ = best_estimator
            self.coef_ = best_estimator.coef_
            self.intercept_ = best_estimator.intercept_
            self.n_iter_ = best_estimator.n_iter_
        if not self._regression:
            self.classes_ = np.unique(y)
        return self

    def _n_jobs(self):
        return 1 if self.n_jobs is None else effective_n_jobs(self.n_jobs)

    def _fold(self, index, base, X, y, sample_weight, train, test, targets):
        """The data of one fold's fits: the targets and training weights over all rows of
        X (zero on the test rows; see the module docstring), or, for mini-batches, the
        training rows themselves. ``targets`` keeps the encoded targets of all rows, one
        array for all folds that encode them alike (so that their fits share passes)."""
        encoder = clone(base)
        loss, y_train, weight_train = encoder._encode_targets(
            y[train], sample_weight[train], False, None, False)
        _check_weight_sum(weight_train, getattr(encoder, "class_weight", None))
        fold = {"index": index, "train": train, "test": test, "loss": loss, "shared": {},
                "classes": getattr(encoder, "classes_", None),
                "masked": base.batch_size is None or base.batch_size >= len(train)}
        if not fold["masked"]:
            fold["X"] = _take_rows(X, train)
            fold["y"] = y_train
            fold["weight"] = None if np.all(weight_train == 1) else weight_train
            return fold
        weight = np.zeros(X.shape[0], dtype=X.dtype)
        weight[train] = weight_train
        fold["X"], fold["weight"] = X, weight
        key = None if fold["classes"] is None else tuple(fold["classes"].tolist())
        if key not in targets:
            targets[key] = self._all_targets(y, fold["classes"], y_train.dtype)
        fold["y"] = targets[key]
        return fold

    def _search(self, base, candidates, folds):
        """Fit every candidate on ``folds`` side by side; return the fits and the time.

        The fits run in groups whose metrics (a ``p x p`` factorisation each, with the
        default preconditioner, and the local Hessian's for a cross-entropy) fit in
        :func:`_metric_budget`: side by side, many would take more memory than X.
        """
        start = time.perf_counter()
        fits = []
        for fold in folds:
            for index, candidate in enumerate(candidates):
                estimator = clone(base).set_params(**candidate)
                if fold["masked"] and estimator.batch_size is not None:
                    # A batch as large as the fold's training rows: its own fit would be
                    # full-batch.
                    estimator.set_params(batch_size=None)
                if fold["classes"] is not None:
                    estimator.classes_ = fold["classes"]
                alpha, l1_ratio = estimator._penalty()
                fit = _FoldFit(estimator, fold, index)
                fit.objective = LinearObjective(
                    fold["loss"], fold["X"], fold["y"], fold["weight"], alpha=alpha,
                    l1_ratio=l1_ratio, fit_intercept=estimator.fit_intercept,
                    shared=fold["shared"])
                fits.append(fit)
        budget = _metric_budget(folds[0]["X"])
        group = []
        for fit in fits:
            if group and _footprint(group + [fit]) > budget:
                self._run_group(group)
                group = []
            group.append(fit)
        self._run_group(group)
        return fits, time.perf_counter() - start

    @staticmethod
    def _run_group(fits):
        """Plan the descents of ``fits`` and run them side by side."""
        descents = []
        for fit in fits:
            estimator = fit.estimator
            descent, fit.finish = estimator._plan(
                fit.objective, None, check_random_state(estimator.random_state),
                _CallbackReport(estimator, None, fit.objective.X, fit.objective.y, None),
                partial=False, resume=False)
            descents.append(descent)
        outcomes = run_many(descents, lambda requests: _answer(fits, requests),
                            catch=(DivergenceError,))
        for fit, outcome in zip(fits, outcomes, strict=True):
            fit.outcome = outcome
            if not isinstance(outcome, Exception):
                fit.message = fit.finish(outcome)
                # What partial_fit would continue in; a fold's fit has no partial_fit.
                del fit.estimator._metric

    def _results(self, candidates, folds, fits, X, y, sample_weight):
        """``cv_results_`` in GridSearchCV's layout, the loss curves and the messages of
        the fits that did not converge."""
        n_candidates, n_splits = len(candidates), len(folds)
        scores = np.full((n_candidates, n_splits), np.nan)
        score_times = np.zeros((n_candidates, n_splits))
        fit_times = np.zeros((n_candidates, n_splits))
        curves = [[None] * n_splits for _ in range(n_candidates)]
        diverged = np.zeros((n_candidates, n_splits), dtype=bool)
        messages = []
        for k, fold in enumerate(folds):
            fold_fits = [fit for fit in fits if fit.fold is fold]
            start = time.perf_counter()
            fold_scores = self._score(fold, fold_fits, X, y, sample_weight)
            elapsed = (time.perf_counter() - start) / len(fold_fits)
            for fit, score in zip(fold_fits, fold_scores, strict=True):
                i = fit.candidate
                scores[i, k] = score
                score_times[i, k] = elapsed
                fit_times[i, k] = fit.seconds
                if isinstance(fit.outcome, Exception):
                    diverged[i, k] = True
                    curves[i][k] = fit.outcome.loss_curve
                else:
                    curves[i][k] = fit.estimator.loss_curve_
                    if fit.message is not None:
                        messages.append((candidates[i], fit.message))
        if diverged.all():
            raise DivergenceError(
                f"All the {diverged.size} fits of {type(self).__name__} diverged: every "
                f"learning rate in learning_rates={list(self.learning_rates)!r} is too "
                "large for this data. Add smaller rates, or 'auto'.")
        results = {
            "mean_fit_time": fit_times.mean(axis=1), "std_fit_time": fit_times.std(axis=1),
            "mean_score_time": score_times.mean(axis=1),
            "std_score_time": score_times.std(axis=1),
        }
        for name in ("alpha", "learning_rate"):
            column = np.ma.MaskedArray(np.empty(n_candidates, dtype=object),
                                       mask=False)
            for i, candidate in enumerate(candidates):
                column[i] = candidate[name]
            results[f"param_{name}"] = column
        results["params"] = candidates
        for k in range(n_splits):
            results[f"split{k}_test_score"] = scores[:, k]
        # As GridSearchCV: the mean of a candidate with a failed fold is NaN, ranked last.
        mean = scores.mean(axis=1)
        results["mean_test_score"] = mean
        results["std_test_score"] = scores.std(axis=1)
        if np.isnan(mean).all():
            rank = np.ones(n_candidates, dtype=np.int32)
        else:
            rank = rankdata(-np.nan_to_num(mean, nan=np.nanmin(mean) - 1),
                            method="min").astype(np.int32)
        results["rank_test_score"] = rank
        results["n_diverged"] = diverged.sum(axis=1)
        return results, curves, diverged, messages

    def _score(self, fold, fits, X, y, sample_weight):
        """The test score of each fit of a fold (NaN for a diverged one), by ``scoring``.

        Weighted by the sample weights of the test rows, where there are any (as
        ``LogisticRegressionCV`` scores; ``GridSearchCV`` passes no weights to its scorer),
        so that weights and repeated rows choose the same setting.
        """
        test = fold["test"]
        weight = None if np.all(sample_weight[test] == 1) else sample_weight[test]
        scores = [math.nan] * len(fits)
        fitted = [(j, fit) for j, fit in enumerate(fits)
                  if not isinstance(fit.outcome, Exception)]
        if not fitted:
            return scores
        if self.scoring is None:
            # The raw predictions of many fits in one product, a block of test rows at a
            # time (no copy of the test rows), as many fits at once as keep them within
            # a block's size.
            width = fitted[0][1].objective.n_outputs
            y_test = self._test_targets(fold, y[test])
            step = max(1, BLOCK_BYTES // (len(test) * width * 8))
            for start in range(0, len(fitted), step):
                chunk = fitted[start:start + step]
                objectives = [fit.objective for _, fit in chunk]
                coef, intercept = side_by_side(objectives,
                                               [fit.outcome.params for _, fit in chunk])
                raw = _product(X, test, coef) + intercept
                for position, (j, fit) in enumerate(chunk):
                    columns = raw[:, position * width:(position + 1) * width]
                    scores[j] = float(fit.estimator._score_raw(
                        columns[:, 0] if fit.objective.loss_function.raw_ndim == 1
                        else columns, y_test, weight))
            return scores
        X_test = _take_rows(X, test)
        if self.scoring == "loss":
            y_test = self._test_targets(fold, y[test])
            for j, fit in fitted:
                alpha, l1_ratio = fit.estimator._penalty()
                held_out = LinearObjective(fold["loss"], X_test, y_test, weight, alpha=alpha,
                                           l1_ratio=l1_ratio,
                                           fit_intercept=fit.estimator.fit_intercept)
                l1 = held_out.l1_penalty()
                w = fit.outcome.params
                scores[j] = -(held_out.loss(w) + (0.0 if l1 is None else float(l1.value(w))))
            return scores
        metadata = {} if weight is None else {"sample_weight": weight}
        for j, fit in fitted:
            estimator = fit.estimator
            estimator.n_features_in_ = X.shape[1]
            scores[j] = float(check_scoring(estimator, scoring=self.scoring)(
                estimator, X_test, y[test], **metadata))
        return scores

    def _warn(self, messages, n_fits):
        if not messages:
            return
        settings = sorted({f"learning_rate={c['learning_rate']!r}, alpha={c['alpha']!r}"
                           for c, _ in messages})
        warnings.warn(
            f"{len(messages)} of the {n_fits} fits of {type(self).__name__} did not "
            f"converge ({'; '.join(settings)}). The first said: {messages[0][1]}",
            ConvergenceWarning, stacklevel=3)

    # -- prediction: the refitted estimator ---------------------------------------------
    def _best(self):
        check_is_fitted(self, "cv_results_")
        if not hasattr(self, "best_estimator_"):
            raise AttributeError(
                f"{type(self).__name__} was fitted with refit=False and keeps no model; "
                "fit it with refit=True to predict.")
        return self.best_estimator_

    def _check_namespace(self, X):
        xp, _ = input_namespace(X, get_config()["array_api_dispatch"])
        if not is_numpy(xp):
            raise TypeError(
                f"{type(self).__name__} takes NumPy arrays and SciPy sparse matrices; X "
                f"is a {xp.__name__} array. Convert it, or search with GridSearchCV over "
                f"{self._estimator_class.__name__}, which takes Array API inputs.")

    def _check_input(self, X):
        """X checked against the data of ``fit`` (its feature names included), for the
        refitted estimator, which was fitted on the validated array."""
        self._best()
        self._check_namespace(X)
        return validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                             reset=False)

    def predict(self, X):
        """Predict with the estimator refitted on all the data at the best setting."""
        return self._best().predict(self._check_input(X))


def _metric_budget(X):
    """Bytes the metrics of fits run side by side may take: a tenth of X, at least
    16 MiB."""
    size = X.data.nbytes if sp.issparse(X) else X.nbytes
    return max(size // 10, 16 * 2**20)


def _footprint(fits):
    """Bytes the metrics of ``fits`` take while they run: for the "full" metric (or the
    gauge of a Euclidean step), the bound's ``(p + 1) x (p + 1)`` matrix and its inverse
    per fold and alpha (shared by the learning rates; one block serves every class), and
    per fit that refits to a cross-entropy's local Hessian, that Hessian's ``K (p + 1)``
    square and inverse; vectors for the others."""
    total, bounds = 0, set()
    for fit in fits:
        estimator, objective = fit.estimator, fit.objective
        name = _curvature.resolve(estimator.preconditioner, objective,
                                  batch_size=estimator.batch_size,
                                  l1=objective.l1_penalty() is not None,
                                  adaptive=estimator.solver == "adam")
        gauge = _curvature.gauged(name, objective, objective.l1_penalty(),
                                  estimator.batch_size)
        if name != "full" and not gauge:
            total += 2 * objective.n_params * 8
            continue
        key = (id(fit.fold), objective.l2_reg_strength)
        if key not in bounds:
            bounds.add(key)
            total += 2 * (objective.n_features + objective.fit_intercept) ** 2 * 8
        refits = (name == "full" and hasattr(objective.loss_function, "local_hessian")
                  and objective.n_params <= _curvature.REFIT_MAX_PARAMS
                  and not (isinstance(estimator.learning_rate, Real)
                           and estimator.learning_rate > 1))
        if refits:
            total += 2 * objective.n_params ** 2 * 8
    return total


def _answer(fits, requests):
    """Answer the requests of ``run_many``: one stacked pass per group of fits on the
    same X, targets and rows."""
    groups = {}
    for position, (index, point, rows) in enumerate(requests):
        objective = fits[index].objective
        key = (id(objective.X), id(objective.y), _rows_key(rows))
        groups.setdefault(key, []).append((position, objective, point, rows))
    answers = [None] * len(requests)
    for members in groups.values():
        rows = members[0][3]
        results = stacked_loss_gradient([objective for _, objective, _, _ in members],
                                        [point for _, _, point, _ in members], rows)
        for (position, _, _, _), result in zip(members, results, strict=True):
            answers[position] = result
    return answers


def _rows_key(rows):
    if rows is None:
        return None
    if isinstance(rows, slice):
        return (rows.start, rows.stop, rows.step)
    return np.asarray(rows).tobytes()


def _product(X, rows, matrix):
    """``X[rows] @ matrix`` without copying the rows of dense X at once: a cache-sized
    block of them at a time."""
    if sp.issparse(X):
        return np.asarray(X[rows] @ matrix)
    step = max(256, BLOCK_BYTES // max(1, X.shape[1] * X.dtype.itemsize))
    return np.concatenate([X[rows[start:start + step]] @ matrix
                           for start in range(0, len(rows), step)])


class GDRegressorCV(RegressorMixin, _BaseGDCV):
    """:class:`GDRegressor` with its learning rate and alpha chosen by cross-validation,
    every fold and setting fitted side by side.

    The search that ``GridSearchCV(GDRegressor(...), {"learning_rate": learning_rates,
    "alpha": alphas}, cv=cv)`` makes, with the same fits and scores, but each epoch's
    passes over X shared by all the fits: one matrix product for all of them instead of
    a matrix-vector product each. A fold's training rows are not copied (mini-batch fits
    excepted): its fits give its test rows zero weight. A setting whose fit diverges is
    recorded, not raised.

    Parameters
    ----------
    learning_rates : list of float or "auto", default=("auto",)
        The learning rates of the grid (each as ``learning_rate`` of GDRegressor).
    alphas : list of float, default=(1e-4, 1e-3, 1e-2, 1e-1)
        The regularisation strengths of the grid (each as ``alpha``).
    cv : int, cross-validation generator or iterable, default=None
        As in ``GridSearchCV``: None is 5-fold (KFold), an int the number of
        folds, or a splitter or an iterable of ``(train, test)`` index arrays.
    scoring : str, callable or None, default=None
        The test score of each fold: None is :meth:`score` (R^2), ``"loss"`` the
        objective on the test rows, negated; else a scikit-learn scorer name or
        callable. With ``early_stopping=True`` the fits score their validation rows by it
        too. Where ``fit`` gets sample weights, the test rows are scored with theirs.
    refit : bool, default=True
        Refit GDRegressor at the best setting on all the data, as ``best_estimator_``,
        which ``predict`` use.
    n_jobs : int, default=None
        Folds fitted at once, in threads (None: 1, -1: all cores). Each thread runs its
        folds' fits side by side; one thread already streams X once per epoch for all.
    **params :
        Every other parameter of GDRegressor (``solver``, ``preconditioner``,
        ``max_iter``, ``tol``, ``batch_size``, ...), used by every fit.

    Attributes
    ----------
    cv_results_ : dict of ndarray
        As ``GridSearchCV``'s (``params``, ``param_alpha``, ``param_learning_rate``,
        ``split{k}_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``, ``mean_fit_time``, ...): ``pandas.DataFrame(cv_results_)``
        works. A fit that diverged scores NaN, and a candidate with such a fold has a NaN
        mean and the last rank, as with ``GridSearchCV(error_score=np.nan)``;
        ``n_diverged`` counts those folds. The fits of a run share their passes over X,
        so each fit time is an equal share of its run's.
    loss_curves_ : list of list of list of float
        ``loss_curves_[i][k]``: the training objective per epoch of candidate ``i`` on fold
        ``k``, up to its divergence for a diverged fit.
    diverged_ : ndarray of bool of shape (n_candidates, n_splits)
        Which fits diverged.
    best_index_, best_params_, best_score_ :
        The candidate with the best mean test score (the first of equals).
    learning_rate_, alpha_ :
        Its learning rate and alpha.
    best_estimator_ : GDRegressor
        Refitted at the best setting on all the data (``refit=True``).
    coef_, intercept_, n_iter_ :
        Those of ``best_estimator_``.
    n_splits_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

    See Also
    --------
    skgd.SearchLossCurveDisplay.from_cv : the loss curves of every candidate.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.preprocessing import scale
    >>> from skgd import GDRegressorCV
    >>> X, y = load_diabetes(return_X_y=True)
    >>> search = GDRegressorCV(alphas=[1e-3, 1e-2, 1e-1]).fit(scale(X), y)
    >>> search.alpha_
    0.001
    >>> round(search.best_score_, 3)
    0.482
    """

    _estimator_class = GDRegressor
    _regression = True

    def __init__(self, *, learning_rates=("auto",), alphas=(1e-4, 1e-3, 1e-2, 1e-1),
                 cv=None, scoring=None, refit=True, n_jobs=None, decay="constant",
                 decay_rate=None, decay_steps=100, warmup_steps=0,
                 decay_per_update=False, power_t=0.25, solver="accelerated",
                 preconditioner="auto", momentum=0.0, nesterov=False, batch_size=None,
                 shuffle=True, random_state=None, average=False, max_iter=1000, tol=1e-5,
                 n_iter_no_change=5, penalty="l2", l1_ratio=0.15, fit_intercept=True,
                 early_stopping=False, validation_fraction=0.1, warm_start=False,
                 verbose=0):
        self.learning_rates = learning_rates
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.decay = decay
        self.decay_rate = decay_rate
        self.decay_steps = decay_steps
        self.warmup_steps = warmup_steps
        self.decay_per_update = decay_per_update
        self.power_t = power_t
        self.solver = solver
        self.preconditioner = preconditioner
        self.momentum = momentum
        self.nesterov = nesterov
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.average = average
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Fit every setting on every fold, then refit the best on all the data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter ``cv``.

        Returns
        -------
        self : GDRegressorCV
        """
        return self._fit(X, y, sample_weight, groups)

    @staticmethod
    def _all_targets(y, classes, dtype):
        return _targets_in(y, dtype)

    @staticmethod
    def _test_targets(fold, y_test):
        return _targets_in(y_test, fold["X"].dtype)


class GDClassifierCV(ClassifierMixin, _BaseGDCV):
    """:class:`GDClassifier` with its learning rate and alpha chosen by cross-validation,
    every fold and setting fitted side by side.

    The search that ``GridSearchCV(GDClassifier(...), {"learning_rate": learning_rates,
    "alpha": alphas}, cv=cv)`` makes, with the same fits and scores, but each epoch's
    passes over X shared by all the fits: one matrix product for all of them instead of
    a matrix-vector product each. A fold's training rows are not copied (mini-batch fits
    excepted): its fits give its test rows zero weight. A setting whose fit diverges is
    recorded, not raised.

    Parameters
    ----------
    learning_rates : list of float or "auto", default=("auto",)
        The learning rates of the grid (each as ``learning_rate`` of GDClassifier).
    alphas : list of float, default=(1e-4, 1e-3, 1e-2, 1e-1)
        The regularisation strengths of the grid (each as ``alpha``).
    cv : int, cross-validation generator or iterable, default=None
        As in ``GridSearchCV``: None is 5-fold (StratifiedKFold), an int the number of
        folds, or a splitter or an iterable of ``(train, test)`` index arrays.
    scoring : str, callable or None, default=None
        The test score of each fold: None is :meth:`score` (accuracy), ``"loss"`` the
        objective on the test rows, negated; else a scikit-learn scorer name or
        callable. With ``early_stopping=True`` the fits score their validation rows by it
        too. Where ``fit`` gets sample weights, the test rows are scored with theirs.
    refit : bool, default=True
        Refit GDClassifier at the best setting on all the data, as ``best_estimator_``,
        which ``predict``, ``predict_proba``, ``predict_log_proba`` and ``decision_function`` use.
    n_jobs : int, default=None
        Folds fitted at once, in threads (None: 1, -1: all cores). Each thread runs its
        folds' fits side by side; one thread already streams X once per epoch for all.
    **params :
        Every other parameter of GDClassifier (``solver``, ``preconditioner``,
        ``max_iter``, ``tol``, ``batch_size``, ...), used by every fit.

    Attributes
    ----------
    cv_results_ : dict of ndarray
        As ``GridSearchCV``'s (``params``, ``param_alpha``, ``param_learning_rate``,
        ``split{k}_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``, ``mean_fit_time``, ...): ``pandas.DataFrame(cv_results_)``
        works. A fit that diverged scores NaN, and a candidate with such a fold has a NaN
        mean and the last rank, as with ``GridSearchCV(error_score=np.nan)``;
        ``n_diverged`` counts those folds. The fits of a run share their passes over X,
        so each fit time is an equal share of its run's.
    loss_curves_ : list of list of list of float
        ``loss_curves_[i][k]``: the training objective per epoch of candidate ``i`` on fold
        ``k``, up to its divergence for a diverged fit.
    diverged_ : ndarray of bool of shape (n_candidates, n_splits)
        Which fits diverged.
    best_index_, best_params_, best_score_ :
        The candidate with the best mean test score (the first of equals).
    learning_rate_, alpha_ :
        Its learning rate and alpha.
    best_estimator_ : GDClassifier
        Refitted at the best setting on all the data (``refit=True``).
    coef_, intercept_, n_iter_ :
        Those of ``best_estimator_``.
    classes_ : ndarray of shape (n_classes,)
    n_splits_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

    See Also
    --------
    skgd.SearchLossCurveDisplay.from_cv : the loss curves of every candidate.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import scale
    >>> from skgd import GDClassifierCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> search = GDClassifierCV(learning_rates=["auto", 30.0], alphas=[1e-3, 1e-2, 1e-1])
    >>> search = search.fit(scale(X), y)
    >>> search.best_params_
    {'alpha': 0.01, 'learning_rate': 'auto'}
    >>> search.cv_results_["n_diverged"].tolist()
    [0, 5, 0, 5, 0, 5]
    >>> round(search.best_score_, 3)
    0.979
    """

    _parameter_constraints: dict = {
        **_BaseGDCV._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }
    _estimator_class = GDClassifier
    _regression = False

    def __init__(self, *, learning_rates=("auto",), alphas=(1e-4, 1e-3, 1e-2, 1e-1),
                 cv=None, scoring=None, refit=True, n_jobs=None, decay="constant",
                 decay_rate=None, decay_steps=100, warmup_steps=0,
                 decay_per_update=False, power_t=0.25, solver="accelerated",
                 preconditioner="auto", momentum=0.0, nesterov=False, batch_size=None,
                 shuffle=True, random_state=None, average=False, max_iter=1000, tol=1e-5,
                 n_iter_no_change=5, penalty="l2", l1_ratio=0.15, fit_intercept=True,
                 early_stopping=False, validation_fraction=0.1, warm_start=False,
                 class_weight=None, verbose=0):
        self.learning_rates = learning_rates
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.decay = decay
        self.decay_rate = decay_rate
        self.decay_steps = decay_steps
        self.warmup_steps = warmup_steps
        self.decay_per_update = decay_per_update
        self.power_t = power_t
        self.solver = solver
        self.preconditioner = preconditioner
        self.momentum = momentum
        self.nesterov = nesterov
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.average = average
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.class_weight = class_weight
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Fit every setting on every fold, then refit the best on all the data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter ``cv``.

        Returns
        -------
        self : GDClassifierCV
        """
        return self._fit(X, y, sample_weight, groups)

    def decision_function(self, X):
        """The refitted estimator's raw predictions."""
        return self._best().decision_function(self._check_input(X))

    def predict_proba(self, X):
        """The refitted estimator's class probabilities."""
        return self._best().predict_proba(self._check_input(X))

    def predict_log_proba(self, X):
        """The refitted estimator's log-probabilities."""
        return self._best().predict_log_proba(self._check_input(X))

    @staticmethod
    def _all_targets(y, classes, dtype):
        """Class indices of all rows among a fold's training classes (0 for a class the
        fold's training rows lack: such rows are test rows, of weight 0)."""
        index = _class_index(classes, y)
        index[index < 0] = 0
        return index.astype(dtype) if len(classes) == 2 else index

    @staticmethod
    def _test_targets(fold, y_test):
        # A test label the training rows lack is -1: no prediction matches it.
        return _class_index(fold["classes"], y_test)


def _class_index(classes, y):
    index = np.searchsorted(classes, y)
    known = index < len(classes)
    known[known] = classes[index[known]] == y[known]
    return np.where(known, index, -1)
