"""Where a batch runs: an embedded Dask ``LocalCluster``, an existing scheduler, or SLURM jobs (dask-jobqueue).

The embedded cluster listens on loopback only. SLURM workers must reach the scheduler over the network, so
that cluster uses TLS with certificates made for the run (``security=True`` of dask-jobqueue).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rtfer.errors import RtferError

log = logging.getLogger(__name__)

DASHBOARD = "127.0.0.1:8787"
QUIET_HTTP = "127.0.0.1:0"  # without --dashboard the scheduler still serves /health: loopback, any free port
SLURM_DEFAULTS: dict[str, Any] = {"cores": 2, "processes": 1, "memory": "4GB", "walltime": "04:00:00",
                                  "security": True}


@dataclass
class Connection:
    """A connected client, what it is connected to, and the threads each task should use (None: the worker's
    cores shared by its task slots)."""

    client: Any
    description: str
    threads: int | None
    local: bool


def _value(text: str) -> Any:
    """``--slurm-opt`` values: integers and true/false as such, anything else as text."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return int(text) if text.isdigit() else text


def slurm_options(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs for ``SLURMCluster`` over rtfer's defaults (queue=..., account=..., memory=...)."""
    options = dict(SLURM_DEFAULTS)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise RtferError(f"--slurm-opt takes KEY=VALUE, not {pair!r}")
        options[key.strip().replace("-", "_")] = _value(value.strip())
    return options


def slurm_cluster(jobs: int, pairs: list[str]):
    """A ``SLURMCluster`` asking for ``jobs`` jobs (not started until the scheduler grants them)."""
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise RtferError("--slurm needs dask-jobqueue: pip install 'rtfer[slurm]'") from None
    cluster = SLURMCluster(**slurm_options(pairs))
    cluster.scale(jobs=jobs)
    return cluster


@contextmanager
def connect(workers: int | None = None, scheduler: str | None = None, slurm_jobs: int | None = None,
            slurm_opts: list[str] | None = None, dashboard: bool = False) -> Iterator[Connection]:
    """A Dask client for the chosen cluster, closed (and an embedded cluster shut down) on exit."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise RtferError("rtfer batch needs Dask: pip install 'rtfer[batch]'") from None
    if sum(x is not None for x in (workers, scheduler, slurm_jobs)) > 1:
        raise RtferError("choose one of --workers, --scheduler and --slurm")
    quiet = logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.ERROR  # Dask narrates at INFO
    logging.getLogger("distributed").setLevel(quiet)
    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout="15s")
            except (OSError, TimeoutError) as exc:
                raise RtferError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
            connection = Connection(client, f"scheduler {scheduler}", None, local=False)
        elif slurm_jobs is not None:
            cluster = slurm_cluster(slurm_jobs, slurm_opts or [])
            connection = Connection(Client(cluster), f"SLURM ({slurm_jobs} jobs)", None, local=False)
        else:
            cores = os.cpu_count() or 1
            count = cores if workers is None else workers
            if count < 1:
                raise RtferError("--workers must be at least 1")
            cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=DASHBOARD if dashboard else QUIET_HTTP,
                                   scheduler_kwargs={"dashboard": dashboard}, silence_logs=quiet)
            connection = Connection(Client(cluster), f"local ({count} worker processes)", max(1, cores // count),
                                    local=True)
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    if dashboard:
        log.info("Dask dashboard: %s", connection.client.dashboard_link)
    try:
        yield connection
    finally:
        connection.client.close()
        if cluster is not None:
            cluster.close()
