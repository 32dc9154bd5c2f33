"""Joining (or starting) the Ray cluster that embedding.engine: ray runs on.

`ray.init` against a wrong address retries for minutes (measured here: 3.5 min before it gave
up), so the head's port is probed first, within `connect_timeout_s`, and a dead address is one
line naming it and the fix. No address starts a local instance, as `ray.init()` does, and shuts
it down afterwards; a cluster we joined is left running.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from reprostack.core import extras
from reprostack.core.errors import ClusterError
from reprostack.core.params import RayParams

LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
AUTH_MODE_ENV = "RAY_AUTH_MODE"
FIX = (
    "start one with `ray start --head --port <port>` and set embedding.ray.address to <head-ip>:<port> "
    "in conf/embedding/, or null to start a local Ray instance"
)


@dataclass(frozen=True)
class Cluster:
    """What the run record says about where a run was embedded."""

    address: str  # as configured ("local" for an instance started here)
    ray_version: str
    nodes: list[dict] = field(default_factory=list)  # {"node_id", "ip", "resources": {"CPU": 1.0, ...}}

    @property
    def resources(self) -> dict[str, float]:
        total: dict[str, float] = {}
        for node in self.nodes:
            for name, amount in node["resources"].items():
                total[name] = total.get(name, 0.0) + amount
        return total

    def to_record(self) -> dict:
        return {
            "address": self.address,
            "ray_version": self.ray_version,
            "nodes": self.nodes,
            "resources": self.resources,
        }


def probe(address: str, timeout_s: float) -> None:
    """Fail fast when nothing listens at host:port."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except (OSError, ValueError) as exc:
        raise ClusterError(
            f"no Ray cluster at embedding.ray.address {address} ({exc.strerror or exc}); {FIX}"
        ) from None


@contextmanager
def _loopback_only() -> Iterator[None]:
    """A local instance listens on 127.0.0.1 only. Ray turns a loopback _node_ip_address into
    the machine's routable IP and binds every port on all interfaces, unless clustering is off
    (its single-machine mode, the default on macOS/Windows): the constant for this process,
    the variable for the processes ray.init starts."""
    from ray._private import ray_constants

    saved_env, saved = os.environ.get(LOOPBACK_ENV), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[LOOPBACK_ENV], ray_constants.ENABLE_RAY_CLUSTER = "0", False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved
        _restore(LOOPBACK_ENV, saved_env)


def _restore(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@contextmanager
def _quiet_init() -> Iterator[None]:
    """The library never prints. Ray logs that it enabled token authentication for a new local
    instance (it does, with a token under ~/.ray), and it starts its daemons with a preexec_fn,
    a fork that runs pylance's at-fork warning ("lance is not fork-safe"): harmless, as the
    child execs at once and never touches Lance."""
    logger = logging.getLogger("ray._private.authentication.authentication_token_setup")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="lance is not fork-safe")
            yield
    finally:
        logger.setLevel(level)


@contextmanager
def connect(params: RayParams, threads: int | None = None) -> Iterator[Cluster]:
    """Ray initialised for this process while the block runs. `threads` caps a local instance's
    CPUs (the same budget the local engine uses)."""
    extras.require("ray", "embedding.engine: ray")
    import ray

    started = False
    auth_mode = os.environ.get(AUTH_MODE_ENV)
    if not ray.is_initialized():
        kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if params.address is None:
            # address "local": a new instance, never one found running here (None would join a
            # `ray start` cluster named in /tmp/ray/ray_current_cluster, or RAY_ADDRESS).
            with _loopback_only(), _quiet_init():
                ray.init(address="local", num_cpus=threads or os.cpu_count(), **kwargs)
        else:
            if params.address != "auto":
                probe(params.address, params.connect_timeout_s)
            try:
                ray.init(address=params.address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ClusterError(
                    f"cannot join the Ray cluster at embedding.ray.address {params.address}: "
                    f"{str(exc).splitlines()[0]}; {FIX}"
                ) from None
        started = True
    try:
        yield Cluster(
            address=params.address or "local",
            ray_version=ray.__version__,
            nodes=[
                {
                    "node_id": n["NodeID"],
                    "ip": n["NodeManagerAddress"],
                    "resources": {
                        k: float(v) for k, v in sorted(n["Resources"].items()) if k in ("CPU", "GPU", "memory")
                    },
                }
                for n in ray.nodes()
                if n["Alive"]
            ],
        )
    finally:
        if started:
            ray.shutdown()
            # ray.init turns token auth on for this whole process (a new local instance sets
            # RAY_AUTH_MODE=token): undone, so a later connect decides afresh (a new instance
            # under another HOME has no token there yet; a joined cluster may use none).
            _restore(AUTH_MODE_ENV, auth_mode)
            from ray._raylet import AuthenticationTokenLoader, Config

            Config.initialize("")  # before the token cache, as Ray's own reset does
            AuthenticationTokenLoader.instance().reset_cache()
