"""The compiled kernel of small-batch descent and of the cross-entropy's passes
(skgd/_sgd_fast.pyx); everything else is in pyproject.toml.

The extension is optional: where it cannot be compiled (no C compiler) the install goes
on and skgd runs the same steps in Python (see skgd/_compiled.py).
"""

import sys

from setuptools import Extension, setup

# Without debug symbols: they made the module 2.28 MB, 411 KB without (GCC and Clang
# linkers; MSVC writes them to a separate .pdb).
STRIP = {"linux": ["-s"], "darwin": ["-Wl,-S"]}.get(sys.platform, [])

setup(ext_modules=[Extension("skgd._sgd_fast", ["skgd/_sgd_fast.pyx"], optional=True,
                             extra_link_args=STRIP)])
