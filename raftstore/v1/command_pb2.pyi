from raftstore.v1 import exp_pb2 as _exp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Entry(_message.Message):
    __slots__ = ("format_version", "now_ms", "requests")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    NOW_MS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    now_ms: int
    requests: _containers.RepeatedCompositeFieldContainer[Request]
    def __init__(self, format_version: _Optional[int] = ..., now_ms: _Optional[int] = ..., requests: _Optional[_Iterable[_Union[Request, _Mapping]]] = ...) -> None: ...

class CommandKey(_message.Message):
    __slots__ = ("namespace", "set", "digest", "user_key")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    USER_KEY_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    set: str
    digest: bytes
    user_key: bytes
    def __init__(self, namespace: _Optional[str] = ..., set: _Optional[str] = ..., digest: _Optional[bytes] = ..., user_key: _Optional[bytes] = ...) -> None: ...

class CommandPolicy(_message.Message):
    __slots__ = ("exists", "generation_policy", "generation", "ttl", "send_key", "durable_delete")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_POLICY_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    SEND_KEY_FIELD_NUMBER: _ClassVar[int]
    DURABLE_DELETE_FIELD_NUMBER: _ClassVar[int]
    exists: int
    generation_policy: int
    generation: int
    ttl: int
    send_key: bool
    durable_delete: bool
    def __init__(self, exists: _Optional[int] = ..., generation_policy: _Optional[int] = ..., generation: _Optional[int] = ..., ttl: _Optional[int] = ..., send_key: _Optional[bool] = ..., durable_delete: _Optional[bool] = ...) -> None: ...

class PutCommand(_message.Message):
    __slots__ = ("key", "bins", "policy", "filter")
    KEY_FIELD_NUMBER: _ClassVar[int]
    BINS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    key: CommandKey
    bins: bytes
    policy: CommandPolicy
    filter: _exp_pb2.Expression
    def __init__(self, key: _Optional[_Union[CommandKey, _Mapping]] = ..., bins: _Optional[bytes] = ..., policy: _Optional[_Union[CommandPolicy, _Mapping]] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...

class DeleteCommand(_message.Message):
    __slots__ = ("key", "policy", "filter")
    KEY_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    key: CommandKey
    policy: CommandPolicy
    filter: _exp_pb2.Expression
    def __init__(self, key: _Optional[_Union[CommandKey, _Mapping]] = ..., policy: _Optional[_Union[CommandPolicy, _Mapping]] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...

class TouchCommand(_message.Message):
    __slots__ = ("key", "policy", "filter")
    KEY_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    key: CommandKey
    policy: CommandPolicy
    filter: _exp_pb2.Expression
    def __init__(self, key: _Optional[_Union[CommandKey, _Mapping]] = ..., policy: _Optional[_Union[CommandPolicy, _Mapping]] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...

class CommandOp(_message.Message):
    __slots__ = ("type", "bin", "value", "index", "has_count", "count", "map_key")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    BIN_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    HAS_COUNT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MAP_KEY_FIELD_NUMBER: _ClassVar[int]
    type: int
    bin: str
    value: bytes
    index: int
    has_count: bool
    count: int
    map_key: bytes
    def __init__(self, type: _Optional[int] = ..., bin: _Optional[str] = ..., value: _Optional[bytes] = ..., index: _Optional[int] = ..., has_count: _Optional[bool] = ..., count: _Optional[int] = ..., map_key: _Optional[bytes] = ...) -> None: ...

class OperateCommand(_message.Message):
    __slots__ = ("key", "ops", "policy", "filter")
    KEY_FIELD_NUMBER: _ClassVar[int]
    OPS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    key: CommandKey
    ops: _containers.RepeatedCompositeFieldContainer[CommandOp]
    policy: CommandPolicy
    filter: _exp_pb2.Expression
    def __init__(self, key: _Optional[_Union[CommandKey, _Mapping]] = ..., ops: _Optional[_Iterable[_Union[CommandOp, _Mapping]]] = ..., policy: _Optional[_Union[CommandPolicy, _Mapping]] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...

class ReadCommand(_message.Message):
    __slots__ = ("key", "all_bins", "bins", "header_only", "filter")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ALL_BINS_FIELD_NUMBER: _ClassVar[int]
    BINS_FIELD_NUMBER: _ClassVar[int]
    HEADER_ONLY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    key: CommandKey
    all_bins: bool
    bins: _containers.RepeatedScalarFieldContainer[str]
    header_only: bool
    filter: _exp_pb2.Expression
    def __init__(self, key: _Optional[_Union[CommandKey, _Mapping]] = ..., all_bins: _Optional[bool] = ..., bins: _Optional[_Iterable[str]] = ..., header_only: _Optional[bool] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...

class Request(_message.Message):
    __slots__ = ("client_id", "seq", "acked_seq", "put", "delete", "touch", "operate", "read", "batch", "truncate", "expire", "create_index", "drop_index", "build_index")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ACKED_SEQ_FIELD_NUMBER: _ClassVar[int]
    PUT_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    TOUCH_FIELD_NUMBER: _ClassVar[int]
    OPERATE_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    TRUNCATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_FIELD_NUMBER: _ClassVar[int]
    CREATE_INDEX_FIELD_NUMBER: _ClassVar[int]
    DROP_INDEX_FIELD_NUMBER: _ClassVar[int]
    BUILD_INDEX_FIELD_NUMBER: _ClassVar[int]
    client_id: bytes
    seq: int
    acked_seq: int
    put: PutCommand
    delete: DeleteCommand
    touch: TouchCommand
    operate: OperateCommand
    read: ReadCommand
    batch: BatchCommand
    truncate: TruncateCommand
    expire: ExpireCommand
    create_index: CreateIndexCommand
    drop_index: DropIndexCommand
    build_index: BuildIndexCommand
    def __init__(self, client_id: _Optional[bytes] = ..., seq: _Optional[int] = ..., acked_seq: _Optional[int] = ..., put: _Optional[_Union[PutCommand, _Mapping]] = ..., delete: _Optional[_Union[DeleteCommand, _Mapping]] = ..., touch: _Optional[_Union[TouchCommand, _Mapping]] = ..., operate: _Optional[_Union[OperateCommand, _Mapping]] = ..., read: _Optional[_Union[ReadCommand, _Mapping]] = ..., batch: _Optional[_Union[BatchCommand, _Mapping]] = ..., truncate: _Optional[_Union[TruncateCommand, _Mapping]] = ..., expire: _Optional[_Union[ExpireCommand, _Mapping]] = ..., create_index: _Optional[_Union[CreateIndexCommand, _Mapping]] = ..., drop_index: _Optional[_Union[DropIndexCommand, _Mapping]] = ..., build_index: _Optional[_Union[BuildIndexCommand, _Mapping]] = ...) -> None: ...

class BatchCommand(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Request]
    def __init__(self, items: _Optional[_Iterable[_Union[Request, _Mapping]]] = ...) -> None: ...

class TruncateCommand(_message.Message):
    __slots__ = ("namespace", "set", "before_ms")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    BEFORE_MS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    set: str
    before_ms: int
    def __init__(self, namespace: _Optional[str] = ..., set: _Optional[str] = ..., before_ms: _Optional[int] = ...) -> None: ...

class ExpireCommand(_message.Message):
    __slots__ = ("namespace", "now_ms", "records", "sessions")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NOW_MS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    now_ms: int
    records: _containers.RepeatedCompositeFieldContainer[ExpiredRecord]
    sessions: _containers.RepeatedCompositeFieldContainer[ExpiredSession]
    def __init__(self, namespace: _Optional[str] = ..., now_ms: _Optional[int] = ..., records: _Optional[_Iterable[_Union[ExpiredRecord, _Mapping]]] = ..., sessions: _Optional[_Iterable[_Union[ExpiredSession, _Mapping]]] = ...) -> None: ...

class ExpiredSession(_message.Message):
    __slots__ = ("client_id", "last_seen_ms")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_MS_FIELD_NUMBER: _ClassVar[int]
    client_id: bytes
    last_seen_ms: int
    def __init__(self, client_id: _Optional[bytes] = ..., last_seen_ms: _Optional[int] = ...) -> None: ...

class ExpiredRecord(_message.Message):
    __slots__ = ("digest", "generation", "void_time_ms")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    VOID_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    digest: bytes
    generation: int
    void_time_ms: int
    def __init__(self, digest: _Optional[bytes] = ..., generation: _Optional[int] = ..., void_time_ms: _Optional[int] = ...) -> None: ...

class IndexDefinition(_message.Message):
    __slots__ = ("namespace", "name", "set", "bin", "type", "collection")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    BIN_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    set: str
    bin: str
    type: int
    collection: int
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., set: _Optional[str] = ..., bin: _Optional[str] = ..., type: _Optional[int] = ..., collection: _Optional[int] = ...) -> None: ...

class CreateIndexCommand(_message.Message):
    __slots__ = ("definition",)
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    definition: IndexDefinition
    def __init__(self, definition: _Optional[_Union[IndexDefinition, _Mapping]] = ...) -> None: ...

class DropIndexCommand(_message.Message):
    __slots__ = ("namespace", "name")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class BuildIndexCommand(_message.Message):
    __slots__ = ("namespace", "name", "cursor", "limit")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    cursor: bytes
    limit: int
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., cursor: _Optional[bytes] = ..., limit: _Optional[int] = ...) -> None: ...
