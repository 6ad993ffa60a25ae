"""The one packaging setting pyproject.toml cannot say: the checkout's ``models/`` folder is the package
``workbench._models``, so the bundled models ship as package data without a second copy in git."""
from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["workbench", "workbench.*"]), "workbench._models"],
    package_dir={"workbench._models": "models"},
)
