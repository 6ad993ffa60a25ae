"""``compare(..., engine="ray")``: one estimator over a dataset on a pool of Ray actors.

Each actor builds its own ``Workbench`` from a ``HostSpec`` and leases the one estimator it runs, by name, for
its whole life (what its host serves is never switched). The driver reads image files and sends their bytes in shards of a few images, keeping at
most ``IN_FLIGHT_PER_ACTOR`` shards per actor (backpressure: a 1,500-image split is never all in the object
store at once). A shard whose actor dies (a lost node, an out-of-memory kill) goes back to the queue and runs on
another actor; an error raised by the estimator itself is not retried, it is the answer.

Ray is imported here only, and this module only when ``engine="ray"`` is asked for. With no address a
one-machine Ray is started in this process (``ray.init``), and stays up for later comparisons.
"""
from __future__ import annotations

import logging
import os
import socket
import urllib.parse
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._checks import whole_number
from ..images import parse_targets
from ..sdk import EstimationTargets, VLImage
from ._runner_parts import HostSpec, OnResult, estimate_timed

if TYPE_CHECKING:
    from .datasets import Sample

__all__ = ["IN_FLIGHT_PER_ACTOR", "RAY_CONNECT_TIMEOUT_S", "RayEstimatorPool", "check_ray_address", "ensure_ray"]

#: Shards queued per actor: one running and one waiting, so an actor never idles between shards.
IN_FLIGHT_PER_ACTOR = 2
#: Images per shard: small enough to spread a short dataset over every actor, large enough to amortise a call.
SHARD_IMAGES = 4
#: Seconds the cluster's address has to accept a connection before Ray is asked to join it: ``ray.init`` retried an
#: unreachable one for over 150 s, saying nothing.
RAY_CONNECT_TIMEOUT_S = 10.0
#: The ports Ray listens on unless told otherwise: the Ray Client server (``ray://``) and the GCS (``host:port``).
_CLIENT_PORT = 10001
_GCS_PORT = 6379


def ensure_ray(address: str | None = None, *, num_cpus: int | None = None) -> Any:
    """``ray``, connected: to ``address`` (``"auto"``, ``"ray://head:10001"``), else a one-machine Ray."""
    try:
        import ray
    except ImportError as error:
        raise ImportError(
            "engine='ray' needs Ray: pip install 'workbench[ray]' (or `make venv`, which installs it)"
        ) from error
    if not ray.is_initialized():
        check_ray_address(address)
        options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
        if address is None:
            options["num_cpus"] = num_cpus
        ray.init(address=address, **options)
    return ray


def check_ray_address(address: str | None, timeout: float | None = None) -> None:
    """Check that the cluster ``ray.init(address)`` would join accepts a connection within ``timeout`` seconds
    (default ``RAY_CONNECT_TIMEOUT_S``): ``address``, or ``$RAY_ADDRESS`` where Ray reads it (no address, or
    ``"auto"``). Nothing to check where Ray starts its own (``"local"``, or no address anywhere), or finds one
    through its own files (``"auto"`` without ``$RAY_ADDRESS``).

    Raises:
        ValueError: the address is not ``[ray://]host[:port]``.
        ConnectionError: nothing accepts a connection there in time; the message says what was tried.
    """
    target = os.environ.get("RAY_ADDRESS") if address in (None, "auto") else address
    if not target or target in ("auto", "local"):
        return
    client = target.startswith("ray://")
    try:
        parts = urllib.parse.urlsplit(target if client else f"//{target}")
        host, port = parts.hostname, parts.port or (_CLIENT_PORT if client else _GCS_PORT)
    except ValueError as error:
        raise ValueError(f"Ray address {target!r} is not [ray://]host[:port]: {error}") from None
    if not host or parts.path:
        raise ValueError(f"Ray address {target!r} is not [ray://]host[:port] (e.g. ray://head:10001 or head:6379)")
    seconds = RAY_CONNECT_TIMEOUT_S if timeout is None else timeout
    try:
        socket.create_connection((host, port), timeout=seconds).close()
    except OSError as error:
        raise ConnectionError(
            f"cannot reach the Ray cluster at {target!r}: {host}:{port} did not accept a connection within "
            f"{seconds:g} s ({error or type(error).__name__}); check that its head is running and the address and "
            "port are right (ray://head:10001 for Ray Client, head:6379 for the GCS), or leave the address out to "
            "start a one-machine Ray"
        ) from None


class _EstimatorActor:
    """Runs in a Ray worker process: one host, one estimator, shards of ``(index, name, bytes)`` images."""

    def __init__(self, spec: HostSpec, broker: str, estimator: str) -> None:
        self.wb = spec.build()
        # Entered for the actor's life: its estimator is built once here, and closes with the host.
        self.wb.lease_estimator(broker, estimator).__enter__()
        self.broker = broker
        self.estimator = estimator

    def pid(self) -> int:
        return os.getpid()

    def estimate(
        self, shard: list[tuple[int, str, bytes]], targets: str, batch_size: int
    ) -> tuple[list[tuple[int, Any]], float]:
        parsed = parse_targets(targets)
        out: list[tuple[int, Any]] = []
        busy = 0.0
        for start in range(0, len(shard), batch_size):
            chunk = shard[start:start + batch_size]
            images = [VLImage(data, filename=name) for _, name, data in chunk]
            batch, seconds = estimate_timed(self.wb, self.broker, self.estimator, images, parsed)
            busy += seconds
            out += [(index, result) for (index, _, _), result in zip(chunk, batch)]
        return out, busy


class RayEstimatorPool:
    """``actors`` Ray actors serving ``estimator`` of ``broker``, built from ``spec``; ``run`` feeds them.

    ``num_gpus`` per actor defaults to 1 when the spec's device is ``"gpu"`` (a fraction shares a GPU).
    ``close()`` (or ``with``) ends the actors.
    """

    def __init__(
        self, spec: HostSpec, broker: str, estimator: str, *, actors: int = 2, num_gpus: float | None = None,
        address: str | None = None,
    ) -> None:
        whole_number(actors, "actors", minimum=1)
        self._ray = ensure_ray(address)
        gpus = (1.0 if spec.device == "gpu" else 0.0) if num_gpus is None else float(num_gpus)
        remote = self._ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=0)(_EstimatorActor)
        self.estimator = estimator
        self.actors = [remote.remote(spec, broker, estimator) for _ in range(actors)]
        self.retried_shards = 0
        try:
            # Wait for every host to start, so a plugin that fails there is reported before any image is sent.
            self._ray.get([actor.pid.remote() for actor in self.actors])
        except Exception as error:
            self.close()
            raise RuntimeError(f"a Ray actor could not start a host running {estimator!r}: {error}") from error

    def run(
        self,
        items: Sequence[tuple[int, Sample]],
        targets: EstimationTargets,
        batch_size: int,
        on_result: OnResult,
        *,
        shard_images: int = SHARD_IMAGES,
    ) -> float:
        """Estimate every item; ``on_result`` is called here as shards come back. Returns summed busy seconds."""
        from ray.exceptions import RayActorError

        ray = self._ray
        pending = deque(items[i:i + shard_images] for i in range(0, len(items), shard_images))
        alive = list(self.actors)
        load = {id(actor): 0 for actor in alive}
        in_flight: dict[Any, tuple[Any, Sequence[tuple[int, Sample]]]] = {}
        busy = 0.0
        last_death: BaseException | None = None
        while pending or in_flight:
            for actor in alive:
                while pending and load[id(actor)] < IN_FLIGHT_PER_ACTOR:
                    shard = pending.popleft()
                    payload = [(index, *sample.encoded()) for index, sample in shard]
                    in_flight[actor.estimate.remote(payload, targets.name, batch_size)] = (actor, shard)
                    load[id(actor)] += 1
            if not in_flight:
                raise RuntimeError(
                    f"every Ray actor running {self.estimator!r} died; {len(pending)} shard(s) left undone "
                    f"(last error: {last_death})"
                )
            [ready], _ = ray.wait(list(in_flight), num_returns=1)
            actor, shard = in_flight.pop(ready)
            load[id(actor)] -= 1
            try:
                results, seconds = ray.get(ready)
            except RayActorError as error:
                # The actor is gone, not the estimator wrong: its shards run again on the others.
                last_death = error
                if actor in alive:
                    alive.remove(actor)
                pending.appendleft(shard)
                self.retried_shards += 1
                continue
            busy += seconds
            for index, result in results:
                on_result(index, result)
        return busy

    def close(self) -> None:
        for actor in self.actors:
            try:
                self._ray.kill(actor)
            except Exception:  # already dead: nothing left to end
                pass

    def __enter__(self) -> RayEstimatorPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
