import os

# scikit-learn's Array API checks, and the estimators under array_api_dispatch=True,
# need SciPy's Array API support, which SciPy reads once, at import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
