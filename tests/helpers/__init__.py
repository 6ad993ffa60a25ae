"""Helpers shared by the test modules: importable as ``helpers.<module>`` because pyproject's pytest
``pythonpath`` puts ``tests/`` on the path; the modules that define fixtures are registered in ``tests/conftest.py``.

Test modules import from here, never from one another, so any of them can be run, moved or deleted alone.
"""
