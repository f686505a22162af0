"""Packaging: the repository's top-level folders install under one import name, ``yuqing``.

``store/`` becomes ``yuqing.store``, ``nlp/`` becomes ``yuqing.nlp`` and so on (setuptools ``package_dir``), so an
installed yuqing adds a single top-level name to site-packages. ``yuqing`` itself is a namespace package: it has no
folder of its own. Everything else about the project is declared in pyproject.toml.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, find_namespace_packages, setup


def _build_dir() -> str:
    Path("build").mkdir(exist_ok=True)
    return "build"


FOLDERS = ("store", "collectors", "spiders", "nlp", "graph", "flows", "reports")

# Namespace discovery, so data folders without __init__.py (nlp/models, reports/templates, ...) ship too.
PACKAGES = find_namespace_packages(include=[f"{folder}*" for folder in FOLDERS], exclude=["*__pycache__*"])

# Compiled speed-ups, each with a pure-Python fallback that gives the same results: optional, so an install without a
# C compiler still succeeds (the module is then absent and the fallback runs).
# The module carries the SHA-256 of the source it was built from: nlp/__init__.py drops a build older than the source
# beside it (an editable install after a pull) instead of calling it with arguments it does not know.
SPEEDUPS_SHA256 = hashlib.sha256(Path("nlp/_speedups.c").read_bytes()).hexdigest()
EXTENSIONS = [
    Extension(
        "yuqing.nlp._speedups",
        ["nlp/_speedups.c"],
        define_macros=[("YUQING_SOURCE_SHA256", f'"{SPEEDUPS_SHA256}"')],
        optional=True,
    ),
]

setup(
    ext_modules=EXTENSIONS,
    packages=[f"yuqing.{name}" for name in PACKAGES],
    package_dir={f"yuqing.{folder}": folder for folder in FOLDERS},
    # Metadata goes to build/, not the repository root: a yuqing.egg-info beside the folders is found by
    # pkg_resources (jieba imports it) whenever the root is on sys.path, and warns that yuqing is imported twice.
    options={"egg_info": {"egg_base": _build_dir()}},
)
