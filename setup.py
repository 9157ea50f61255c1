"""The compiled kernel of small-batch descent (skgd/_sgd_fast.pyx); everything else is in
pyproject.toml.

The extension is optional: where it cannot be compiled (no C compiler) the install goes
on and skgd runs the same steps in Python (see skgd/_compiled.py).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("skgd._sgd_fast", ["skgd/_sgd_fast.pyx"], optional=True)])
