"""The example plugins: a plugins folder as the service reads it (each plugin a package with its requirements.txt).

The host never imports this file; it is here so that ``setup.py`` can ship the folder as the package
``workbench._examples``, which ``workbench demo`` and ``workbench.host.example_plugins_dir()`` use after a plain
``pip install`` (the editable install maps it to this folder).
"""
