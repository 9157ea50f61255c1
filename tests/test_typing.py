"""The public signatures are typed: user code type-checks under ``mypy --strict``, and a
string option that does not exist is a type error."""

import pytest

mypy_api = pytest.importorskip("mypy.api")

USER_CODE = """
import numpy as np
from skgd import GDClassifier, GDClassifierCV, GDRegressor
from skgd.losses import BinaryCrossEntropy, LinearObjective

X = np.zeros((4, 2))
y = np.array([0, 1, 0, 1])
model = GDClassifier(solver="gd", momentum=0.9, decay="cosine", penalty=None)
model.fit(X, y)
probabilities = model.predict_proba(X)
regressor = GDRegressor(learning_rate=0.1, preconditioner="full", decay=lambda t: 0.9**t)
search = GDClassifierCV(learning_rates=["auto", 0.5], alphas=[1e-3])
objective = LinearObjective(BinaryCrossEntropy(), X, y.astype(float), alpha=0.1)
value, gradient = objective.loss_gradient(objective.init_params())
"""


def _check(code, tmp_path):
    path = tmp_path / "user.py"
    path.write_text(code)
    out, _, status = mypy_api.run(["--strict", "--follow-imports=silent",
                                   "--no-incremental", "--cache-dir=/dev/null", str(path)])
    return out, status


def test_user_code_type_checks_strictly(tmp_path):
    out, status = _check(USER_CODE, tmp_path)
    assert status == 0, out


def test_an_unknown_option_is_a_type_error(tmp_path):
    out, status = _check(USER_CODE + 'GDClassifier(solver="newton")\n', tmp_path)
    assert status == 1 and 'Argument "solver" to "GDClassifier"' in out, out
