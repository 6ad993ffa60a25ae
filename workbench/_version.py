"""The workbench's version, in a module of its own: ``_compat`` reports it without importing the package above it."""

__version__ = "0.1.0"
