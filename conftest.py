import importlib.util

# skgd/_dask.py needs the optional dask extra: without it, its doctests cannot be collected.
collect_ignore = [] if importlib.util.find_spec("dask") else ["skgd/_dask.py"]
