"""The replicated state machine: applies log entries to a record store.

``StateMachine.apply(entry, store, index)`` runs every request of an entry in order
against an overlay of the store (a request sees the effects of earlier ones in the same
entry), then commits all changes with ``index`` in one ``store.commit``. It is
deterministic: time comes only from ``entry.now_ms``; it reads no clock and draws no
random numbers. Bad input inside a command never raises: it becomes that request's
Result code and changes nothing. Only errors of the store itself propagate.

Semantics are Aerospike's (see MISSION.md): record-exists actions, generation checks,
TTL -> void time, expired records treated as absent, null deleting a bin, a record left
without bins being deleted, max record size, filter expressions. A command's filter is
evaluated after the record-exists and generation checks (a read, delete or touch of an
absent record answers KEY_NOT_FOUND first), against the live record or its absence, at
``entry.now_ms``; unless it is true the command answers FILTERED_OUT and changes nothing.

A ``Batch`` applies its commands in order, each as above, with one Result each
(``Result.batch``); a ``Truncate`` records a truncation marker that makes the records it
covers absent to every later read (``raftstore.truncation``), and a write after it gets a
last-update above the marker's lut; an ``Expire`` (nsup, ``raftstore.expiry``) deletes the
listed records that are still unchanged and expired, with their index rows.

Secondary indexes (``raftstore.sindex``): whenever the overlay stages a record, it also
stages the index rows that change with it (the stored record's values, expired or not,
against the new one's, for every index of the namespace, building or ready), so they are
committed in the same batch. ``CreateIndex`` and ``DropIndex`` define and remove an index
(with all its rows); ``BuildIndex`` indexes the next slice of stored records after the
index's build cursor and marks it ready at the end.

Exactly-once: a write request with a ``client_id`` is deduplicated through that
client's ``Session``, kept in the record store (so it is replicated, snapshotted and
survives restarts like a record): a retry of a seq whose Result is cached gets that
Result without applying again; a seq below the session's floor (acknowledged, or evicted
beyond SESSION_MAX_RESULTS) is refused with PARAMETER_ERROR. Reads are never cached.
Corrupt stored rows are store errors: they propagate rather than become a Result.

Thread: called only from the raft apply thread of the owning partition group.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import msgpack

from raftstore.commands import (
    Batch,
    BuildIndex,
    Command,
    CreateIndex,
    Delete,
    DropIndex,
    Entry,
    Expire,
    ExpiredRecord,
    ExpiredSession,
    Operate,
    Put,
    Read,
    Request,
    Result,
    Touch,
    Truncate,
)
from raftstore.errors import (
    FilteredOut,
    GenerationError,
    IndexFound,
    IndexNotFound,
    NamespaceNotFound,
    ParameterError,
    RaftstoreError,
    RecordExists,
    RecordNotFound,
    RecordTooBig,
    ResultCode,
)
from raftstore.expiry import still_expired
from raftstore.expressions import BinRead, Call, ExpType, Literal, MetaRead, Subject, selects
from raftstore.keys import DIGEST_SIZE, Key, UserKey, user_key_bytes, validate_set
from raftstore.namespaces import NamespaceConfig
from raftstore.operations import apply_ops, is_read_only, validate_ops
from raftstore.policy import (
    TTL_KEEP,
    TTL_NAMESPACE_DEFAULT,
    TTL_NEVER,
    GenPolicy,
    RecordExistsAction,
    WritePolicy,
)
from raftstore.records import (
    NEVER_EXPIRES,
    Record,
    decode_record,
    encode_record,
    is_expired,
    next_generation,
)
from raftstore.sindex import (
    IndexDef,
    IndexState,
    advanced,
    decode_state,
    encode_state,
    index_prefix,
    index_row,
    row_changes,
    values_of,
)
from raftstore.storage.base import Changes, RecordStore
from raftstore.truncation import hides, lut_for
from raftstore.values import Value, decode_value, encode_value, normalize_bins, validate_bin_name

SESSION_FORMAT_VERSION = 1
SESSION_MAX_RESULTS = 1024
SESSION_IDLE_RESET_MS = 3600 * 1000

# Errors raised for malformed command objects (wrong field types...): each is a
# deterministic consequence of the input, so it becomes PARAMETER_ERROR.
_MALFORMED = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError)


class _StoreFailure(Exception):
    """Wraps an error of the store (its cause) so request handling lets it through."""


# --- overlay --------------------------------------------------------------------------


class _Overlay:
    """The store as one entry sees it: committed rows plus the entry's pending changes."""

    __slots__ = (
        "_dirty_indexes",
        "_dirty_sessions",
        "_dropped",
        "_index_rows",
        "_indexes",
        "_markers",
        "_new_markers",
        "_records",
        "_row_changes",
        "_sessions",
        "_store",
    )

    def __init__(self, store: RecordStore) -> None:
        self._store = store
        self._records: dict[tuple[str, bytes], Record | None] = {}
        self._row_changes: dict[tuple[str, bytes], bytes | None] = {}
        self._sessions: dict[bytes, Session | None] = {}
        self._dirty_sessions: dict[bytes, Session | None] = {}  # None: delete
        self._markers: Mapping[tuple[str, str], int] = _guarded(store.truncations)
        self._new_markers: dict[tuple[str, str], int] = {}
        self._indexes: dict[str, IndexState] | None = None
        self._dirty_indexes: dict[str, IndexState | None] = {}
        self._dropped: list[str] = []
        self._index_rows: dict[bytes, bytes | None] = {}

    def record(self, key: Key) -> Record | None:
        """The record under ``key`` (expired or not), or None; a record that a truncation
        marker hides is None (``raftstore.truncation``)."""
        return self.record_at(key.namespace, key.digest)

    def record_at(self, namespace: str, digest: bytes) -> Record | None:
        """The record stored under (``namespace``, ``digest``), expired or not, or None
        (also when a truncation marker hides it)."""
        row = (namespace, digest)
        if row not in self._records:
            record = _guarded(lambda: _decode_optional(self._store.get(*row)))
            if record is not None and hides(self._markers, namespace, record):
                record = None
            self._records[row] = record
        return self._records[row]

    def lut(self, namespace: str, set_name: str) -> int:
        """The truncation lut covering records of ``namespace``/``set_name`` (-1: none)."""
        return lut_for(self._markers, namespace, set_name)

    def highest_lut(self, namespace: str, set_name: str) -> int:
        """The highest lut covering any record that a truncate of ``namespace``/``set_name``
        reaches (set "": of every marker of the namespace; -1: none)."""
        if set_name:
            return self.lut(namespace, set_name)
        return max((lut for (ns, _), lut in self._markers.items() if ns == namespace), default=-1)

    def marker(self, namespace: str, set_name: str) -> int:
        """The lut of exactly this marker (-1: none)."""
        return self._markers.get((namespace, set_name), -1)

    def put_marker(self, namespace: str, set_name: str, lut_ms: int) -> None:
        """Stage a truncation marker; records read so far that it hides become absent."""
        self._markers = {**self._markers, (namespace, set_name): lut_ms}
        self._new_markers[(namespace, set_name)] = lut_ms
        for (ns, digest), record in list(self._records.items()):
            if ns == namespace and record is not None and hides(self._markers, ns, record):
                self._records[(ns, digest)] = None

    def live_record(self, key: Key, now_ms: int) -> Record | None:
        """The record under ``key`` unless absent or expired at ``now_ms``."""
        record = self.record(key)
        return None if record is None or is_expired(record, now_ms) else record

    def put_record(self, key: Key, record: Record | None, data: bytes | None) -> None:
        """Stage ``record`` (None deletes) whose encoding is ``data``."""
        row = (key.namespace, key.digest)
        indexes = self.indexes_of(key.namespace)
        if indexes:  # index rows change in the same batch as the record
            changes = row_changes(indexes, key.digest, self._indexed(key), record)
            self._index_rows.update(changes)
        self._records[row] = record
        self._row_changes[row] = data

    def _indexed(self, key: Key) -> Record | None:
        """The record whose index rows are stored for ``key``: staged in this entry, else
        the stored row even if a truncation marker hides it (its index rows stay until
        the row is rewritten or deleted)."""
        row = (key.namespace, key.digest)
        record = self.record(key)
        if record is None and row not in self._row_changes and self._markers:
            record = _guarded(lambda: _decode_optional(self._store.get(*row)))
        return record

    def indexes(self) -> dict[str, IndexState]:
        """Every secondary index of the group as the entry has left it so far."""
        if self._indexes is None:
            defs = _guarded(self._store.index_defs)
            self._indexes = {name: decode_state(data) for name, data in defs.items()}
        return self._indexes

    def indexes_of(self, namespace: str) -> dict[str, IndexState]:
        return {n: s for n, s in self.indexes().items() if s.definition.namespace == namespace}

    def put_index(self, state: IndexState) -> None:
        """Stage an index's (new) definition or build state."""
        self.indexes()[state.definition.name] = state
        self._dirty_indexes[state.definition.name] = state

    def put_index_rows(self, rows: dict[bytes, bytes | None]) -> None:
        self._index_rows.update(rows)

    def drop_index(self, name: str) -> None:
        """Stage the removal of an index's definition and every row of it."""
        del self.indexes()[name]
        self._dirty_indexes[name] = None
        self._dropped.append(name)
        prefix = index_prefix(name)
        for key in [k for k in self._index_rows if k.startswith(prefix)]:
            del self._index_rows[key]

    def stored_rows(self, namespace: str, after: bytes, limit: int) -> list[bytes]:
        """Digests of up to ``limit`` + 1 stored records of ``namespace`` after ``after``
        (b"": from the start), in (partition, digest) order, as committed. Their records
        are kept (decoded on demand by ``record_at``), so they are read only once."""

        def read() -> list[tuple[bytes, bytes]]:
            rows = self._store.scan(namespace, None, after or None)
            try:
                return list(itertools.islice(rows, limit + 1))
            finally:
                close = getattr(rows, "close", None)
                if close is not None:
                    close()

        rows = _guarded(read)
        for digest, data in rows[:limit]:
            if (namespace, digest) not in self._records:
                record = _guarded(lambda d=data: decode_record(d))
                if hides(self._markers, namespace, record):
                    record = None  # truncated: not indexed
                self._records[(namespace, digest)] = record
        return [digest for digest, _ in rows]

    def session(self, client_id: bytes) -> Session | None:
        """The client's session as of the requests applied so far, or None."""
        if client_id not in self._sessions:
            self._sessions[client_id] = _guarded(
                lambda: _decode_session_optional(self._store.get_session(client_id))
            )
        return self._sessions[client_id]

    def put_session(self, client_id: bytes, session: Session) -> None:
        """Stage ``session``; it is encoded once when the entry's changes are taken."""
        self._sessions[client_id] = session
        self._dirty_sessions[client_id] = session

    def drop_session(self, client_id: bytes) -> None:
        """Stage the deletion of the client's session (nsup: it was idle too long)."""
        self._sessions[client_id] = None
        self._dirty_sessions[client_id] = None

    def changes(self) -> Changes:
        """Everything staged so far; each changed session is encoded once, here."""
        sessions: dict[bytes, bytes | None] = {
            cid: None if s is None else encode_session(s) for cid, s in self._dirty_sessions.items()
        }
        index_defs = {
            name: None if state is None else encode_state(state)
            for name, state in self._dirty_indexes.items()
        }
        return Changes(
            records=dict(self._row_changes),
            sessions=sessions,
            truncations=dict(self._new_markers),
            dropped_indexes=list(self._dropped),
            index_defs=index_defs,
            index_rows=dict(self._index_rows),
        )


def _guarded(fn: Callable[[], Any]) -> Any:
    """Call ``fn`` (a store access); wrap any error in _StoreFailure."""
    try:
        return fn()
    except Exception as e:
        raise _StoreFailure() from e


def _decode_optional(data: bytes | None) -> Record | None:
    return None if data is None else decode_record(data)


def _decode_session_optional(data: bytes | None) -> Session | None:
    return None if data is None else decode_session(data)


# --- the state machine ----------------------------------------------------------------


class StateMachine:
    """Applies entries of one partition group; holds only the namespace configuration."""

    __slots__ = ("_namespaces",)

    def __init__(self, namespaces: Mapping[str, NamespaceConfig]) -> None:
        self._namespaces = dict(namespaces)

    def apply(self, entry: Entry, store: RecordStore, index: int) -> list[Result]:
        """Apply every request of ``entry`` and commit all changes with ``index``.

        Returns one Result per request, in order. ``store.commit`` is called exactly
        once, also when nothing changed. Raises only what the store raises.
        """
        view = _Overlay(store)
        try:
            results = [self._apply_request(r, view, entry.now_ms) for r in entry.requests]
        except _StoreFailure as failure:
            raise failure.__cause__ from None
        store.commit(view.changes(), index)
        return results

    def read(self, store: RecordStore, read: Read, now_ms: int) -> Result:
        """Evaluate ``read`` against the committed state, as apply would, without a commit."""
        if not isinstance(read, Read):
            return _error(ResultCode.PARAMETER_ERROR, "a local read needs a Read command")
        try:
            return self._execute(read, _Overlay(store), now_ms)
        except _StoreFailure as failure:
            raise failure.__cause__ from None

    def _apply_request(self, request: Request, view: _Overlay, now_ms: int) -> Result:
        if not isinstance(request, Request):
            return _error(ResultCode.PARAMETER_ERROR, "entry holds something other than a Request")
        if not request.client_id or isinstance(request.command, Read):
            return self._execute(request.command, view, now_ms)
        return self._apply_once(request, view, now_ms)

    def _apply_once(self, request: Request, view: _Overlay, now_ms: int) -> Result:
        """Apply a session request at most once; a retry gets the cached Result."""
        problem = _session_request_problem(request)
        if problem:
            return _error(ResultCode.PARAMETER_ERROR, problem)
        session = _resume(view.session(request.client_id), now_ms)
        session = _acknowledge(session, request.acked_seq)
        cached = session.results.get(request.seq)
        if cached is not None and not _same_shape(request.command, cached):
            result = _error(ResultCode.PARAMETER_ERROR, "seq reused for a different batch")
        elif cached is not None:
            result = cached
        elif request.seq < session.floor:
            result = _error(ResultCode.PARAMETER_ERROR, "duplicate of an acknowledged request")
        else:
            result = self._execute(request.command, view, now_ms)
            session = _remember(session, request.seq, result)
        view.put_session(request.client_id, replace(session, last_seen_ms=now_ms))
        return result

    def _execute(self, command: Command, view: _Overlay, now_ms: int) -> Result:
        """Run one command; a RaftstoreError or malformed input becomes the Result."""
        handler = _HANDLERS.get(type(command))
        if handler is None:
            return _error(ResultCode.PARAMETER_ERROR, f"unknown command {type(command).__name__}")
        try:
            _validate_filter(command.filter)
            return handler(self, command, view, now_ms)
        except _StoreFailure:
            raise
        except RaftstoreError as e:
            return _error(e.code, e.message)
        except _MALFORMED as e:
            return _error(ResultCode.PARAMETER_ERROR, f"malformed command: {e}")

    def _namespace(self, key: object) -> NamespaceConfig:
        """The namespace of a well-formed key; ParameterError or NamespaceNotFound."""
        if not isinstance(key, Key):
            raise ParameterError("command key must be a Key")
        if not isinstance(key.digest, bytes) or len(key.digest) != DIGEST_SIZE:
            raise ParameterError(f"key digest must be {DIGEST_SIZE} bytes")
        config = self._namespaces.get(key.namespace)
        if config is None:
            raise NamespaceNotFound(f"namespace {key.namespace!r} is not configured")
        return config

    # --- commands -----------------------------------------------------------------

    def _put(self, cmd: Put, view: _Overlay, now_ms: int) -> Result:
        config = self._namespace(cmd.key)
        policy = _policy(cmd.policy)
        bins = normalize_bins(cmd.bins)
        if not bins:
            raise ParameterError("put needs at least one bin")
        current = view.live_record(cmd.key, now_ms)
        _check_exists(policy.exists, current)
        _check_generation(policy, current)
        _check_filter(cmd, current, now_ms)
        replacing = policy.exists in (RecordExistsAction.REPLACE, RecordExistsAction.REPLACE_ONLY)
        base = {} if current is None or replacing else current.bins
        merged = {**base, **bins}
        merged = {name: value for name, value in merged.items() if value is not None}
        write = _Write(cmd.key, config, policy, current, now_ms)
        return _store_bins(view, write, merged)

    def _delete(self, cmd: Delete, view: _Overlay, now_ms: int) -> Result:
        self._namespace(cmd.key)
        policy = _policy(cmd.policy)
        current = view.live_record(cmd.key, now_ms)
        if current is None:
            raise RecordNotFound("record not found")
        _check_generation(policy, current)
        _check_filter(cmd, current, now_ms)
        view.put_record(cmd.key, None, None)
        return Result()

    def _touch(self, cmd: Touch, view: _Overlay, now_ms: int) -> Result:
        config = self._namespace(cmd.key)
        policy = _policy(cmd.policy)
        current = view.live_record(cmd.key, now_ms)
        if current is None:
            raise RecordNotFound("record not found")
        _check_generation(policy, current)
        _check_filter(cmd, current, now_ms)
        return _store_bins(view, _Write(cmd.key, config, policy, current, now_ms), current.bins)

    def _operate(self, cmd: Operate, view: _Overlay, now_ms: int) -> Result:
        config = self._namespace(cmd.key)
        policy = _policy(cmd.policy)
        ops = validate_ops(cmd.ops)
        current = view.live_record(cmd.key, now_ms)
        if is_read_only(ops):
            if current is None:
                raise RecordNotFound("record not found")
            _check_filter(cmd, current, now_ms)
            outcome = apply_ops(current.bins, ops)
            return replace(_metadata_result(current), op_results=outcome.results)
        action = policy.exists
        if action == RecordExistsAction.REPLACE:
            action = RecordExistsAction.UPDATE
        _check_exists(action, current)
        _check_generation(policy, current)
        _check_filter(cmd, current, now_ms)
        outcome = apply_ops(None if current is None else current.bins, ops)
        write = _Write(cmd.key, config, policy, current, now_ms)
        result = _store_bins(view, write, outcome.bins or {})
        return replace(result, op_results=outcome.results)

    def _batch(self, cmd: Batch, view: _Overlay, now_ms: int) -> Result:
        if not isinstance(cmd.commands, tuple):
            raise ParameterError("batch commands must be a tuple")
        return Result(batch=tuple(self._batch_item(c, view, now_ms) for c in cmd.commands))

    def _batch_item(self, command: Command, view: _Overlay, now_ms: int) -> Result:
        if isinstance(command, (Batch, Truncate, Expire)):
            return _error(
                ResultCode.PARAMETER_ERROR, "a batch cannot hold a batch, truncate or expire"
            )
        return self._execute(command, view, now_ms)

    def _truncate(self, cmd: Truncate, view: _Overlay, now_ms: int) -> Result:
        if not isinstance(cmd.namespace, str) or cmd.namespace not in self._namespaces:
            raise NamespaceNotFound(f"namespace {cmd.namespace!r} is not configured")
        set_name = validate_set(cmd.set_name)
        before = cmd.before_ms
        if isinstance(before, bool) or not isinstance(before, int) or before < 0:
            raise ParameterError("truncate before_ms must be an int >= 0")
        # "Now": above every last-update a record of the set can have (a write after an
        # earlier truncate of the same millisecond was given the old lut + 1).
        covering = view.highest_lut(cmd.namespace, set_name)
        ceiling = now_ms if now_ms > covering else covering + 1
        lut = ceiling if before == 0 else min(before, ceiling)
        lut = max(lut, view.marker(cmd.namespace, set_name))  # a marker never shrinks
        view.put_marker(cmd.namespace, set_name, lut)
        return Result(last_update_ms=lut)

    def _expire(self, cmd: Expire, view: _Overlay, now_ms: int) -> Result:
        """Delete each listed record still as the sweep saw it and expired (see Expire)."""
        if not isinstance(cmd.namespace, str) or cmd.namespace not in self._namespaces:
            raise NamespaceNotFound(f"namespace {cmd.namespace!r} is not configured")
        if isinstance(cmd.now_ms, bool) or not isinstance(cmd.now_ms, int):
            raise ParameterError("expire now_ms must be an int")
        if not isinstance(cmd.records, tuple) or not all(
            isinstance(r, ExpiredRecord)
            and isinstance(r.digest, bytes)
            and len(r.digest) == DIGEST_SIZE
            for r in cmd.records
        ):
            raise ParameterError(
                f"expire records must be ExpiredRecords of {DIGEST_SIZE}-byte digests"
            )
        if not isinstance(cmd.sessions, tuple) or not all(
            isinstance(s, ExpiredSession)
            and isinstance(s.client_id, bytes)
            and len(s.client_id) > 0
            and isinstance(s.last_seen_ms, int)
            for s in cmd.sessions
        ):
            raise ParameterError("expire sessions must be ExpiredSessions of client ids")
        at = min(cmd.now_ms, now_ms)
        deleted = 0
        for seen in cmd.records:
            record = view.record_at(cmd.namespace, seen.digest)
            if still_expired(record, seen, at):
                assert record is not None
                key = Key(cmd.namespace, record.set_name, None, seen.digest)
                view.put_record(key, None, None)  # its index rows go in the same batch
                deleted += 1
        sessions = 0
        for idle in cmd.sessions:
            session = view.session(idle.client_id)
            if session_idle(session, idle, at):
                view.drop_session(idle.client_id)
                sessions += 1
        return Result(generation=deleted, bins={"sessions": sessions} if sessions else {})

    def _read(self, cmd: Read, view: _Overlay, now_ms: int) -> Result:
        self._namespace(cmd.key)
        names = None if cmd.bins is None else _bin_names(cmd.bins)
        current = view.live_record(cmd.key, now_ms)
        if current is None:
            raise RecordNotFound("record not found")
        _check_filter(cmd, current, now_ms)
        result = _metadata_result(current)
        if cmd.header_only:
            return result
        if names is None:
            return replace(result, bins=dict(current.bins))
        return replace(result, bins={n: current.bins[n] for n in names if n in current.bins})

    # --- secondary indexes --------------------------------------------------------

    def _index_namespace(self, namespace: object) -> None:
        if not isinstance(namespace, str) or namespace not in self._namespaces:
            raise NamespaceNotFound(f"namespace {namespace!r} is not configured")

    def _create_index(self, cmd: CreateIndex, view: _Overlay, now_ms: int) -> Result:
        if not isinstance(cmd.definition, IndexDef):
            raise ParameterError("an index definition must be an IndexDef")
        definition = cmd.definition.validate()
        self._index_namespace(definition.namespace)
        existing = view.indexes().get(definition.name)
        if existing is not None:
            if existing.definition != definition:
                raise IndexFound(
                    f"index {definition.name!r} exists with another definition "
                    f"({existing.definition.bin!r} {existing.definition.type.name})"
                )
            return Result()
        view.put_index(IndexState(definition))
        return Result()

    def _drop_index(self, cmd: DropIndex, view: _Overlay, now_ms: int) -> Result:
        self._index_namespace(cmd.namespace)
        state = view.indexes().get(cmd.name)
        if state is None or state.definition.namespace != cmd.namespace:
            raise IndexNotFound(f"index {cmd.name!r} does not exist in {cmd.namespace!r}")
        view.drop_index(cmd.name)
        return Result()

    def _build_index(self, cmd: BuildIndex, view: _Overlay, now_ms: int) -> Result:
        """Index the next slice of existing records (see BuildIndex)."""
        state = view.indexes().get(cmd.name)
        if state is None or state.ready or state.cursor != cmd.cursor:
            return Result(message="stale build slice: nothing to do")
        if not isinstance(cmd.limit, int) or cmd.limit < 1:
            raise ParameterError("a build slice needs a limit of at least 1")
        ns = state.definition.namespace
        digests = view.stored_rows(ns, cmd.cursor, cmd.limit)
        done = len(digests) <= cmd.limit
        digests = digests[: cmd.limit]
        rows: dict[bytes, bytes | None] = {}
        for digest in digests:
            for value in values_of(state.definition, view.record_at(ns, digest)):
                rows[index_row(cmd.name, value, digest)] = b""
        view.put_index_rows(rows)
        cursor = digests[-1] if digests else cmd.cursor
        view.put_index(advanced(state, cursor, len(digests), done))
        return Result()


_HANDLERS: dict[type, Callable[[StateMachine, Any, _Overlay, int], Result]] = {
    Put: StateMachine._put,
    Delete: StateMachine._delete,
    Touch: StateMachine._touch,
    Operate: StateMachine._operate,
    Read: StateMachine._read,
    Batch: StateMachine._batch,
    Truncate: StateMachine._truncate,
    Expire: StateMachine._expire,
    CreateIndex: StateMachine._create_index,
    DropIndex: StateMachine._drop_index,
    BuildIndex: StateMachine._build_index,
}


# --- writing records ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Write:
    """What decides the metadata of a record being written."""

    key: Key
    config: NamespaceConfig
    policy: WritePolicy
    current: Record | None
    now_ms: int


def _store_bins(view: _Overlay, write: _Write, bins: dict[str, Value]) -> Result:
    """Stage the record ``write`` produces with ``bins`` (no bins: delete it)."""
    if not bins:
        view.put_record(write.key, None, None)
        return Result()
    # Above any truncation lut of its set, so that a write after a truncate survives it
    # even when it carries the same (or, after a leader change, an earlier) clock.
    lut = view.lut(write.key.namespace, write.key.set_name)
    record = Record(
        bins=bins,
        generation=next_generation(write.current),
        void_time_ms=_void_time(write),
        last_update_ms=write.now_ms if write.now_ms > lut else lut + 1,
        set_name=write.key.set_name,
        user_key=_user_key(write),
    )
    data = encode_record(record)
    if len(data) > write.config.max_record_size:
        raise RecordTooBig(
            f"record would be {len(data)} bytes; namespace {write.config.name!r} "
            f"allows {write.config.max_record_size}"
        )
    view.put_record(write.key, record, data)
    return _metadata_result(record)


def _void_time(write: _Write) -> int:
    """Absolute expiry (ms, 0 = never) for the write's policy ttl."""
    ttl = write.policy.ttl
    if ttl == TTL_KEEP and write.current is not None:
        return write.current.void_time_ms
    if ttl == TTL_NEVER:
        return NEVER_EXPIRES
    if ttl in (TTL_KEEP, TTL_NAMESPACE_DEFAULT):
        ttl = write.config.default_ttl
        if ttl == 0:
            return NEVER_EXPIRES
    return write.now_ms + ttl * 1000


def _user_key(write: _Write) -> UserKey | None:
    """The key sent with a send-key write, else the one already stored (if any)."""
    if write.policy.send_key and write.key.user_key is not None:
        user_key_bytes(write.key.user_key)  # validates
        return write.key.user_key
    return None if write.current is None else write.current.user_key


def _policy(policy: object) -> WritePolicy:
    if not isinstance(policy, WritePolicy):
        raise ParameterError("write policy must be a WritePolicy")
    return policy.validate()


def _check_exists(action: RecordExistsAction, current: Record | None) -> None:
    """Enforce the record-exists action against the (live) current record."""
    if current is None and action in (
        RecordExistsAction.UPDATE_ONLY,
        RecordExistsAction.REPLACE_ONLY,
    ):
        raise RecordNotFound("record not found")
    if current is not None and action == RecordExistsAction.CREATE_ONLY:
        raise RecordExists("record already exists")


def _check_generation(policy: WritePolicy, current: Record | None) -> None:
    """Enforce the generation policy; it applies only to an existing record."""
    if current is None or policy.gen == GenPolicy.NONE:
        return
    if policy.gen == GenPolicy.EXPECT_GEN_EQUAL and current.generation != policy.generation:
        raise GenerationError(
            f"record generation is {current.generation}, expected {policy.generation}"
        )
    if policy.gen == GenPolicy.EXPECT_GEN_GT and not policy.generation > current.generation:
        raise GenerationError(
            f"expected generation {policy.generation} is not above the record's "
            f"{current.generation}"
        )


_NODES = (Literal, BinRead, MetaRead, Call)


def _validate_filter(node: object) -> None:
    """A command's filter must be None or a parsed boolean expression."""
    if node is not None and not (isinstance(node, _NODES) and node.type is ExpType.BOOL):
        raise ParameterError("a filter must be a parsed boolean expression")


def _check_filter(cmd: Command, current: Record | None, now_ms: int) -> None:
    """FilteredOut unless the command has no filter or it selects ``current``."""
    if cmd.filter is not None and not selects(cmd.filter, Subject(current, cmd.key, now_ms)):
        raise FilteredOut("the filter expression did not select the record")


def _same_shape(command: Command, cached: Result) -> bool:
    """A cached result answers a retry only if it is a batch's exactly when the retry is
    one, of as many commands."""
    if isinstance(command, Batch):
        return isinstance(command.commands, tuple) and len(cached.batch) == len(command.commands)
    return not cached.batch


def _bin_names(names: object) -> list[str]:
    if not isinstance(names, (tuple, list)):
        raise ParameterError("read bins must be a tuple of bin names or None")
    return [validate_bin_name(name) for name in names]


def _metadata_result(record: Record) -> Result:
    return Result(
        generation=record.generation,
        void_time_ms=record.void_time_ms,
        last_update_ms=record.last_update_ms,
    )


def _error(code: ResultCode, message: str) -> Result:
    return Result(code=ResultCode(code), message=message)


# --- exactly-once sessions ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Session:
    """A client's deduplication state.

    ``results`` maps seq -> Result of requests applied but not yet acknowledged.
    Requests with seq < ``floor`` were acknowledged (or evicted to keep at most
    SESSION_MAX_RESULTS results) and are refused rather than applied again.
    """

    floor: int = 0
    last_seen_ms: int = 0
    results: Mapping[int, Result] = field(default_factory=dict)
    # seq -> the stored bytes of that seq's row, a cache of ``encode_session`` (a batch's
    # cached result is large: re-encoding every row at every entry dominated apply)
    packed: Mapping[int, bytes] = field(default_factory=dict, compare=False, repr=False)


def _session_request_problem(request: Request) -> str:
    """Why a session request is malformed ('' when it is fine)."""
    if not isinstance(request.client_id, bytes):
        return "client_id must be bytes"
    for name in ("seq", "acked_seq"):
        value = getattr(request, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{name} must be an int >= 0"
    return ""


def session_idle(session: Session | None, seen: ExpiredSession, now_ms: int) -> bool:
    """True when ``session`` is the one the sweep saw (same last use) and idle beyond
    SESSION_IDLE_RESET_MS at ``now_ms``: only then may an Expire delete it. Such a session
    already reads as absent (``_resume``), so deleting it changes no result."""
    return (
        session is not None
        and session.last_seen_ms == seen.last_seen_ms
        and now_ms - session.last_seen_ms > SESSION_IDLE_RESET_MS
    )


def _resume(session: Session | None, now_ms: int) -> Session:
    """The client's session, or a fresh one if it has none or was idle over an hour."""
    if session is None or now_ms - session.last_seen_ms > SESSION_IDLE_RESET_MS:
        return Session(last_seen_ms=now_ms)
    return session


def _acknowledge(session: Session, acked_seq: int) -> Session:
    """Raise the floor to ``acked_seq`` and drop the results below it."""
    if acked_seq <= session.floor:
        return session
    kept = {seq: r for seq, r in session.results.items() if seq >= acked_seq}
    return replace(session, floor=acked_seq, results=kept)


def _remember(session: Session, seq: int, result: Result) -> Session:
    """Cache ``result`` under ``seq``; evict the lowest seqs beyond the bound."""
    results = dict(session.results)
    results[seq] = result
    floor = session.floor
    if len(results) > SESSION_MAX_RESULTS:
        ordered = sorted(results)
        evicted = ordered[: len(results) - SESSION_MAX_RESULTS]
        results = {s: results[s] for s in ordered[len(evicted) :]}
        floor = max(floor, evicted[-1] + 1)
    return replace(session, floor=floor, results=results)


_DECODED: OrderedDict[bytes, Session] = OrderedDict()
"""Stored session bytes -> the Session they decode to (the last ``_DECODED_MAX`` encoded
or decoded), so that the next entry of a client does not decode what the previous one
encoded. A pure cache: a Session is a function of its bytes. Raft apply threads only."""
_DECODED_MAX = 256


def _cache_session(data: bytes, session: Session) -> None:
    _DECODED[data] = session
    _DECODED.move_to_end(data)
    while len(_DECODED) > _DECODED_MAX:
        _DECODED.popitem(last=False)


def encode_session(session: Session) -> bytes:
    """Stored bytes of a session (msgpack ``[version, floor, last_seen, rows]``, a row
    ``[seq, *result]`` per cached result in seq order). Rows already encoded once
    (``Session.packed``) are reused as they are: a msgpack array is its header followed
    by its packed items, so the bytes equal those of packing the whole structure."""
    seqs = sorted(session.results)
    rows = [
        session.packed.get(seq) or encode_value([seq, *_result_row(session.results[seq])])
        for seq in seqs
    ]
    packer = msgpack.Packer(use_bin_type=True)
    head = packer.pack_array_header(4) + packer.pack(SESSION_FORMAT_VERSION)
    head += packer.pack(session.floor) + packer.pack(session.last_seen_ms)
    data = head + packer.pack_array_header(len(rows)) + b"".join(rows)
    _cache_session(data, replace(session, packed=dict(zip(seqs, rows, strict=True))))
    return data


def decode_session(data: bytes) -> Session:
    """Inverse of ``encode_session``; raises ValueError on an unknown format."""
    cached = _DECODED.get(data)
    if cached is not None:
        _DECODED.move_to_end(data)
        return cached
    version, floor, last_seen_ms, rows = decode_value(data)
    if version != SESSION_FORMAT_VERSION:
        raise ValueError(f"unknown session format version {version}")
    results = {row[0]: _result_from_row(row[1:]) for row in rows}
    session = Session(floor=floor, last_seen_ms=last_seen_ms, results=results)
    _cache_session(bytes(data), session)
    return session


def _result_row(result: Result) -> list[Value]:
    pairs = [list(pair) for pair in result.op_results]
    return [
        int(result.code),
        result.generation,
        result.void_time_ms,
        result.last_update_ms,
        result.bins,
        pairs,
        result.message,
        [_result_row(r) for r in result.batch],
    ]


def _result_from_row(row: list[Value]) -> Result:
    code, generation, void_time_ms, last_update_ms, bins, pairs, message = row[:7]
    batch = tuple(_result_from_row(r) for r in row[7]) if len(row) > 7 else ()
    return Result(
        code=ResultCode(code),
        generation=generation,
        void_time_ms=void_time_ms,
        last_update_ms=last_update_ms,
        bins=bins,
        op_results=tuple((name, value) for name, value in pairs),
        message=message,
        batch=batch,
    )
