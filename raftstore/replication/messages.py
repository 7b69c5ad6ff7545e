"""Shape checks for peer messages received from the mesh.

pysyncobj indexes into messages without checking them. Every message from the mesh is
checked here first; anything unexpected is dropped (and logged by the caller) instead of
raising inside pysyncobj. Only the message types raftstore uses are accepted: pysyncobj's
votes, entries, acknowledgements and snapshot chunks, and raftstore's own ReadIndex probes
(``rs_probe``, ``rs_probe_ack``; see readindex.py). Commands are never forwarded through
pysyncobj ('apply_command'), and oversized entries are never split into pickled
'transmission' chunks (the entry size cap is below the batch size).

`trim_append_entries` then rewrites an accepted append_entries so that pysyncobj only
truncates the log where Raft says to (see its docstring).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

_REQUIRED: dict[str, dict[str, type]] = {
    "request_vote": {"term": int, "last_log_index": int, "last_log_term": int},
    "response_vote": {"term": int},
    "append_entries": {"term": int, "commit_index": int},
    "next_node_idx": {"next_node_idx": int, "reset": bool, "success": bool},
    "timeout_now": {"term": int},
    "rs_probe": {"term": int, "seq": int},
    "rs_probe_ack": {"term": int, "seq": int, "ok": bool},
}
_OPTIONAL_APPEND = {"entries", "prevLogIdx", "prevLogTerm", "serialized"}


def _is_int(v: object) -> bool:
    return type(v) is int and v >= 0


def _check_fields(message: dict[str, Any], required: dict[str, type]) -> str | None:
    for name, kind in required.items():
        value = message.get(name)
        if kind is int and not _is_int(value):
            return f"field {name!r} must be a non-negative int"
        if kind is bool and type(value) is not bool:
            return f"field {name!r} must be a bool"
    return None


def _check_entries(entries: object) -> str | None:
    if not isinstance(entries, tuple):
        return "entries must be a sequence"
    for e in entries:
        if not (
            isinstance(e, tuple)
            and len(e) == 3
            and isinstance(e[0], bytes)
            and e[0]
            and _is_int(e[1])
            and _is_int(e[2])
        ):
            return "malformed log entry"
    idx = [e[1] for e in entries]
    if any(b != a + 1 for a, b in itertools.pairwise(idx)):
        return "entries are not consecutive"
    return None


def _check_append(message: dict[str, Any]) -> str | None:
    extra = set(message) - set(_REQUIRED["append_entries"]) - _OPTIONAL_APPEND - {"type"}
    if extra:
        return f"unexpected fields {sorted(extra)}"
    if "prevLogIdx" in message:
        for name in ("prevLogIdx", "prevLogTerm"):
            if not _is_int(message.get(name)):
                return f"field {name!r} must be a non-negative int"
        return _check_entries(message.get("entries", ()))
    serialized = message.get("serialized")
    if serialized is None:
        return None
    if not (
        isinstance(serialized, tuple)
        and len(serialized) == 3
        and isinstance(serialized[0], bytes)
        and type(serialized[1]) is bool
        and type(serialized[2]) is bool
    ):
        return "malformed snapshot chunk"
    return None


def check_message(message: object) -> str | None:
    """None if ``message`` is a well-formed pysyncobj message raftstore accepts, else why not."""
    if not isinstance(message, dict):
        return "message is not a map"
    kind = message.get("type")
    if kind not in _REQUIRED:
        return f"unsupported message type {kind!r}"
    problem = _check_fields(message, _REQUIRED[kind])
    if problem is None and kind == "append_entries":
        problem = _check_append(message)
    elif problem is None and set(message) - set(_REQUIRED[kind]) - {"type"}:
        problem = "unexpected fields"
    return problem


def trim_append_entries(
    message: dict[str, Any],
    term_at: Callable[[int], int | None],
    last_index: int,
    commit_index: int,
) -> dict[str, Any]:
    """``message`` (a checked append_entries) rewritten so that pysyncobj does not truncate
    log entries that already match the leader's log.

    pysyncobj deletes every entry after ``prevLogIdx`` and appends the message's entries,
    whatever they are. A stale or repeated append_entries (or a heartbeat whose
    ``prevLogIdx`` lags behind acknowledgements in flight) therefore removes entries this
    replica has already acknowledged — entries the leader may have counted towards a
    commit — and rewrites entries it has already applied. Raft (§5.3) truncates only from
    the first entry whose term conflicts with the leader's. So:

    - entries of the message that are already in the log with the same term are dropped
      from it (``prevLogIdx``/``prevLogTerm`` move up to the last of them): pysyncobj then
      truncates from the first conflicting or missing entry, as Raft does;
    - when every entry matches and the log goes further, the part beyond that this replica
      knows matches the leader's log is kept too: up to its last entry if that entry has
      the message's term (it came from this same leader, so by Log Matching everything
      before it matches), else up to the commit index (committed entries are in every
      later leader's log). The acknowledgement then covers exactly what is known to match;
      an unverified tail of older terms is still truncated, as before.

    Anything else (no ``prevLogIdx``, a ``prevLogIdx`` that does not match, which pysyncobj
    answers with a reset) is returned unchanged.
    """
    if "prevLogIdx" not in message:
        return message
    prev, prev_term = message["prevLogIdx"], message["prevLogTerm"]
    if term_at(prev) != prev_term:
        return message
    entries = tuple(message.get("entries", ()))
    for k, (_, idx, term) in enumerate(entries):
        if term_at(idx) != term:
            if k == 0:
                return message
            _, prev, prev_term = entries[k - 1]
            return {**message, "prevLogIdx": prev, "prevLogTerm": prev_term, "entries": entries[k:]}
    verified = prev + len(entries)
    if last_index > verified:
        if term_at(last_index) == message["term"]:
            verified = last_index
        else:
            verified = max(verified, min(commit_index, last_index))
    if verified == prev:
        return message
    verified_term = term_at(verified)
    if verified_term is None:  # not reachable: every index up to last_index is in the log
        return message
    return {**message, "prevLogIdx": verified, "prevLogTerm": verified_term, "entries": ()}
