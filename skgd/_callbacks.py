"""How a fit reports to scikit-learn's callbacks: shared by the in-memory, dask and CV
fits (a module of its own, so that ``skgd._dask`` imports it without the estimators)."""


class _CallbackReport:
    """Reports a fit to the estimator's scikit-learn callbacks, if it has any.

    The fit (or ``partial_fit``) call is the task of ``context``; each epoch is a
    sub-task, and a callback whose ``on_fit_task_end`` returns True at an epoch stops
    the descent there.
    """

    def __init__(self, estimator, context, X, y, sample_weight):
        # Only scikit-learn >= 1.9's set_callbacks sets _skl_callbacks.
        self.active = bool(getattr(estimator, "_skl_callbacks", None))
        self.estimator, self.context = estimator, context
        self.data = {"X": X, "y": y,
                     "metadata": None if sample_weight is None else {
                         "sample_weight": sample_weight}}

    def begin_fit(self):
        if self.active:
            self.context.call_on_fit_task_begin(estimator=self.estimator, **self.data)

    def end_fit(self):
        if self.active:
            # The estimator itself is fitted by now: nothing to reconstruct.
            self.context.call_on_fit_task_end(estimator=self.estimator, **self.data,
                                              reconstruction_attributes={})

    def epoch_hooks(self, objective):
        """The engine's ``on_epoch_begin`` and ``on_epoch_end`` keyword arguments."""
        if not self.active:
            return {}
        shape_coef = self.estimator._shape_coef
        epoch_context = None

        def fitted_attributes(params):
            # Callables are evaluated only for a callback that asks for fitted_estimator.
            return lambda: dict(zip(("coef_", "intercept_"),
                                    shape_coef(*objective.unpack(params)), strict=True))

        def on_epoch_begin(epoch, params):
            nonlocal epoch_context
            epoch_context = self.context.subcontext(task_name="epoch")
            epoch_context.call_on_fit_task_begin(
                estimator=self.estimator, **self.data,
                reconstruction_attributes=fitted_attributes(params))

        def on_epoch_end(epoch, params):
            return epoch_context.call_on_fit_task_end(
                estimator=self.estimator, **self.data,
                reconstruction_attributes=fitted_attributes(params))

        return {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end}
