"""The example plugins that ship with the package, as a plugins folder on disk.

``setup.py`` maps the checkout's ``plugins/`` folder to the package ``workbench._examples`` (no code of the
workbench imports it; the host imports its plugins by module name, as from any plugins folder), so the
documented main job, the default against ``PeopleCountOnnxPlugin``, runs from a plain ``pip install``.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["EXAMPLE_PLUGINS_PACKAGE", "example_plugins_dir"]

EXAMPLE_PLUGINS_PACKAGE = "workbench._examples"


def example_plugins_dir() -> Path:
    """The folder of the example plugins (``people_count_onnx``, ``loop_watch``, ``request_stats``): the installed
    package's copy, or the checkout's ``plugins/`` in an editable install.

    Raises:
        RuntimeError: the package is installed without them (an old or partial build) or in a form with no
            folders on disk (a zip), from which plugins cannot be imported as a plugins folder.
    """
    try:
        folder = resources.files(EXAMPLE_PLUGINS_PACKAGE)
    except ModuleNotFoundError:
        raise RuntimeError(
            f"this workbench was installed without its example plugins ({EXAMPLE_PLUGINS_PACKAGE}); reinstall it "
            "from a wheel or checkout of this version (an editable install: pip install -e . again)"
        ) from None
    if not isinstance(folder, Path):
        raise RuntimeError(
            f"the example plugins ({EXAMPLE_PLUGINS_PACKAGE}) are inside {folder}, not in a folder on disk; install "
            "the workbench unzipped (pip does), or copy the example plugins into a folder and pass that"
        )
    return folder
