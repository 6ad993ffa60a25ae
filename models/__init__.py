"""The bundled density models, installed as the package data of ``workbench._models`` (see setup.py).

Read them with ``workbench.estimators.default.bundled_model(name)``, never by a path relative to the checkout.
"""
