"""``python -m workbench.training``: train, export and bundle the default model."""
from workbench.training.train import main

raise SystemExit(main())
