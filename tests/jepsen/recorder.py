"""The recording client: runs one worker's operations and writes each to the history.

A worker is one thread with one pinned `Client` (it reaches the cluster only through its
own node, as a Jepsen client does). It is strictly sequential: it records an ``invoke``,
runs the operation, records its completion, and only then invokes the next one. Its
operations appear in the history under a *process* id; Jepsen's rule applies: when an
operation's outcome is unknown (completed ``info``) the process is considered hung forever
and the worker continues under a new process id (``process + concurrency``).

Classifying an outcome (`classify`):

- the operation returned: ``ok`` with the value it returned;
- `OpFailed` (raised by a workload: a compare whose values differed, insufficient funds,
  nothing was written): ``fail``;
- `GenerationError`: ``fail`` — the generation check failed, nothing was written. With the
  client's exactly-once identity this is definite even after an in-doubt attempt (the
  retry of an applied write returns its original result), so recording it as ``fail``
  also tests that deduplication;
- any other `RaftstoreError`: ``info`` if ``in_doubt`` (a write that may have applied),
  else ``fail`` (a read, or a write that surely did not run);
- any other exception: ``info`` (unknown outcome; logged).

``error`` is the error's class name and result code, e.g. ``"Timeout(9)"`` or
``"Timeout(9, in-doubt)"``; an `OpFailed` gives its reason.

Thread-safety: one `Recorder` per worker thread; the `HistoryWriter` is shared.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from raftstore_client import Client, GenerationError, RaftstoreError

from tests.jepsen.history import HistoryWriter, Op, OpType

__all__ = ["Invocation", "OpFailed", "Outcome", "ProcessIds", "Recorder", "classify"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Invocation:
    """What a worker is about to do: Jepsen's ``f``, ``key`` and ``value``."""

    f: str
    key: Any = None
    value: Any = None


class OpFailed(Exception):
    """Raised by a workload when its operation certainly had no effect (recorded ``fail``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Outcome:
    """A completion: its type (ok, fail, info), value (ok only) and error text."""

    type: OpType
    value: Any = None
    error: str | None = None


def classify(exc: BaseException) -> Outcome:
    """The completion of an operation that raised ``exc`` (see the module docstring)."""
    if isinstance(exc, OpFailed):
        return Outcome(OpType.FAIL, error=exc.reason)
    if isinstance(exc, GenerationError):
        return Outcome(OpType.FAIL, error=error_text(exc))
    if isinstance(exc, RaftstoreError):
        return Outcome(OpType.INFO if exc.in_doubt else OpType.FAIL, error=error_text(exc))
    return Outcome(OpType.INFO, error=type(exc).__name__)


def error_text(exc: RaftstoreError) -> str:
    doubt = ", in-doubt" if exc.in_doubt else ""
    return f"{type(exc).__name__}({int(exc.code)}{doubt})"


class ProcessIds:
    """Process ids of the workers: worker w starts as process w; after an ``info`` it
    continues as ``process + concurrency`` (Jepsen's numbering, never reused)."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency

    def first(self, worker: int) -> int:
        return worker

    def next(self, process: int) -> int:
        return process + self.concurrency


Execute = Callable[[Client, Invocation], Any]


class Recorder:
    """Records the operations of one worker (see the module docstring).

    ``execute(client, invocation)`` runs one operation and returns its ``ok`` value; it
    raises to report anything else. ``node`` is the node the worker's client is pinned to.
    """

    def __init__(
        self,
        history: HistoryWriter,
        worker: int,
        node: str,
        client: Client,
        processes: ProcessIds,
    ) -> None:
        self.history = history
        self.worker = worker
        self.node = node
        self.client = client
        self._processes = processes
        self.process = processes.first(worker)
        self.counts: dict[str, int] = {t.value: 0 for t in (OpType.OK, OpType.FAIL, OpType.INFO)}
        self._lock = threading.Lock()

    def run(self, invocation: Invocation, execute: Execute) -> Op:
        """Invoke, execute and complete one operation; return the completion event."""
        with self._lock:  # a worker is sequential; the lock only guards misuse
            invoke = self.history.invoke(
                self.process, invocation.f, invocation.key, invocation.value, self.node
            )
            outcome = self._execute(invocation, execute)
            value = outcome.value if outcome.type is OpType.OK else invocation.value
            done = self.history.complete(invoke, outcome.type, value, outcome.error)
            self.counts[outcome.type.value] += 1
            if outcome.type is OpType.INFO:
                self.process = self._processes.next(self.process)
            return done

    def _execute(self, invocation: Invocation, execute: Execute) -> Outcome:
        try:
            return Outcome(OpType.OK, execute(self.client, invocation))
        except Exception as exc:
            outcome = classify(exc)
            if not isinstance(exc, (RaftstoreError, OpFailed)):
                log.warning("worker %d: %s %r raised", self.worker, invocation.f, exc)
            return outcome
