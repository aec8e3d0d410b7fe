"""Where a sweep's points run: a local process pool (``local_pool``), or Ray (local or
a cluster).

Both take the points as ``PointJob``s and hand back ``PointResult``s as the points
finish, in whatever order that is; a point that cannot even be run (its worker died,
Ray lost it) comes back as a failed result, so the sweep reports it and goes on.
``abort`` is for Ctrl-C and SIGTERM: nothing new starts, the points in flight are
dropped (their workers ended), and what finished before stays finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import socket
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kitetui.config import ConfigError
from kitetui.sweep.bundle import (
    DataBundle,
    bundle_folder,
    is_materialised,
    localised,
    make_bundle,
    materialise,
)
from kitetui.sweep.local_pool import LocalPool, cores, lost
from kitetui.sweep.point import PointJob, PointResult, run_point

__all__ = ["LocalPool", "PointExecutor", "RayPool", "check_ray_address", "check_reachable"]


class PointExecutor(Protocol):
    workers: int
    shares_disk: bool  # the points run on this machine: their scratch can be the sweep's

    def describe(self) -> str: ...
    def run(self, jobs: Sequence[PointJob]) -> Iterator[PointResult]: ...
    def abort(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Shipped:
    """A config's data in the object store: the reference and the bundle's layout."""

    ref: Any  # ray.ObjectRef of the DataBundle
    layout: DataBundle


def _ray_point(
    job: PointJob, refs: list[Any], layout: DataBundle, root: Path | None
) -> PointResult:
    """One point on a Ray worker: the data from the node's folder, fetched from the
    object store by the first point that runs on this node. ``refs`` is a list so
    Ray hands over the reference, not the bytes: only that first point fetches."""
    folder = bundle_folder(layout.digest, root)
    if not is_materialised(layout.digest, root):
        import ray

        folder = materialise(ray.get(refs[0]), root)
    config = localised(job.config, layout, folder)
    return run_point(_with_config(job, config))


def _with_config(job: PointJob, config: Any) -> PointJob:
    return dataclasses.replace(job, config=config)


class RayPool:
    """Points as Ray tasks, one CPU each. ``address`` None starts a local Ray with
    ``workers`` CPUs (default: every core); ``ray://host:10001`` joins a cluster,
    whose nodes need kitetui installed (the data come with the sweep)."""

    def __init__(
        self, address: str | None = None, workers: int | None = None, root: Path | None = None
    ) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "--ray", "", "Ray is not installed: pip install 'kitetui[ray]'"
            ) from None
        self._ray = ray
        self.address = address
        self.shares_disk = not address  # a local Ray: the same machine
        self.root = root  # where nodes keep the data (default: each node's temp dir)
        if address:
            if address != "auto":
                check_reachable(address)
            try:
                with _quiet_client():
                    ray.init(address=address, log_to_driver=False)
            except Exception as exc:  # unreachable, refused, or Ray's auth said no
                raise ConfigError(
                    f"--ray {address}",
                    "",
                    f"cannot join the Ray cluster ({type(exc).__name__}: {exc}); a cluster "
                    "with token authentication needs RAY_AUTH_MODE=token and its token here",
                ) from None
        else:
            ray.init(  # "local": a new Ray, never one a stale session file points at
                address="local",
                num_cpus=workers or cores(),
                include_dashboard=False,
                log_to_driver=False,
            )
        self.workers = int(ray.cluster_resources().get("CPU", 1))
        self._task = ray.remote(num_cpus=1, max_retries=0)(_ray_point)
        self._shipped: list[tuple[Any, _Shipped]] = []
        self._pending: dict[Any, PointJob] = {}
        self.bundle_bytes = 0

    def describe(self) -> str:
        where = self.address or "a local Ray"
        return f"Ray ({where}, {self.workers} CPUs)"

    def _ship(self, job: PointJob) -> _Shipped:
        """The job's data, put in the object store once per config."""
        for config, shipped in self._shipped:
            if config is job.config:  # the points of a sweep share their base config
                return shipped
        bundle = make_bundle(job.config)
        self.bundle_bytes += bundle.size
        shipped = _Shipped(self._ray.put(bundle), bundle.layout())
        self._shipped.append((job.config, shipped))
        return shipped

    def run(self, jobs: Sequence[PointJob]) -> Iterator[PointResult]:
        ray = self._ray
        self._pending = {}
        for job in jobs:
            shipped = self._ship(job)
            self._pending[self._task.remote(job, [shipped.ref], shipped.layout, self.root)] = job
        while self._pending:
            done, _ = ray.wait(list(self._pending), num_returns=1)
            for ref in done:
                job = self._pending.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as exc:  # the task or its worker failed outside run_point
                    yield lost(job, f"Ray task failed: {type(exc).__name__}: {exc}")

    def abort(self) -> None:
        """Drop the points in flight; ``close`` (``ray.shutdown``) ends their tasks with
        the job. Not ``ray.cancel(force=True)`` per task: racing a task that is just
        finishing, it aborts the sweep's own process (Ray 2.60's "Check failed: Tried to
        complete task that was not pending"), losing the summary and the exit code."""
        self._pending = {}

    def close(self) -> None:
        self._ray.shutdown()


REACH_TIMEOUT_S = 5.0


@contextlib.contextmanager
def _quiet_client() -> Iterator[None]:
    """Ray's client joining a cluster: without its timeout warning and its note of the
    arguments it passes on (stderr is the sweep's one-line error, should it fail)."""
    builder = logging.getLogger("ray.client_builder")
    level = builder.level
    builder.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        builder.setLevel(level)


def check_reachable(address: str, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """A TCP connection to the cluster's port before Ray is asked to join it: Ray's own
    client retries for ~30 s and then warns in several lines; a trader who mistyped
    the host hears it here in at most ``timeout_s``, in one line."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        if isinstance(exc, TimeoutError):
            reason = f"no answer within {timeout_s:g} s"
        else:
            reason = exc.strerror or str(exc)
        raise ConfigError(
            f"--ray {address}",
            "",
            f"cannot reach {host}:{port} ({reason}): is the cluster's head up, and its "
            "port open to this machine?",
        ) from None


def check_ray_address(address: str) -> str:
    """``--ray ADDRESS``: ``ray://host:port`` (a cluster's client port), ``host:port``
    (on a cluster's node) or ``auto``; "" is a local Ray. Else a one-line error."""
    if address in ("", "auto"):
        return address
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    # http://… is the dashboard's address, not the client's
    if not sep or not host or "://" in host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"--ray {address}", "", "expected ray://HOST:PORT (e.g. ray://10.0.0.5:10001)"
        )
    return address
