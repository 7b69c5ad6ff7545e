"""The state machine's input and output values.

One Raft log entry carries an ``Entry``: the leader's clock reading (``now_ms``, fixed
when the entry is proposed, so applying is deterministic) and the client requests
batched into it. ``raftstore.codec`` turns an Entry into the protobuf envelope that is
replicated and back.

Every command may carry a ``filter``: a parsed filter expression
(``raftstore.expressions``) evaluated against the record once it is found; a record it
does not select answers FILTERED_OUT and a write is not applied. None: no filter.

Bin values are plain Python values: None, bool, int (int64), float, str, bytes, list,
dict (keys int, str or bytes). A top-level None in a write deletes that bin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, TypeAlias

from raftstore.errors import ResultCode
from raftstore.keys import Key
from raftstore.policy import DEFAULT_WRITE_POLICY, WritePolicy

if TYPE_CHECKING:  # the client imports this module without the server's dependencies
    from raftstore.expressions import Node
    from raftstore.sindex import IndexDef

Value: TypeAlias = Any  # None | bool | int | float | str | bytes | list | dict, nested
Bins: TypeAlias = Mapping[str, Value]


class OpType(IntEnum):
    """Operations of an ``Operate`` command, applied in order and atomically."""

    READ = 1  # bin: value of the bin; bin "": every bin, one result each
    WRITE = 2  # bin, value (None deletes the bin)
    INCR = 3  # bin, value int|float; an absent bin counts as 0 of the value's type
    APPEND = 4  # bin, value str|bytes of the bin's type; absent bin starts empty
    PREPEND = 5
    TOUCH = 6  # refresh the expiry per the policy's ttl
    DELETE = 7  # delete the record (later ops in the same operate see no record)
    LIST_APPEND = 20  # bin, value -> new size
    LIST_APPEND_ITEMS = 21  # bin, value (list) -> new size
    LIST_INSERT = 22  # bin, index, value -> new size
    LIST_SET = 23  # bin, index, value -> (no result)
    LIST_GET = 24  # bin, index -> item
    LIST_GET_RANGE = 25  # bin, index, count (None: to the end) -> list
    LIST_POP = 26  # bin, index -> removed item
    LIST_REMOVE = 27  # bin, index, count (None: 1) -> number removed
    LIST_SIZE = 28  # bin -> size
    LIST_CLEAR = 29  # bin -> (no result)
    MAP_PUT = 40  # bin, map_key, value -> new size
    MAP_PUT_ITEMS = 41  # bin, value (dict) -> new size
    MAP_GET_BY_KEY = 42  # bin, map_key -> value or None
    MAP_REMOVE_BY_KEY = 43  # bin, map_key -> removed value or None
    MAP_INCREMENT = 44  # bin, map_key, value (int|float) -> new value
    MAP_SIZE = 45  # bin -> size
    MAP_CLEAR = 46  # bin -> (no result)


READ_ONLY_OPS = frozenset(
    {
        OpType.READ,
        OpType.LIST_GET,
        OpType.LIST_GET_RANGE,
        OpType.LIST_SIZE,
        OpType.MAP_GET_BY_KEY,
        OpType.MAP_SIZE,
    }
)


@dataclass(frozen=True, slots=True)
class Op:
    type: OpType
    bin: str = ""
    value: Value = None
    index: int = 0
    count: int | None = None
    map_key: Value = None


@dataclass(frozen=True, slots=True)
class Put:
    key: Key
    bins: Bins
    policy: WritePolicy = DEFAULT_WRITE_POLICY
    filter: Node | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    key: Key
    policy: WritePolicy = DEFAULT_WRITE_POLICY
    filter: Node | None = None


@dataclass(frozen=True, slots=True)
class Touch:
    key: Key
    policy: WritePolicy = DEFAULT_WRITE_POLICY
    filter: Node | None = None


@dataclass(frozen=True, slots=True)
class Operate:
    key: Key
    ops: tuple[Op, ...]
    policy: WritePolicy = DEFAULT_WRITE_POLICY
    filter: Node | None = None


@dataclass(frozen=True, slots=True)
class Read:
    """A read evaluated at apply time (a read through the log) or locally.

    ``bins`` None reads every bin; ``header_only`` returns metadata without bins.
    """

    key: Key
    bins: tuple[str, ...] | None = None
    header_only: bool = False
    filter: Node | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """Commands on keys of one partition group, applied in order in one log entry, each
    with its own Result (``Result.batch``): one failing command never fails the others.
    It carries one exactly-once identity (its Request's), so a retried batch is applied
    at most once as a whole. It may hold Put, Delete, Touch, Operate and Read; never a
    Batch or a Truncate. ``filter`` is unused (each command carries its own)."""

    commands: tuple[Put | Delete | Touch | Operate | Read, ...]
    filter: None = None


@dataclass(frozen=True, slots=True)
class Truncate:
    """Make every record of ``namespace`` (of one set when ``set_name`` is not empty) last
    updated at or before ``before_ms`` absent (Aerospike's truncate with lut). 0 means
    the entry's ``now_ms`` (the leader's clock); a time beyond it is clamped to it, so a
    truncate never hides a later write. ``filter`` is unused."""

    namespace: str
    set_name: str = ""
    before_ms: int = 0
    filter: None = None


@dataclass(frozen=True, slots=True)
class ExpiredRecord:
    """A record an nsup sweep found expired, as it saw it (``raftstore.expiry``)."""

    digest: bytes
    generation: int
    void_time_ms: int


@dataclass(frozen=True, slots=True)
class ExpiredSession:
    """A client's deduplication session an nsup sweep found idle, as it saw it."""

    client_id: bytes
    last_seen_ms: int


@dataclass(frozen=True, slots=True)
class Expire:
    """nsup: delete each listed record of ``namespace`` that is still as the sweep saw it
    (same generation and void time) and expired at ``now_ms`` — the proposing leader's
    clock, capped at the entry's ``now_ms`` — with its secondary-index rows. A record
    rewritten since (new generation or TTL), deleted or truncated is left alone. Its
    Result holds the number deleted in ``generation``. ``filter`` is unused.

    ``sessions``: deduplication sessions (of any client of the group) idle for longer than
    ``state_machine.SESSION_IDLE_RESET_MS`` at that clock and unchanged since the sweep
    saw them, deleted too: a session idle that long already counts as absent (a request
    then starts a fresh one), so deleting it changes no result, only the disk."""

    namespace: str
    now_ms: int
    records: tuple[ExpiredRecord, ...]
    sessions: tuple[ExpiredSession, ...] = ()
    filter: None = None


@dataclass(frozen=True, slots=True)
class CreateIndex:
    """Define a secondary index in this group (``raftstore.sindex``): BUILDING until
    ``BuildIndex`` slices have covered the existing records. The same definition again
    is OK and changes nothing; another definition under the name is INDEX_FOUND."""

    namespace: str
    definition: IndexDef
    filter: None = None


@dataclass(frozen=True, slots=True)
class DropIndex:
    """Remove an index and all its rows from this group; INDEX_NOTFOUND if absent."""

    namespace: str
    name: str
    filter: None = None


@dataclass(frozen=True, slots=True)
class BuildIndex:
    """Index at most ``limit`` records after ``cursor`` (the index's build cursor when
    proposed). A slice whose cursor is no longer the index's (a duplicate or stale
    proposal), or for an index that is ready or gone, changes nothing."""

    namespace: str
    name: str
    cursor: bytes
    limit: int
    filter: None = None


Command: TypeAlias = (
    Put
    | Delete
    | Touch
    | Operate
    | Read
    | Batch
    | Truncate
    | Expire
    | CreateIndex
    | DropIndex
    | BuildIndex
)


@dataclass(frozen=True, slots=True)
class Request:
    """A command with its exactly-once identity.

    ``client_id`` empty disables deduplication. Otherwise ``seq`` numbers the client's
    commands and ``acked_seq`` promises that every result with a lower seq was received.
    """

    command: Command
    client_id: bytes = b""
    seq: int = 0
    acked_seq: int = 0


@dataclass(frozen=True, slots=True)
class Entry:
    """The replicated unit: one Raft log entry."""

    now_ms: int
    requests: tuple[Request, ...]


@dataclass(frozen=True, slots=True)
class Result:
    """Outcome of one request.

    ``bins`` is set for reads (None for header-only reads and for writes);
    ``op_results`` lists (bin, value) for each operate op that returns a value, in order.
    ``void_time_ms`` 0 means the record never expires. A Batch's own Result holds one
    Result per command in ``batch``; a Truncate's holds its effective lut in
    ``last_update_ms``; an Expire's the number of records it deleted in ``generation``.
    """

    code: ResultCode = ResultCode.OK
    generation: int = 0
    void_time_ms: int = 0
    last_update_ms: int = 0
    bins: dict[str, Value] | None = None
    op_results: tuple[tuple[str, Value], ...] = field(default=())
    message: str = ""
    batch: tuple[Result, ...] = field(default=())  # one per command of a Batch

    @property
    def ok(self) -> bool:
        return self.code == ResultCode.OK
