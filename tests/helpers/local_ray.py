"""A one-machine Ray for the tests that run compare(engine="ray")."""
from __future__ import annotations

from typing import Any


def start_local_ray(ray: Any, num_cpus: int) -> None:
    """``ray.init`` with no dashboard, tried twice: on an overloaded machine the raylet may give up waiting (about
    15 s) for its agent process; that is the machine, not the code under test."""
    try:
        ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level="WARNING")
    except Exception as error:
        if "timed out during startup" not in str(error):
            raise
        ray.shutdown()
        ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level="WARNING")
