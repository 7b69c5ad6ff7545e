"""Named failpoints: places in the node where a test can make the process crash, stall or fail.

Disabled unless the node runs with --enable-failpoints (or the environment variable
RAFTSTORE_FAILPOINTS is set when it starts). When disabled, ``hit`` is a no-op that costs
one attribute check.

Points: ``journal.write`` (before an entry is written), ``journal.before_fsync``,
``journal.after_fsync``, ``apply.before``, ``apply.after`` (applied, before any reply),
``snapshot.install``.

Actions: ``crash`` (SIGKILL to this process: nothing is flushed, like kill -9),
``delay:<ms>`` (blocks the raft loop), ``error:<errno name>`` (raises OSError with that
errno where the point is, as a failing disk would: ``error:EIO``, ``error:ENOSPC``),
``off``. ``skip`` lets that many hits pass first; ``count`` (0: unlimited) disarms the
point after it has fired that many times, so that a stall cannot keep the loop from ever
hearing the request to end it.
RAFTSTORE_FAILPOINTS="name=action[@skip][*count],..." arms points at start-up.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

POINTS = frozenset(
    {
        "journal.write",
        "journal.before_fsync",
        "journal.after_fsync",
        "apply.before",
        "apply.after",
        "snapshot.install",
    }
)


class FailpointError(ValueError):
    pass


@dataclass(slots=True)
class _Armed:
    action: str
    skip: int
    count: int  # firings left; 0: unlimited


class Failpoints:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._armed: dict[str, _Armed] = {}

    def arm(self, name: str, action: str, skip: int = 0, count: int = 0) -> None:
        if not self.enabled:
            raise FailpointError(
                "failpoints are disabled (start the node with --enable-failpoints)"
            )
        if name not in POINTS:
            raise FailpointError(f"unknown failpoint {name!r}; known: {sorted(POINTS)}")
        if action == "off":
            self._armed.pop(name, None)
            return
        if action != "crash" and not _delay_or_error(action):
            raise FailpointError(
                f"unknown action {action!r}: use crash, delay:<ms>, error:<errno name> or off"
            )
        self._armed[name] = _Armed(action, max(0, skip), max(0, count))
        log.warning(
            "failpoint %s armed: %s (after %d hits, %s times)", name, action, skip, count or "any"
        )

    def arm_from_env(self, spec: str) -> None:
        for item in filter(None, (s.strip() for s in spec.split(","))):
            name, _, rest = item.partition("=")
            rest, _, count = rest.partition("*")
            action, _, skip = rest.partition("@")
            try:
                skip_hits, times = int(skip or 0), int(count or 0)
            except ValueError as e:
                raise FailpointError(f"bad failpoint spec {item!r}: {e}") from None
            self.arm(name, action, skip_hits, times)

    def hit(self, name: str) -> None:
        if not self._armed:
            return
        armed = self._armed.get(name)
        if armed is None:
            return
        if armed.skip > 0:
            armed.skip -= 1
            return
        if armed.count > 0:
            armed.count -= 1
            if armed.count == 0:
                del self._armed[name]
        if armed.action == "crash":
            log.critical("failpoint %s: crashing", name)
            os.kill(os.getpid(), signal.SIGKILL)
        elif armed.action.startswith("error:"):
            code = getattr(errno, armed.action[6:])
            raise OSError(code, f"{os.strerror(code)} (failpoint {name})")
        else:
            time.sleep(int(armed.action[6:]) / 1000)


def _delay_or_error(action: str) -> bool:
    kind, _, arg = action.partition(":")
    if kind == "delay":
        return arg.isdigit()
    return kind == "error" and arg.startswith("E") and isinstance(getattr(errno, arg, None), int)
