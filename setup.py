"""The one packaging setting pyproject.toml cannot say: two checkout folders ship as packages without a second
copy in git. ``models/`` is ``workbench._models`` (the bundled models, package data) and ``plugins/`` is
``workbench._examples`` (the example plugins, whose folder ``workbench.host.example_plugins_dir()`` returns)."""
from setuptools import find_packages, setup

EXAMPLES = "workbench._examples"

setup(
    packages=[
        *find_packages(include=["workbench", "workbench.*"]),
        "workbench._models",
        EXAMPLES,
        *(f"{EXAMPLES}.{name}" for name in find_packages("plugins")),
    ],
    package_dir={"workbench._models": "models", EXAMPLES: "plugins"},
)
