"""What a launcher is: the thing that decides *where* runners run.

A launcher receives one :class:`LaunchSpec` (which agent, which server, how many replicas) and
starts that many runners somewhere: the built-in ``local`` launcher runs them in this process
(the Trainer) or as child processes (``agl runner --replicas N``); ``agentlightning-ray`` runs
them as Ray actors on a cluster. Every runner reaches the same store, so a launcher never needs
to know about rollouts: placing, restarting and scaling processes is all it does.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from typing import Any


class LauncherError(RuntimeError):
    """A launcher could not start or keep its runners (bad options, unreachable cluster)."""


class ReplicaStatus(str, enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    EXITED = "exited"
    FAILED = "failed"


@dataclass
class ReplicaState:
    """One runner replica as its launcher sees it (shown by ``agl runner`` and the Trainer)."""

    index: int
    worker_id: str
    status: ReplicaStatus = ReplicaStatus.STARTING
    #: where it runs: a host name, a pid, a Ray node id
    location: str = ""
    restarts: int = 0
    error: str | None = None


@dataclass
class LaunchSpec:
    """What to launch. ``agent`` is a ``MODULE:OBJECT`` string (importable where the runner
    runs) or, for launchers that can carry objects (the in-process ``local`` one, Ray), the
    agent itself."""

    agent: Any
    replicas: int
    server_url: str | None = None
    concurrency: int = 1
    tracer: Any = None
    #: prefix of every replica's worker id (``<prefix>-<index>``); default: host-pid based
    worker_id: str | None = None
    #: keyword arguments of each :class:`~agentlightning_core.runner.Runner`
    runner_options: dict[str, Any] = field(default_factory=dict)
    #: bearer token of the server; handed to runners through their environment, never argv
    token: str | None = None
    #: the in-process store, for launchers that run runners in this process (the Trainer's)
    store: Any = None
    bus: Any = None
    #: in-process runners only: awaited before an attempt finishes (the Trainer flushes the
    #: proxy's buffered LLM spans there; remote runners finish through the server, which does it)
    before_finish: Any = None


def check_replicas(replicas: int, what: str = "replicas") -> int:
    """Refuse a replica count that would start nothing (a typo, not a wish)."""
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise LauncherError(
            f"{what} must be an integer >= 1 (got {replicas!r}): a launcher with no runners would run "
            f"nothing; to run runners elsewhere, start no launcher (Trainer(n_runners=0)) and point "
            f"`agl runner --server URL` at the server instead"
        )
    return replicas


class Launcher(abc.ABC):
    """Start, watch and stop ``spec.replicas`` runners.

    Lifecycle: ``await start(spec)`` returns once every replica was asked to start (not once it
    runs: Ray may still be placing it); ``await wait()`` returns when every replica has ended on
    its own and raises :class:`LauncherError` when one failed for good; ``await stop()`` ends
    them all (idempotent). :meth:`states` is a snapshot for logs and dashboards.
    """

    name: str = ""

    def __init__(self, **options: Any) -> None:
        if options:
            raise LauncherError(
                f"launcher {self.name!r} takes no option(s) {sorted(options)}; see docs/launchers.md"
            )

    @abc.abstractmethod
    async def start(self, spec: LaunchSpec) -> None: ...

    @abc.abstractmethod
    async def wait(self) -> None: ...

    @abc.abstractmethod
    async def stop(self, grace: float | None = None) -> None: ...

    @abc.abstractmethod
    def states(self) -> list[ReplicaState]: ...

    def describe(self) -> str:
        """One line per replica: ``worker-id  status  location  restarts  error``."""
        lines = []
        for s in self.states():
            extra = f" restarts={s.restarts}" if s.restarts else ""
            error = f" error={s.error}" if s.error else ""
            lines.append(f"{s.worker_id} {s.status.value} {s.location}{extra}{error}".rstrip())
        return "\n".join(lines)
