"""The corpus holds plugins for ``workbench check`` to judge (see tests/test_check_corpus.py), not tests:
nothing under this folder is collected or imported by pytest."""
collect_ignore_glob = ["*"]
