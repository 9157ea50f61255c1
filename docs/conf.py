"""Sphinx configuration of the skgd documentation.

Build from the repository root with::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The gallery examples in ``examples/`` run during the build (matplotlib's Agg backend,
no network): the figures of the user guide are theirs.
"""

import importlib.util
import re
import shutil
from pathlib import Path

import matplotlib
from threadpoolctl import threadpool_limits

import skgd

# No display: the examples draw with Agg, and sphinx-gallery saves their figures.
matplotlib.use("Agg")

# The examples fit small problems, where extra BLAS threads only wait for each other;
# on a busy 2-core machine they made an example 10 times slower. One thread keeps the
# build time steady; the times the examples print are single-threaded.
_blas_threads = threadpool_limits(limits=1, user_api="blas")

project = "skgd"
author = "skgd developers"
copyright = "skgd developers"
release = skgd.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Markdown pages: $...$ and $$...$$ math, amsmath environments, colon fences for
# directives, and anchors for the section headings so pages can link to each other.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# The API page documents each class and its methods explicitly; numpydoc's automatic
# member tables would duplicate them (and list scikit-learn's inherited helpers).
numpydoc_show_class_members = False
autodoc_default_options = {"member-order": "bysource"}
autosummary_generate = False

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "plot_gallery": "True",
    "download_all_examples": False,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "min_reported_time": 0,
    "remove_config_comments": True,
    # The execution-times pages load jQuery and DataTables from CDNs; the site is offline.
    "write_computation_times": False,
}

# MathJax is served from the site itself, not a CDN, so the math renders offline. The
# files come from the django-static-mathjax package (MathJax 3, in the docs extra): the
# SVG output component, which needs no web fonts, and the components it loads on demand.
_MATHJAX = Path(importlib.util.find_spec("mathjax").origin).parent / "static" / "mathjax"
mathjax_path = "mathjax/tex-svg.js"


def _copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    shutil.copytree(_MATHJAX / "es5", target, dirs_exist_ok=True, ignore=lambda folder, names: [
        name for name in names
        if folder == str(_MATHJAX / "es5") and name.endswith(".js") and name != "tex-svg.js"])
    shutil.copy(_MATHJAX / "LICENSE", target / "LICENSE")


# The API page documents methods the estimators inherit from scikit-learn (score,
# set_callbacks, set_*_request). Their docstrings cross-reference scikit-learn's own user
# guide and glossary, which this site does not have: keep the words, drop the links.
_SKLEARN_CROSS_REFERENCE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^`>]*>)?`")


def _unlink_sklearn_cross_references(app, what, name, obj, options, lines):
    if getattr(obj, "__module__", "").startswith("sklearn."):
        lines[:] = [_SKLEARN_CROSS_REFERENCE.sub(r"*\1*", line) for line in lines]


def setup(app):
    app.connect("build-finished", _copy_mathjax)
    app.connect("autodoc-process-docstring", _unlink_sklearn_cross_references)


html_theme = "alabaster"
html_title = f"skgd {release}"
html_theme_options = {
    "description": "Gradient descent done right inside scikit-learn",
    "fixed_sidebar": False,
    # alabaster's 940 px page cut code lines off. Its narrow layout (the sidebar below
    # the content) starts at page_width: 1200 px keeps the sidebar beside the text in a
    # 1280 px window, whose scroll bar leaves about 1265 px; skgd.css wraps the few code
    # lines that do not fit.
    "page_width": "1200px",
    "sidebar_width": "220px",
    "body_max_width": "none",
}
html_static_path = ["_static"]
html_css_files = ["skgd.css"]
