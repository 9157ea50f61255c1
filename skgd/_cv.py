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

A search of the regularisation alone runs each fold's alphas as a path instead, where that
was measured to pay (:meth:`_BaseGDCV._follows_path`), from the largest to the smallest, each
fit the estimator's warm start from the solution before (:class:`_Path`): it stops on the
same optimality as a fit from zero, so it ends where that fit ends, to within ``tol``, in
fewer epochs. The paths of all folds advance side by side, so their passes are still
shared.
"""

from __future__ import annotations

import inspect
import math
import os
import time
import warnings
from collections.abc import Sequence
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import UNUSED, MetadataRouter, MethodMapping
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from . import _curvature, _updates
from ._array_api import input_namespace, is_numpy
from ._curvature import BLOCK_BYTES
from ._engine import DivergenceError, run_many
from ._estimators import (
    GDClassifier,
    GDRegressor,
    _BaseGD,
    _CallbackReport,
    _CallbackSupport,
    _check_dense_y,
    _check_labels,
    _check_weight_sum,
    _intercept_shift,
    _is_dask,
    _ParamNamesOnce,
    _take_rows,
    _targets_in,
)
from ._typing import (
    ArrayLike,
    ClassWeight,
    Decay,
    LearningRate,
    MatrixLike,
    Penalty,
    Preconditioner,
    RandomState,
    Scoring,
    Solver,
)
from ._validation import _unit_scale, validated
from .losses import LinearObjective, side_by_side, stacked_loss_gradient

if TYPE_CHECKING:
    from typing_extensions import Self

# The estimator's parameters that the grid replaces.
_GRID = ("alpha", "learning_rate")


class _ScorerView(NamedTuple):
    """The data as ``fit`` was given them, and how the fits' data differ from them, for
    a ``scoring`` that is not the built-in one: it sees each fold's rows as given and a
    model of them, as ``GridSearchCV``'s scorer sees its fold's estimator (it may read X
    or predict other rows), not the fits' X without its empty columns and with its far
    columns centred, nor least squares' centred targets."""

    X: Any
    y: Any
    # X validated, of the columns the fits kept (None: all), and centred_far_off's
    # offsets (or None).
    X_kept: Any
    columns: Any
    offsets: Any
    # Whether the scorer takes the test rows' sample_weight.
    weighted: bool
    n_features_in: int
    feature_names_in: Any

    def given(self, estimator):
        """``estimator``, a fit of the fits' data, made a model of the data as given."""
        if self.offsets is not None:
            estimator._uncentre(*self.offsets)
        estimator.n_features_in_ = self.n_features_in
        if self.columns is not None:
            estimator._widen(self.columns)
        if self.feature_names_in is not None:
            estimator.feature_names_in_ = self.feature_names_in
        return estimator


def _takes_sample_weight(scorer):
    """Whether ``scorer`` (a callable, or scikit-learn's scorer object) accepts a
    ``sample_weight`` keyword."""
    try:
        parameters = inspect.signature(scorer).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(parameter.name == "sample_weight" or parameter.kind is parameter.VAR_KEYWORD
               for parameter in parameters)


def _number(score, scoring):
    """A scorer's score as a float, or a clear error where it returned something else
    (as GridSearchCV's)."""
    if isinstance(score, np.ndarray) and score.ndim == 0:
        score = score[()]
    if isinstance(score, Real):
        return float(score)
    raise ValueError(f"scoring={scoring!r} must return a number, got {score!r} "
                     f"({type(score).__name__}) instead.")


class _FoldFit:
    """One (setting, fold) fit: the estimator that runs it and where it stands."""

    def __init__(self, estimator, fold, candidate):
        self.estimator, self.fold, self.candidate = estimator, fold, candidate
        self.objective = None
        self.outcome = None
        self.message = None
        self.seconds = 0.0
        # The alpha whose solution it started from, on a path (None: from zero).
        self.start = None


def _alphas_alone(fits):
    """Whether a fold's ``fits`` (one per candidate) search the regularisation alone, with
    a stopping rule to reach sooner: full-batch fits at ``learning_rate="auto"`` with a
    ``tol``."""
    first = fits[0]
    return (first.fold["masked"] and first.estimator.tol is not None
            and all(fit.estimator.learning_rate == "auto" for fit in fits))


class _Path:
    """Fits of one fold run one after another, each from where the one before it ended:
    a regularisation path, as ``LogisticRegressionCV`` and glmnet take it (a fit alone
    is a path of one, from zero).

    Its descents are one generator for :func:`~skgd._engine.run_many`, so that the paths
    of all folds advance side by side and their requests share passes over X. Each fit
    after the first is the estimator's own warm start (``warm_start=True``, as if it had
    just been fitted at the alpha before, but with a schedule of its own; L-BFGS starts
    in the curvature it last refitted to there, see :func:`skgd._curvature.rebased`), whose
    optimality is measured against the origin as a fit from zero measures it: a fit that
    converges is the fit from zero to within ``tol``. After a fit that diverges, the next
    one starts from zero.
    """

    def __init__(self, fits):
        self.fits = fits
        self.fit = fits[0]

    @property
    def objective(self):
        """The objective of the fit running now (what :func:`_answer` answers for)."""
        return self.fit.objective

    def descents(self, tasks):
        state = alpha = carry = None
        for fit in self.fits:
            self.fit = fit
            tasks.begin_fit(fit)
            estimator = fit.estimator
            if state is not None:
                fit.start = alpha
                estimator.warm_start = True
                estimator._engine_state = state
            descent, finish = estimator._plan(
                fit.objective, None, check_random_state(estimator.random_state),
                _CallbackReport(estimator, None, fit.objective.X, fit.objective.y, None),
                partial=False, resume=False, carry=carry)
            try:
                fit.outcome = yield from descent
            except DivergenceError as error:
                fit.outcome, state, carry = error, None, None
            else:
                # The curvature L-BFGS last refitted to, near this solution: the next
                # fit's first steps take it (see skgd._curvature.rebased).
                carry = getattr(fit.outcome.state.rule_state, "metric", None)
                fit.message = finish(fit.outcome)
                # What partial_fit would continue in; a fold's fit has no partial_fit.
                del estimator._metric
                # The next fit starts from this solution, with a schedule of its own.
                state = fit.outcome.state._replace(epoch=0, n_updates=0, n_plateaus=0)
                alpha = estimator.alpha
            tasks.end_fit(fit)


class _SearchTasks:
    """The search as scikit-learn's callbacks see it, the tasks of ``GridSearchCV``: the
    fit, its ``"search"`` with one ``"candidate-split-evaluation"`` per (setting, fold),
    numbered in GridSearchCV's order (candidate, then fold), and the
    ``"refit-with-best-params"``, whose epochs are the refitted estimator's own tasks.

    The fits run side by side, a group at a time: each one's task begins and ends with
    its descent (on a regularisation path, after the fit before it). A callback cannot
    stop one of them; it can stop the refit.
    """

    def __init__(self, search, context, n_candidates, n_splits, X, y, sample_weight):
        # Without scikit-learn's callback API (< 1.9) there is no context.
        self.search, self.root = search, context
        self.data = {"X": X, "y": y, "metadata": None if sample_weight is None
                     else {"sample_weight": sample_weight}}
        self.fits = {}
        if context is None:
            return
        context.call_on_fit_task_begin(estimator=search, **self.data)
        self.search_context = context.subcontext(
            task_name="search", max_subtasks=n_candidates * n_splits,
            sequential_subtasks=False).call_on_fit_task_begin(estimator=search)
        # Made ahead, in this thread: the folds' threads only call their hooks.
        self.fits = {(i, k): self.search_context.subcontext(
            task_name="candidate-split-evaluation", task_id=i * n_splits + k)
            for i in range(n_candidates) for k in range(n_splits)}

    def begin_fit(self, fit):
        if self.fits:
            self.fits[fit.candidate, fit.fold["index"]].call_on_fit_task_begin(
                estimator=self.search)

    def end_fit(self, fit):
        if self.fits:
            self.fits[fit.candidate, fit.fold["index"]].call_on_fit_task_end(
                estimator=self.search)

    def refit(self, estimator, X, y, fit_params):
        if self.root is None:
            estimator.fit(X, y, **fit_params)
            return
        self.search_context.call_on_fit_task_end(estimator=self.search)
        context = self.root.subcontext(task_name="refit-with-best-params")
        with context.propagate_callback_context(estimator):
            context.call_on_fit_task_begin(estimator=self.search, **self.data)
            estimator.fit(X, y, **fit_params)
        context.call_on_fit_task_end(estimator=self.search, **self.data)

    def end(self, refitted):
        if self.root is None:
            return
        if not refitted:
            self.search_context.call_on_fit_task_end(estimator=self.search)
        # The search is fitted by now: nothing to reconstruct.
        self.root.call_on_fit_task_end(estimator=self.search, **self.data,
                                       reconstruction_attributes={})


def _refitted(self):
    """``available_if`` of the prediction methods: only a search with ``refit=True``
    has them, as ``GridSearchCV``'s."""
    if not self.refit:
        raise AttributeError(
            f"This {type(self).__name__} was made with refit=False and keeps no model: "
            "fit it with refit=True to predict, or fit the estimator at best_params_.")
    return True


class _BaseGDCV(_ParamNamesOnce, _CallbackSupport, BaseEstimator):
    """The search shared by both CV estimators."""

    # groups goes to the splitter, as in LogisticRegressionCV: see get_metadata_routing.
    __metadata_request__fit = {"groups": UNUSED}

    _parameter_constraints: dict = {
        **{name: rule for name, rule in _BaseGD._parameter_constraints.items()
           if name not in _GRID},
        "learning_rates": ["array-like"],
        "alphas": ["array-like", Interval(Integral, 1, None, closed="left")],
        "cv": ["cv_object"],
        "refit": ["boolean"],
        "n_jobs": [Integral, None],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def get_metadata_routing(self):
        """Metadata routing of this search: ``sample_weight`` is requested as a single
        estimator requests it (``set_fit_request``), and ``groups`` goes to the ``cv``
        splitter that asks for it, without a request, as in ``LogisticRegressionCV``.

        Returns
        -------
        routing : MetadataRouter
        """
        return (MetadataRouter(owner=self).add_self_request(self)
                .add(splitter=check_cv(self.cv, classifier=not self._regression),
                     method_mapping=MethodMapping().add(caller="fit", callee="split")))

    # -- the grid ---------------------------------------------------------------------
    def _estimator(self):
        """The estimator each fit is a copy of (its learning rate and alpha set per
        candidate)."""
        params = {name: getattr(self, name) for name in self._estimator_class().get_params()
                  if name not in _GRID}
        return self._estimator_class(**params)

    def _candidates(self, alphas):
        """The grid of ``alphas`` (a list) and the learning rates, in GridSearchCV's order
        (alpha, then learning_rate fastest)."""
        rates = list(self.learning_rates)
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
        # Made before the snapshot, as in _BaseGD._fit: a rollback keeps what
        # scikit-learn needs to tear the callbacks down as the fit exits.
        context = self._init_callback_context(task_name="fit",
                                              max_subtasks=1 + bool(self.refit))
        # A search that raises must leave a fitted model exactly as it was; validate_data
        # sets n_features_in_ (and feature_names_in_) before anything else can fail.
        saved = dict(self.__dict__)
        try:
            # One BLAS thread throughout, as the single estimators' fits (see there).
            with _curvature.one_blas_thread():
                return self._fit_unsafe(X, y, sample_weight, groups, context)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fit_unsafe(self, X, y, sample_weight, groups, context):
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
        if self.scoring not in (None, "loss"):
            # An unknown scorer name is reported now, not after the whole search.
            check_scoring(base, scoring=self.scoring)
        # A grid given as a list is checked before the data are read; alphas=n is made
        # from them.
        alphas = None if isinstance(self.alphas, Integral) else list(self.alphas)
        if alphas is not None:
            self._candidates(alphas)
        self._check_namespace(X)
        # The refit takes X as it came, so that best_estimator_ keeps its feature names.
        X_input = X
        X, y = validated(self, X, y, dtype=[np.float64, np.float32], reset=True,
                         multi_output=self._regression, y_numeric=self._regression)
        if not self._regression:
            _check_labels(y)
        if base.preconditioner == "auto" and base.batch_size is None:
            # As the estimator's fit: wide dense X of mostly zeros descends as CSR.
            X = _curvature.sparse_where_it_pays(X)
        # The fits and their scores need no empty column (see the estimator's fit); the
        # refit and the callbacks take X whole.
        X_whole = X
        X, columns = _curvature.without_empty_columns(X)
        X_kept = X
        sample_weight = _unit_scale(base._host_sample_weight(sample_weight, X.shape[0],
                                                             X.dtype))
        # The whole data's classes and weights, checked before any fold's (see _fold).
        whole = clone(base)
        whole_weight = whole._encode_targets(y, sample_weight, False, None, False)[2]
        _check_weight_sum(whole_weight, getattr(whole, "class_weight", None))
        offsets, y_fit = None, y
        if base.fit_intercept and not (base.average or base.solver == "adam"):
            # As in the estimator's fit, X's columns far off zero are centred (see
            # skgd._curvature.centred_far_off), and least squares' targets: the same
            # models, their intercepts aside, hence the same scores (and the grid's
            # alpha_max, whose X^T r summed terms of the column's size that cancel: 1.65
            # where it is 0.43 with a column of 1e6 and targets of 1e11). A scorer sees
            # the data and models as given (see _ScorerView).
            X, targets, offsets = _curvature.centred_far_off(
                X, y.astype(np.float64, copy=False) if self._regression else None)
            y_fit = targets if self._regression else y
        cv = check_cv(self.cv, y, classifier=not self._regression)
        splits = _check_splits(list(cv.split(X_input, y, groups)), X.shape[0])
        n_splits = len(splits)
        view = self._scorer_view(X_input, y, X_kept, columns, offsets,
                                 not np.all(sample_weight == 1))
        targets = {}
        whole_weight = whole_weight.astype(X.dtype, copy=False)
        grams = _curvature.FoldGrams(X, None if np.all(whole_weight == 1) else whole_weight,
                                     base.fit_intercept)
        folds = [self._fold(k, base, X, y_fit, sample_weight, train, test, targets,
                            (grams, whole_weight))
                 for k, (train, test) in enumerate(splits)]
        # The grid after the folds' checks: theirs name what is wrong with the data (a
        # fold of one class), where the grid's would say only that its top is 0.
        if alphas is None:
            alphas = _alpha_grid(base, X, y_fit, sample_weight, self.alphas)
        candidates = self._candidates(alphas)
        weighted = not np.all(sample_weight == 1)
        tasks = _SearchTasks(self, context, len(candidates), n_splits, X_whole, y,
                             sample_weight if weighted else None)
        if self.verbose:
            print(f"{name}: fitting {n_splits} folds for each of {len(candidates)} "
                  f"candidates, totalling {n_splits * len(candidates)} fits, side by side")
        chunks = np.array_split(np.arange(n_splits), min(n_splits, self._n_jobs()))
        # Threads that each call a BLAS using every core would fight over the cores:
        # they share them instead.
        blas_threads = max(1, (os.cpu_count() or 1) // len(chunks))
        with threadpool_limits(limits=None if len(chunks) == 1 else blas_threads,
                               user_api="blas"):
            runs = Parallel(n_jobs=len(chunks), prefer="threads")(
                delayed(self._search)(base, candidates, [folds[k] for k in chunk], tasks)
                for chunk in chunks)
        # A run's fits share its passes: each is given an equal share of its time.
        fits = []
        for run_fits, seconds in runs:
            for fit in run_fits:
                fit.seconds = seconds / len(run_fits)
            fits += run_fits

        results, curves, diverged, messages = self._results(candidates, folds, fits, X,
                                                            y_fit, sample_weight, view)
        if self.verbose:
            self._report(candidates, fits, results)
        self._warn(messages, len(fits))
        self._warn_diverged(candidates, diverged, fits)
        if not np.all(np.isfinite(results["mean_test_score"])):
            # GridSearchCV's warning, after the one that says why.
            warnings.warn("One or more of the test scores are non-finite: "
                          f"{results['mean_test_score']}", UserWarning, stacklevel=3)
        best = int(np.argmin(results["rank_test_score"]))
        best_params = candidates[best]
        best_estimator = None
        if self.refit:
            best_estimator = clone(base).set_params(**best_params)
            if self.verbose:
                print(f"{name}: refitting {single}({_setting(best_params)}) on all "
                      f"{X.shape[0]} rows")
            tasks.refit(best_estimator, X_input, y,
                        {"sample_weight": sample_weight} if weighted else {})
        tasks.end(refitted=best_estimator is not None)
        # Stored only now: a search that raises leaves a fitted model as it was.
        self.cv_results_ = results
        self.loss_curves_ = curves
        self.diverged_ = diverged
        self.alphas_ = np.asarray(alphas, dtype=float)
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

    def _fold(self, index, base, X, y, sample_weight, train, test, targets, grams):
        """The data of one fold's fits: the targets and training weights over all rows of
        X (zero on the test rows; see the module docstring), or, for mini-batches, the
        training rows themselves. ``targets`` keeps the encoded targets of all rows, one
        array for all folds that encode them alike (so that their fits share passes);
        ``grams``: ``(FoldGrams, weights)`` of the whole data, whose Gram matrix serves
        the folds that weight their training rows as it does."""
        encoder = clone(base)
        try:
            loss, y_train, weight_train = encoder._encode_targets(
                y[train], sample_weight[train], False, None, False)
            _check_weight_sum(weight_train, getattr(encoder, "class_weight", None))
        except ValueError as error:
            # The whole data passed these checks (_fit_unsafe): the split is at fault.
            raise ValueError(
                f"{type(self).__name__}: the {len(train)} training rows of cv fold "
                f"{index} cannot be fitted: {error} Use a cv whose training folds hold "
                + ("" if self._regression else "every class and ")
                + "rows of positive weight (fewer splits"
                + ("" if self._regression else ", a stratified splitter")
                + "), or give more rows a positive weight.") from error
        if len(test) and not np.sum(sample_weight[test]) > 0:
            # Their scores would divide by a zero weight (a bare ZeroDivisionError).
            raise ValueError(
                f"{type(self).__name__}: the {len(test)} test rows of cv fold {index} all "
                "have zero sample_weight, so the fold cannot be scored. Use a cv whose "
                "test folds hold rows of positive weight (shuffled or fewer splits), or "
                "give more rows a positive weight.")
        fold = {"index": index, "train": train, "test": test, "loss": loss, "shared": {},
                "classes": getattr(encoder, "classes_", None),
                "masked": base.batch_size is None or base.batch_size >= len(train)}
        if not fold["masked"]:
            fold["X"] = _take_rows(X, train)
            fold["y"] = y_train
            fold["weight"] = None if np.all(weight_train == 1) else weight_train
            return fold
        weight = np.zeros(X.shape[0], dtype=X.dtype)
        # A row the training indices repeat counts as often (as in GridSearchCV's copy).
        np.add.at(weight, train, weight_train)
        fold["X"], fold["weight"] = X, weight
        fold_grams, whole_weight = grams
        if np.array_equal(weight[train], whole_weight[train]):
            # Not where the weights are the fold's own (balanced classes).
            fold["shared"]["fold_grams"] = fold_grams
        key = None if fold["classes"] is None else tuple(fold["classes"].tolist())
        if key not in targets:
            targets[key] = self._all_targets(y, fold["classes"], y_train.dtype)
        fold["y"] = targets[key]
        return fold

    def _search(self, base, candidates, folds, tasks):
        """Fit every candidate on ``folds`` side by side; return the fits and the time.

        Each fold's fits follow a regularisation path where :meth:`_follows_path` says
        so (see :class:`_Path`); otherwise every fit is a path of its own, from zero. The
        paths run in groups whose
        metrics (a ``p x p`` factorisation each, with the default preconditioner, and
        the local Hessian's for a cross-entropy) fit in :func:`_metric_budget`: side by
        side, many would take more memory than X.
        """
        start = time.perf_counter()
        fits, paths = [], []
        for fold in folds:
            fold_fits = []
            for index, candidate in enumerate(candidates):
                # The search reports its fits itself (see _report): labelled, in order.
                estimator = clone(base).set_params(**candidate, verbose=0)
                if fold["masked"] and estimator.batch_size is not None:
                    # A batch as large as the fold's training rows: its own fit would be
                    # full-batch, without averaging.
                    estimator.set_params(batch_size=None, average=False)
                if fold["classes"] is not None:
                    estimator.classes_ = fold["classes"]
                alpha, l1_ratio = estimator._penalty()
                fit = _FoldFit(estimator, fold, index)
                fit.objective = LinearObjective(
                    fold["loss"], fold["X"], fold["y"], fold["weight"], alpha=alpha,
                    l1_ratio=l1_ratio, fit_intercept=estimator.fit_intercept,
                    shared=fold["shared"])
                fold_fits.append(fit)
            fits += fold_fits
            if self._follows_path(fold_fits):
                # From the largest alpha to the smallest (the first of equals first).
                paths.append(_Path(sorted(fold_fits,
                                          key=lambda fit: -fit.estimator._penalty()[0])))
            else:
                paths += [_Path([fit]) for fit in fold_fits]
        budget = _metric_budget(folds[0]["X"])
        group, origins = [], {}
        for path in paths:
            if group and _footprint(group + [path]) > budget:
                self._run_group(group, tasks, origins)
                group = []
            group.append(path)
        self._run_group(group, tasks, origins)
        return fits, time.perf_counter() - start

    @staticmethod
    def _follows_path(fits):
        """Whether a fold's ``fits`` (one per candidate) run as a regularisation path.

        Only in a search of the regularisation alone (:func:`_alphas_alone`): learning
        rates are compared fit for fit from zero, as GridSearchCV fits them (a rate that
        crawls or diverges there is what such a search shows). And only where a warm
        start was measured to pay for the width it costs: a path runs a fold's alphas one
        after another, each round of passes serving its folds' fits, not every (fold,
        alpha) pair at once (``benchmarks/cv.py`` times both). That is where L-BFGS
        refits its metric to the blocks of a softmax's Hessian, one class each, and
        learns their coupling over tens of epochs: a fit from the previous solution took
        0.7-0.8 of the epochs and the path 0.8 of the time (the digits, 5 classes on
        60 000 rows; on the digits 0.55x the epochs and 0.66-0.74x the time once the warm
        fits start in the curvature refitted before, see :func:`_curvature.rebased`).
        Where the refitted metric is the whole Hessian (one output, or a softmax small
        enough), Newton's steps finish a fit from zero in a few epochs and
        the path took 1.0-1.2 the time; with the bound kept (the accelerated gradient,
        least squares solved in one step) 0.9-1.5.
        """
        metric = _metric_of(fits[0])
        return _alphas_alone(fits) and metric.refits and not metric.exact

    @staticmethod
    def _run_group(paths, tasks, origins):
        """Run the descents of ``paths`` side by side (``origins``: see :func:`_answer`)."""
        run_many([path.descents(tasks) for path in paths],
                 lambda requests: _answer(paths, requests, origins))

    def _results(self, candidates, folds, fits, X, y, sample_weight, view):
        """``cv_results_`` in GridSearchCV's layout, the loss curves and the messages of
        the fits that did not converge."""
        n_candidates, n_splits = len(candidates), len(folds)
        scores = np.full((n_candidates, n_splits), np.nan)
        score_times = np.zeros((n_candidates, n_splits))
        fit_times = np.zeros((n_candidates, n_splits))
        curves = [[None] * n_splits for _ in range(n_candidates)]
        diverged = np.zeros((n_candidates, n_splits), dtype=bool)
        messages, failures = [], []
        for k, fold in enumerate(folds):
            fold_fits = [fit for fit in fits if fit.fold is fold]
            start = time.perf_counter()
            fold_scores = self._score(fold, fold_fits, X, y, sample_weight, view, failures)
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
            rates = list(self.learning_rates)
            raise DivergenceError(
                f"All the {diverged.size} fits of {type(self).__name__} diverged: every "
                f"learning rate in learning_rates={rates!r} is too large for this data"
                + (" and these settings (a decay that raises the rate, the momentum): "
                   "add smaller float rates, or check the decay and momentum."
                   if "auto" in rates else ". Add smaller rates, or 'auto'."))
        self._check_scoring_failures(failures, np.count_nonzero(~diverged))
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
        results["rank_test_score"] = _rank(scores)
        results["n_diverged"] = diverged.sum(axis=1)
        return results, curves, diverged, messages

    def _score(self, fold, fits, X, y, sample_weight, view, failures):
        """The test score of each fit of a fold (NaN for a diverged one, and for one whose
        ``scoring`` raised: its error is added to ``failures``).

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
            # a block's size. Of X and y as given, with the intercepts of X as given (the
            # estimator's predictions, as rounded in float32), and R^2 of the targets as
            # given, not cast to float32 X's dtype (as RegressorMixin.score computes it).
            width = fitted[0][1].objective.n_outputs
            y_test = view.y[test] if self._regression else self._test_targets(fold,
                                                                              y[test])
            step = max(1, BLOCK_BYTES // (len(test) * width * 8))
            for start in range(0, len(fitted), step):
                chunk = fitted[start:start + step]
                objectives = [fit.objective for _, fit in chunk]
                coef, intercept = side_by_side(objectives,
                                               [fit.outcome.params for _, fit in chunk])
                if view.offsets is not None:
                    x_offset, y_offset = view.offsets
                    shift = _intercept_shift(coef.T, x_offset, np.tile(
                        np.broadcast_to(np.reshape(y_offset, -1), (width,)), len(chunk)))
                    intercept = intercept + shift.astype(intercept.dtype)
                raw = _product(view.X_kept, test, coef) + intercept
                for position, (j, fit) in enumerate(chunk):
                    columns = raw[:, position * width:(position + 1) * width]
                    scores[j] = float(fit.estimator._score_raw(
                        columns[:, 0] if fit.objective.loss_function.raw_ndim == 1
                        else columns, y_test, weight))
            return scores
        if self.scoring == "loss":
            X_test = _take_rows(X, test)
            y_test = self._test_targets(fold, y[test])
            if not self._regression and np.any((y_test < 0) if weight is None
                                               else (y_test < 0) & (weight > 0)):
                # A test label the fold's training rows lack has no loss under its fits
                # (as an index, -1 would score another class's, or a negative one): NaN,
                # as GridSearchCV(error_score=np.nan) scores the log loss there.
                return scores
            for j, fit in fitted:
                alpha, l1_ratio = fit.estimator._penalty()
                held_out = LinearObjective(fold["loss"], X_test, y_test, weight, alpha=alpha,
                                           l1_ratio=l1_ratio,
                                           fit_intercept=fit.estimator.fit_intercept)
                l1 = held_out.l1_penalty()
                w = fit.outcome.params
                scores[j] = -(held_out.loss(w) + (0.0 if l1 is None else float(l1.value(w))))
            return scores
        # As GridSearchCV's scorer: the rows as given, and each fit as an estimator of
        # them.
        X_test, y_test = _safe_indexing(view.X, test), _safe_indexing(view.y, test)
        metadata = {} if weight is None or not view.weighted else {"sample_weight": weight}
        for j, fit in fitted:
            estimator = view.given(fit.estimator)
            try:
                score = check_scoring(estimator, scoring=self.scoring)(
                    estimator, X_test, y_test, **metadata)
            except Exception as error:  # noqa: BLE001 (GridSearchCV(error_score=nan)'s)
                failures.append((fold["index"], estimator, error))
                continue
            scores[j] = _number(score, self.scoring)
        return scores

    def _check_scoring_failures(self, failures, n_fitted):
        """Score NaN the fits whose ``scoring`` raised, with a warning, as
        ``GridSearchCV(error_score=np.nan)`` does (a fold of one class under the log
        loss); where it raised on every fit, it cannot score this problem: raise."""
        if not failures:
            return
        index, estimator, error = failures[0]
        if len(failures) == n_fitted:
            # As in the estimator's early stopping: a named scorer that needs a method
            # the estimator lacks raises AttributeError, one that does not fit the task
            # a ValueError; a callable's other errors are its own, and stay as they are.
            if isinstance(error, ValueError) or (isinstance(self.scoring, str)
                                                 and isinstance(error, AttributeError)):
                raise ValueError(estimator._unusable_scoring(
                    error, data="test rows of every cv fold",
                    prefix=type(self).__name__)) from error
            raise error
        warnings.warn(
            f"{type(self).__name__}: scoring={self.scoring!r} failed on {len(failures)} of "
            f"the {n_fitted} fits that did not diverge; their test scores are NaN, as "
            f"GridSearchCV(error_score=np.nan) sets them. The first, on cv fold {index}, "
            f"said: {type(error).__name__}: {error}", UserWarning, stacklevel=4)

    def _scorer_view(self, X, y, X_kept, columns, offsets, weighted):
        """What ``scoring`` sees (see :class:`_ScorerView`); warns where it cannot take
        the sample weights."""
        takes = True
        if weighted and self.scoring not in (None, "loss"):
            takes = _takes_sample_weight(check_scoring(self._estimator(),
                                                       scoring=self.scoring))
            if not takes:
                warnings.warn(
                    f"{type(self).__name__}: scoring={self.scoring!r} takes no "
                    "sample_weight argument: the test rows are scored unweighted (as "
                    "GridSearchCV scores them). Accept sample_weight in the scorer to "
                    "weigh them.", UserWarning, stacklevel=4)
        return _ScorerView(X, y, X_kept, columns, offsets, takes,
                           self.n_features_in_, getattr(self, "feature_names_in_", None))

    def _warn(self, messages, n_fits):
        if not messages:
            return
        settings = sorted({f"learning_rate={c['learning_rate']!r}, alpha={c['alpha']!r}"
                           for c, _ in messages})
        warnings.warn(
            f"{len(messages)} of the {n_fits} fits of {type(self).__name__} did not "
            f"converge ({'; '.join(settings)}). The first said: {messages[0][1]}",
            ConvergenceWarning, stacklevel=3)

    def _report(self, candidates, fits, results):
        """``verbose``: a line per fit, labelled by fold and setting as GridSearchCV's."""
        n_candidates, n_splits = len(candidates), len(fits) // len(candidates)
        for fit in sorted(fits, key=lambda fit: (fit.fold["index"], fit.candidate)):
            k, i = fit.fold["index"], fit.candidate
            if isinstance(fit.outcome, Exception):
                how = f"diverged after {len(fit.outcome.loss_curve)} epochs"
            else:
                how = (f"{fit.estimator.n_iter_} epochs"
                       + ("" if fit.start is None
                          else f" from the solution at alpha={fit.start!r}")
                       + (", not converged" if fit.message else ", converged")
                       + f", objective {fit.estimator.loss_curve_[-1]:.6g}")
            score = results[f"split{k}_test_score"][i]
            print(f"[CV {k + 1}/{n_splits}; {i + 1}/{n_candidates}] "
                  f"{_setting(candidates[i])}: {how}; score={score:.3f}")

    def _warn_diverged(self, candidates, diverged, fits):
        """One warning naming the settings that diverged and on how many folds, as
        ``GridSearchCV`` warns of the fits that failed."""
        if not diverged.any():
            return
        n_splits = diverged.shape[1]
        settings = "; ".join(
            f"learning_rate={candidate['learning_rate']!r}, alpha={candidate['alpha']!r} "
            f"on {count} of {n_splits} folds"
            for candidate, count in zip(candidates, diverged.sum(axis=1), strict=True)
            if count)
        first = next(fit.outcome for fit in fits if isinstance(fit.outcome, Exception))
        warnings.warn(
            f"{int(diverged.sum())} of the {diverged.size} fits of {type(self).__name__} "
            f"diverged and scored NaN ({settings}); cv_results_['n_diverged'] counts "
            f"them. The first said: {first}", FitFailedWarning, stacklevel=3)

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
        """X checked against the data of ``fit`` (its feature names included); the
        refitted estimator, fitted on X as it came, takes it as it comes."""
        self._best()
        self._check_namespace(X)
        with warnings.catch_warnings():
            # The refitted estimator warns of X's feature names, once (as
            # GridSearchCV's best_estimator_ does).
            warnings.filterwarnings("ignore", message="X (does not have valid|has) feature "
                                    "names", category=UserWarning)
            validated(self, X, dtype=[np.float64, np.float32], reset=False)
        return X

    @available_if(_refitted)
    def predict(self, X: MatrixLike) -> Any:
        """Predict with the estimator refitted on all the data at the best setting."""
        return self._best().predict(self._check_input(X))


# alphas=n spans this many times down from the alpha at which the solution is zero:
# glmnet's lambda.min.ratio where there are more rows than columns.
_ALPHA_SPAN = 1e-4


def _alpha_grid(base, X, y, sample_weight, n_alphas):
    """``n_alphas`` alphas, log-spaced from ``alpha_max`` down to ``_ALPHA_SPAN`` times it.

    ``alpha_max = max_j |dF/dW_j| / l1_ratio`` on all the rows, at zero coefficients and
    the intercepts that are then optimal: the smallest alpha at which the L1 penalty's
    solution is zero (the elastic net's too, whose L2 part has no gradient there). An
    L2 penalty's solution is zero only in the limit; its grid starts at the same place
    (``l1_ratio`` counted as 1), where it is already strongly shrunk.

    At the intercepts' optimum the derivative of the loss with respect to the raw
    prediction is its derivative at zero less the weighted mean of that (for these
    losses, whose links are canonical, ``mu - y`` with ``mu`` the weighted mean of the
    targets): no fit is needed.
    """
    loss, targets, weight = clone(base)._encode_targets(y, sample_weight, False, None,
                                                        False)
    raw = np.zeros((X.shape[0], loss.n_outputs) if loss.raw_ndim == 2 else X.shape[0],
                   dtype=X.dtype)
    _, residual = loss.loss_gradient(targets, raw)
    residual = residual.reshape(X.shape[0], -1)
    total = float(weight.sum())
    if base.fit_intercept:
        residual = residual - weight @ residual / total
    grad = np.asarray(X.T @ (weight[:, None] * residual)) / total
    _, l1_ratio = base._penalty()
    alpha_max = float(np.max(np.abs(grad))) / (l1_ratio or 1.0)
    if not alpha_max > 0:
        raise ValueError(
            f"alphas={n_alphas} spreads a grid below the alpha at which the solution is "
            "zero, but the gradient at zero is 0 here (the targets are constant, the rows "
            "of positive weight all of one class, or X is zero): every alpha gives the "
            "same fit. Pass alphas as a list.")
    return [float(alpha) for alpha in np.geomspace(alpha_max, alpha_max * _ALPHA_SPAN,
                                                   n_alphas)]


def _check_splits(splits, n_samples):
    """The ``(train, test)`` row indices of ``cv``'s folds (a boolean mask as the rows
    it selects: the passes read a fold's rows in blocks of indices).

    Raise where ``cv`` gave no fold, or a fold whose training or test rows are none
    (nothing to fit, or nothing to score: GridSearchCV scores such a fold NaN, or fails
    on it) or are not rows of X: indices that are not integers (nor a boolean mask of
    the rows), or beyond the last row."""
    if not splits:
        raise ValueError("cv gave no folds: pass a splitter, a number of folds (e.g. "
                         "cv=5) or an iterable of (train, test) index arrays.")
    for k, (train, test) in enumerate(splits):
        for rows, name in ((train, "training"), (test, "test")):
            rows = np.asarray(rows)
            mask = rows.dtype == bool
            if rows.size == 0 or (mask and len(rows) == n_samples and not rows.any()):
                raise ValueError(
                    f"cv gave fold {k} no {name} rows: each fold needs at least one "
                    "training and one test row. Check the splitter or the custom folds "
                    "passed as cv.")
            if rows.ndim != 1 or not (mask or rows.dtype.kind in "iu"):
                fault = f"an array of dtype {rows.dtype} and shape {rows.shape}"
            elif mask and len(rows) != n_samples:
                fault = f"a boolean mask of {len(rows)} rows"
            elif not mask and rows.size and not (
                    -n_samples <= int(rows.min()) and int(rows.max()) < n_samples):
                fault = f"indices from {int(rows.min())} to {int(rows.max())}"
            else:
                fault = None
            if fault is not None:
                raise ValueError(
                    f"cv gave fold {k} {name} rows that are not rows of X: {fault}, where "
                    f"X has {n_samples} rows. Each fold needs integer indices below "
                    f"{n_samples} or a boolean mask of {n_samples}; check the splitter "
                    "or the custom folds passed as cv.")
    return [tuple(np.flatnonzero(rows) if np.asarray(rows).dtype == bool else rows
                  for rows in split) for split in splits]


def _rank(scores):
    """``rank_test_score`` of the ``(candidates, folds)`` test scores: by the mean score,
    as GridSearchCV ranks; the candidates whose mean is NaN (a fold failed) after the
    others, as there, but among them, instead of all sharing one rank, first those with
    the most folds scored, then by their mean over those: a candidate that failed on
    every fold is last."""
    scored = np.isfinite(scores)
    count = scored.sum(axis=1)
    partial = np.where(scored, scores, 0.0).sum(axis=1) / np.maximum(count, 1)
    return _min_rank([(0, -mean, 0.0) if math.isfinite(mean) else (1, -int(n), -value)
                      for mean, n, value in zip(scores.mean(axis=1), count, partial,
                                                strict=True)])


def _min_rank(keys):
    """Ranks from 1 of comparable ``keys``, equal keys sharing the smallest, as
    GridSearchCV ranks (SciPy's ``rankdata(method="min")``, whose ``scipy.stats`` import
    would double the time of ``import skgd``): one more than the keys below each."""
    return np.array([sum(other < key for other in keys) for key in keys],
                    dtype=np.int32) + 1


def _setting(candidate):
    return f"alpha={candidate['alpha']!r}, learning_rate={candidate['learning_rate']!r}"


def _metric_budget(X):
    """Bytes the metrics of fits run side by side may take: a tenth of X, at least
    16 MiB."""
    size = X.data.nbytes if sp.issparse(X) else X.nbytes
    return max(size // 10, 16 * 2**20)


def _footprint(paths):
    """Bytes the metrics of ``paths`` take while they run side by side: for the "full"
    metric (or the gauge of a Euclidean step), the ``(p + 1) x (p + 1)`` matrix and its
    inverse per fold and alpha (shared by the learning rates, kept for the whole search;
    one block serves every class), and per L-BFGS fit that refits it to the local
    curvature, a block per class (the softmax's whole ``K (p + 1)`` square where it takes
    that) and its memory of pairs; vectors for the others. A path runs one fit at a
    time: it holds the largest of its fits' own."""
    total, bounds = 0, set()
    for path in paths:
        largest = 0
        for fit in path.fits:
            own, bound = _fit_footprint(fit)
            largest = max(largest, own)
            if bound and bound[0] not in bounds:
                bounds.add(bound[0])
                total += bound[1]
        total += largest
    return total


class _Metric(NamedTuple):
    """How a fit's metric is made (see :func:`_metric_of`)."""

    # The preconditioner's resolved name (None: Euclidean), and whether optimality is
    # measured in the curvature bound (the gauge of a Euclidean step).
    name: str | None
    gauged: bool
    # L-BFGS, which searches a line and keeps a memory of pairs.
    lbfgs: bool
    # L-BFGS refits the full metric to a cross-entropy's local curvature, and that is
    # the whole Hessian (Newton's steps: one output, or a softmax whose Hessian is cheap
    # enough), not only its blocks of one class each.
    refits: bool
    exact: bool


def _metric_of(fit):
    """What the estimator's ``_plan`` will make of ``fit``'s metric, without making it."""
    estimator, objective = fit.estimator, fit.objective
    penalty = objective.l1_penalty()
    lbfgs = estimator._update_rule(objective, penalty, False) == "lbfgs"
    name = _curvature.resolve(estimator.preconditioner, objective,
                              batch_size=estimator.batch_size, l1=penalty is not None,
                              adaptive=estimator.solver == "adam", learned=lbfgs)
    refits = (lbfgs and name == "full"
              and hasattr(objective.loss_function, "local_curvatures"))
    exact = refits and (objective.n_outputs == 1 or _curvature._exact_pays(objective))
    return _Metric(name, _curvature.gauged(name, objective, penalty, estimator.batch_size),
                   lbfgs, refits, exact)


def _fit_footprint(fit):
    """``(bytes of the fit's own metric, (key, bytes) of the bound it shares or None)``
    (see :func:`_footprint`)."""
    objective, metric = fit.objective, _metric_of(fit)
    if metric.name != "full" and not metric.gauged:
        return 2 * objective.n_params * 8, None
    bound = ((id(fit.fold), objective.l2_reg_strength),
             2 * (objective.n_features + objective.fit_intercept) ** 2 * 8)
    own = 0
    if metric.refits:
        n_cols = objective.n_features + objective.fit_intercept
        own += 2 * 8 * max(objective.n_outputs * n_cols**2,
                           objective.n_params**2 if metric.exact else 0)
    if metric.lbfgs:
        # Its memory of step and gradient-change pairs.
        own += 2 * _updates.LBFGS_MEMORY * objective.n_params * 8
    return own, bound


def _answer(fits, requests, origins=None):
    """Answer the requests of ``run_many``: one stacked pass per group of fits on the
    same X, targets and rows.

    ``origins``, where given, keeps the answer at the origin of each fold's full-batch
    objective, which is the same for all its alphas (the L2 term and its gradient vanish
    there): every fit from zero asks for it first, and every warm start too, to measure
    its references there (see :class:`_Path`). It is computed once.
    """
    groups, answers, fresh, repeats = {}, [None] * len(requests), {}, []
    for position, (index, point, rows) in enumerate(requests):
        objective = fits[index].objective
        if origins is not None and rows is None and not point.any():
            origin = (id(objective.X), id(objective.y), id(objective.sample_weight))
            if origin in origins or origin in fresh:
                repeats.append((position, origin))
                continue
            fresh[origin] = position
        key = (id(objective.X), id(objective.y), _rows_key(rows))
        groups.setdefault(key, []).append((position, objective, point, rows))
    for members in groups.values():
        rows = members[0][3]
        results = stacked_loss_gradient([objective for _, objective, _, _ in members],
                                        [point for _, _, point, _ in members], rows)
        for (position, _, _, _), result in zip(members, results, strict=True):
            answers[position] = result
    # Each fit gets a gradient of its own: none can change another's.
    for origin, position in fresh.items():
        value, grad = answers[position]
        origins[origin] = (value, grad.copy())
    for position, origin in repeats:
        value, grad = origins[origin]
        answers[position] = (value, grad.copy())
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
    "alpha": alphas}, cv=cv)`` makes, fit for fit, but each epoch's passes over X shared
    by all the fits: one matrix product for all of them instead of a matrix-vector
    product each. Every fit starts from zero: least squares needs none of the refits
    that make :class:`GDClassifierCV`'s regularisation path pay (its default metric
    solves it in one step from anywhere). A fold's training rows are not copied
    (mini-batch fits excepted): its fits give its test rows zero weight. A setting whose
    fit diverges is recorded, not raised, and one ``FitFailedWarning`` names the settings
    that diverged and on how many folds, as ``GridSearchCV`` warns of its failed fits.

    Parameters
    ----------
    learning_rates : list of float or "auto", default=("auto",)
        The learning rates of the grid (each as ``learning_rate`` of GDRegressor).
    alphas : list of float or int, default=(1e-4, 1e-3, 1e-2, 1e-1)
        The regularisation strengths of the grid (each as ``alpha``). An int ``n``:
        ``n`` alphas log-spaced from ``alpha_max`` down to ``1e-4 * alpha_max``, as
        glmnet and ``ElasticNetCV`` make their grids (``alphas_`` holds them).
        ``alpha_max = max_j |dF/dW_j| / l1_ratio`` on all the rows, at zero
        coefficients and the best intercept, is the smallest alpha at which the L1
        penalty's solution is zero; for ``"l2"`` (whose solution is zero only in the
        limit) ``l1_ratio`` counts as 1.
    cv : int, cross-validation generator or iterable, default=None
        As in ``GridSearchCV``: None is 5-fold (KFold), an int the number of
        folds, or a splitter or an iterable of ``(train, test)`` index arrays.
    scoring : str, callable or None, default=None
        The test score of each fold: None is :meth:`score` (R^2), ``"loss"`` the
        objective on the test rows, negated; else a scikit-learn scorer name or
        callable. Where ``fit`` gets sample weights, the test rows are scored with
        theirs.
    refit : bool, default=True
        Refit GDRegressor at the best setting on all the data, as ``best_estimator_``,
        which ``predict`` use.
    n_jobs : int, default=None
        Folds fitted at once, in threads (None: 1, -1: all cores). Each thread runs its
        folds' fits side by side; one thread already streams X once per epoch for all.
        Only the matrix products run in parallel (BLAS releases the GIL); the steps
        and stopping rules of each epoch do not, so on small data (digits, a few
        thousand rows) ``n_jobs`` gives no speed-up, and with a multi-threaded BLAS
        little on large data either.
    verbose : int, default=0
        Positive: one line per (setting, fold) fit, labelled ``[CV fold/n_splits;
        candidate/n_candidates]`` as ``GridSearchCV``'s, with its setting, how it ended
        and its score; then the refit's own epoch lines under a line naming it.
    **params :
        Every other parameter of GDRegressor (``solver``, ``preconditioner``,
        ``max_iter``, ``tol``, ``batch_size``, ...), used by every fit. Like
        ``GridSearchCV``, the search itself takes scikit-learn's callbacks (>= 1.9):
        ``set_callbacks`` (see the Notes).

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
    alphas_ : ndarray of shape (n_alphas,)
        The alphas searched (those of ``alphas=n`` made from the data).
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

    Notes
    -----
    With scikit-learn >= 1.9, ``set_callbacks`` takes its callbacks (``ProgressBar``,
    ...), with ``GridSearchCV``'s tasks: the fit, its ``"search"`` holding one
    ``"candidate-split-evaluation"`` task per (setting, fold), numbered candidate by
    candidate, then the refit, whose epochs are the refitted estimator's tasks. The fits
    run side by side: each task begins and ends with its descent, and a callback cannot
    stop one of them. ``groups`` reaches the ``cv``
    splitter without ``set_fit_request``, also under metadata routing, as in
    ``LogisticRegressionCV``. With ``refit=False`` the prediction methods are absent, as
    ``GridSearchCV``'s.

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

    def __init__(self, *, learning_rates: Sequence[LearningRate] = ("auto",),
                 alphas: Sequence[float] | int = (1e-4, 1e-3, 1e-2, 1e-1),
                 cv: Any = None,
                 scoring: Scoring = None, refit: bool = True, n_jobs: int | None = None,
                 decay: Decay = "constant", decay_rate: float | None = None,
                 decay_steps: int = 100, warmup_steps: int = 0,
                 decay_per_update: bool = False, power_t: float = 0.25,
                 solver: Solver = "auto", preconditioner: Preconditioner = "auto",
                 momentum: float = 0.0, nesterov: bool = False,
                 batch_size: int | None = None, shuffle: bool = True,
                 random_state: RandomState = None, average: bool | int = False,
                 max_iter: int = 1000,
                 tol: float | None = 1e-5, n_iter_no_change: int = 5,
                 penalty: Penalty = "l2", l1_ratio: float = 0.15, fit_intercept: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 warm_start: bool = False, verbose: int = 0) -> None:
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

    def score(self, X: MatrixLike, y: Any, sample_weight: Any = None) -> float:
        """R^2 of the refitted estimator's predictions (``RegressorMixin``'s); a search
        made with ``refit=False`` keeps no model to score (AttributeError)."""
        _refitted(self)
        return super().score(X, y, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MatrixLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
            groups: ArrayLike | None = None) -> Self:
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
    "alpha": alphas}, cv=cv)`` makes, with the same scores, but each epoch's passes over X
    shared by all the fits: one matrix product for all of them instead of a
    matrix-vector product each. A search of the regularisation alone
    (``learning_rates=("auto",)``, the default, and a ``tol``) of three or more classes,
    whose fits refit their metric to the Hessian's blocks of one class each (L-BFGS,
    which ``solver="auto"`` takes, in the full metric), follows each fold's
    regularisation path, as ``LogisticRegressionCV`` does: the alphas from the largest to
    the smallest, each fit starting from the solution of the one before. A fit
    that converges is then ``GridSearchCV``'s to within ``tol`` (it stops on the same
    optimality, measured from the origin); one that stops at ``max_iter`` has run its
    epochs from the previous solution, not from zero. Other searches fit each setting
    from zero, as ``GridSearchCV`` does, fit for fit (see the user guide). A fold's
    training rows are not copied (mini-batch fits excepted): its fits give its test rows
    zero weight. A setting whose fit diverges is recorded, not raised, and one
    ``FitFailedWarning`` names the settings that diverged and on how many folds, as
    ``GridSearchCV`` warns of its failed fits.

    Parameters
    ----------
    learning_rates : list of float or "auto", default=("auto",)
        The learning rates of the grid (each as ``learning_rate`` of GDClassifier).
    alphas : list of float or int, default=(1e-4, 1e-3, 1e-2, 1e-1)
        The regularisation strengths of the grid (each as ``alpha``). An int ``n``:
        ``n`` alphas log-spaced from ``alpha_max`` down to ``1e-4 * alpha_max``, as
        glmnet and ``ElasticNetCV`` make their grids (``alphas_`` holds them).
        ``alpha_max = max_j |dF/dW_j| / l1_ratio`` on all the rows, at zero
        coefficients and the best intercept, is the smallest alpha at which the L1
        penalty's solution is zero; for ``"l2"`` (whose solution is zero only in the
        limit) ``l1_ratio`` counts as 1.
    cv : int, cross-validation generator or iterable, default=None
        As in ``GridSearchCV``: None is 5-fold (StratifiedKFold), an int the number of
        folds, or a splitter or an iterable of ``(train, test)`` index arrays.
    scoring : str, callable or None, default=None
        The test score of each fold: None is :meth:`score` (accuracy), ``"loss"`` the
        objective on the test rows, negated (NaN on a fold whose test rows hold a label its
        training rows lack); else a scikit-learn scorer name or callable. Where ``fit``
        gets sample weights, the test rows are scored with theirs.
    refit : bool, default=True
        Refit GDClassifier at the best setting on all the data, as ``best_estimator_``,
        which ``predict``, ``predict_proba``, ``predict_log_proba`` and ``decision_function`` use.
    n_jobs : int, default=None
        Folds fitted at once, in threads (None: 1, -1: all cores). Each thread runs its
        folds' fits side by side; one thread already streams X once per epoch for all.
        Only the matrix products run in parallel (BLAS releases the GIL); the steps
        and stopping rules of each epoch do not, so on small data (digits, a few
        thousand rows) ``n_jobs`` gives no speed-up, and with a multi-threaded BLAS
        little on large data either.
    verbose : int, default=0
        Positive: one line per (setting, fold) fit, labelled ``[CV fold/n_splits;
        candidate/n_candidates]`` as ``GridSearchCV``'s, with its setting, how it ended
        and its score; then the refit's own epoch lines under a line naming it.
    **params :
        Every other parameter of GDClassifier (``solver``, ``preconditioner``,
        ``max_iter``, ``tol``, ``batch_size``, ...), used by every fit. Like
        ``GridSearchCV``, the search itself takes scikit-learn's callbacks (>= 1.9):
        ``set_callbacks`` (see the Notes).

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
        ``k``, up to its divergence for a diverged fit. On a regularisation path, from
        the solution of the alpha before.
    diverged_ : ndarray of bool of shape (n_candidates, n_splits)
        Which fits diverged.
    best_index_, best_params_, best_score_ :
        The candidate with the best mean test score (the first of equals).
    learning_rate_, alpha_ :
        Its learning rate and alpha.
    alphas_ : ndarray of shape (n_alphas,)
        The alphas searched (those of ``alphas=n`` made from the data).
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

    Notes
    -----
    With scikit-learn >= 1.9, ``set_callbacks`` takes its callbacks (``ProgressBar``,
    ...), with ``GridSearchCV``'s tasks: the fit, its ``"search"`` holding one
    ``"candidate-split-evaluation"`` task per (setting, fold), numbered candidate by
    candidate, then the refit, whose epochs are the refitted estimator's tasks. The fits
    run side by side: each task begins and ends with its descent (on a path, after the
    fit of the alpha before), and a callback cannot stop one of them. ``groups`` reaches the ``cv``
    splitter without ``set_fit_request``, also under metadata routing, as in
    ``LogisticRegressionCV``. With ``refit=False`` the prediction methods are absent, as
    ``GridSearchCV``'s.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import scale
    >>> from skgd import GDClassifierCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> search = GDClassifierCV(learning_rates=["auto", 30.0], alphas=[1e-3, 1e-2, 1e-1])
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     search = search.fit(scale(X), y)
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    15 of the 30 fits of GDClassifierCV diverged and scored NaN (learning_rate=30.0, ...
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

    def __init__(self, *, learning_rates: Sequence[LearningRate] = ("auto",),
                 alphas: Sequence[float] | int = (1e-4, 1e-3, 1e-2, 1e-1),
                 cv: Any = None,
                 scoring: Scoring = None, refit: bool = True, n_jobs: int | None = None,
                 decay: Decay = "constant", decay_rate: float | None = None,
                 decay_steps: int = 100, warmup_steps: int = 0,
                 decay_per_update: bool = False, power_t: float = 0.25,
                 solver: Solver = "auto", preconditioner: Preconditioner = "auto",
                 momentum: float = 0.0, nesterov: bool = False,
                 batch_size: int | None = None, shuffle: bool = True,
                 random_state: RandomState = None, average: bool | int = False,
                 max_iter: int = 1000,
                 tol: float | None = 1e-5, n_iter_no_change: int = 5,
                 penalty: Penalty = "l2", l1_ratio: float = 0.15, fit_intercept: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 warm_start: bool = False,
                 class_weight: ClassWeight = None, verbose: int = 0) -> None:
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
    def fit(self, X: MatrixLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
            groups: ArrayLike | None = None) -> Self:
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

    def score(self, X: MatrixLike, y: Any, sample_weight: Any = None) -> float:
        """The accuracy of the refitted estimator's predictions (``ClassifierMixin``'s);
        a search made with ``refit=False`` keeps no model to score (AttributeError)."""
        _refitted(self)
        return super().score(X, y, sample_weight=sample_weight)

    @available_if(_refitted)
    def decision_function(self, X: MatrixLike) -> Any:
        """The refitted estimator's raw predictions."""
        return self._best().decision_function(self._check_input(X))

    @available_if(_refitted)
    def predict_proba(self, X: MatrixLike) -> Any:
        """The refitted estimator's class probabilities."""
        return self._best().predict_proba(self._check_input(X))

    @available_if(_refitted)
    def predict_log_proba(self, X: MatrixLike) -> Any:
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
