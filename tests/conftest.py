import os

# scikit-learn's estimator checks include an Array-API input check (run on NumPy for
# estimators without Array-API support) that skips itself unless this is set.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
