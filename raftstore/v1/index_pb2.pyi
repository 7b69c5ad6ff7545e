from raftstore.v1 import exp_pb2 as _exp_pb2
from raftstore.v1 import kv_pb2 as _kv_pb2
from raftstore.v1 import values_pb2 as _values_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IndexType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INDEX_TYPE_UNSPECIFIED: _ClassVar[IndexType]
    INDEX_TYPE_NUMERIC: _ClassVar[IndexType]
    INDEX_TYPE_STRING: _ClassVar[IndexType]

class IndexCollection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INDEX_COLLECTION_UNSPECIFIED: _ClassVar[IndexCollection]
    INDEX_COLLECTION_LIST: _ClassVar[IndexCollection]
    INDEX_COLLECTION_MAPKEYS: _ClassVar[IndexCollection]
    INDEX_COLLECTION_MAPVALUES: _ClassVar[IndexCollection]
INDEX_TYPE_UNSPECIFIED: IndexType
INDEX_TYPE_NUMERIC: IndexType
INDEX_TYPE_STRING: IndexType
INDEX_COLLECTION_UNSPECIFIED: IndexCollection
INDEX_COLLECTION_LIST: IndexCollection
INDEX_COLLECTION_MAPKEYS: IndexCollection
INDEX_COLLECTION_MAPVALUES: IndexCollection

class CreateIndexRequest(_message.Message):
    __slots__ = ("header", "namespace", "set", "bin", "type", "collection", "name", "group")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    BIN_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    header: _kv_pb2.RequestHeader
    namespace: str
    set: str
    bin: str
    type: IndexType
    collection: IndexCollection
    name: str
    group: int
    def __init__(self, header: _Optional[_Union[_kv_pb2.RequestHeader, _Mapping]] = ..., namespace: _Optional[str] = ..., set: _Optional[str] = ..., bin: _Optional[str] = ..., type: _Optional[_Union[IndexType, str]] = ..., collection: _Optional[_Union[IndexCollection, str]] = ..., name: _Optional[str] = ..., group: _Optional[int] = ...) -> None: ...

class CreateIndexResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DropIndexRequest(_message.Message):
    __slots__ = ("header", "namespace", "name", "group")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    header: _kv_pb2.RequestHeader
    namespace: str
    name: str
    group: int
    def __init__(self, header: _Optional[_Union[_kv_pb2.RequestHeader, _Mapping]] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ..., group: _Optional[int] = ...) -> None: ...

class DropIndexResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListIndexesRequest(_message.Message):
    __slots__ = ("header", "namespace", "group")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    header: _kv_pb2.RequestHeader
    namespace: str
    group: int
    def __init__(self, header: _Optional[_Union[_kv_pb2.RequestHeader, _Mapping]] = ..., namespace: _Optional[str] = ..., group: _Optional[int] = ...) -> None: ...

class IndexStatus(_message.Message):
    __slots__ = ("namespace", "name", "set", "bin", "type", "collection", "ready", "groups", "groups_ready", "groups_total", "records_examined", "progress")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    BIN_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    GROUPS_READY_FIELD_NUMBER: _ClassVar[int]
    GROUPS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RECORDS_EXAMINED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    set: str
    bin: str
    type: IndexType
    collection: IndexCollection
    ready: bool
    groups: int
    groups_ready: int
    groups_total: int
    records_examined: int
    progress: float
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., set: _Optional[str] = ..., bin: _Optional[str] = ..., type: _Optional[_Union[IndexType, str]] = ..., collection: _Optional[_Union[IndexCollection, str]] = ..., ready: _Optional[bool] = ..., groups: _Optional[int] = ..., groups_ready: _Optional[int] = ..., groups_total: _Optional[int] = ..., records_examined: _Optional[int] = ..., progress: _Optional[float] = ...) -> None: ...

class ListIndexesResponse(_message.Message):
    __slots__ = ("indexes",)
    INDEXES_FIELD_NUMBER: _ClassVar[int]
    indexes: _containers.RepeatedCompositeFieldContainer[IndexStatus]
    def __init__(self, indexes: _Optional[_Iterable[_Union[IndexStatus, _Mapping]]] = ...) -> None: ...

class QueryRequest(_message.Message):
    __slots__ = ("scan", "index", "bin", "collection", "lo", "hi", "filter")
    SCAN_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    BIN_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    LO_FIELD_NUMBER: _ClassVar[int]
    HI_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    scan: _kv_pb2.ScanRequest
    index: str
    bin: str
    collection: IndexCollection
    lo: _values_pb2.Value
    hi: _values_pb2.Value
    filter: _exp_pb2.Expression
    def __init__(self, scan: _Optional[_Union[_kv_pb2.ScanRequest, _Mapping]] = ..., index: _Optional[str] = ..., bin: _Optional[str] = ..., collection: _Optional[_Union[IndexCollection, str]] = ..., lo: _Optional[_Union[_values_pb2.Value, _Mapping]] = ..., hi: _Optional[_Union[_values_pb2.Value, _Mapping]] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...
