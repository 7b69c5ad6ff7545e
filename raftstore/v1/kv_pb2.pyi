from raftstore.v1 import exp_pb2 as _exp_pb2
from raftstore.v1 import values_pb2 as _values_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RecordExistsAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECORD_EXISTS_ACTION_UNSPECIFIED: _ClassVar[RecordExistsAction]
    RECORD_EXISTS_ACTION_UPDATE: _ClassVar[RecordExistsAction]
    RECORD_EXISTS_ACTION_UPDATE_ONLY: _ClassVar[RecordExistsAction]
    RECORD_EXISTS_ACTION_REPLACE: _ClassVar[RecordExistsAction]
    RECORD_EXISTS_ACTION_REPLACE_ONLY: _ClassVar[RecordExistsAction]
    RECORD_EXISTS_ACTION_CREATE_ONLY: _ClassVar[RecordExistsAction]

class GenerationPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GENERATION_POLICY_UNSPECIFIED: _ClassVar[GenerationPolicy]
    GENERATION_POLICY_NONE: _ClassVar[GenerationPolicy]
    GENERATION_POLICY_EXPECT_GEN_EQUAL: _ClassVar[GenerationPolicy]
    GENERATION_POLICY_EXPECT_GEN_GT: _ClassVar[GenerationPolicy]

class ReadMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    READ_MODE_UNSPECIFIED: _ClassVar[ReadMode]
    READ_MODE_LINEARIZE: _ClassVar[ReadMode]
    READ_MODE_SESSION: _ClassVar[ReadMode]
    READ_MODE_ALLOW_REPLICA: _ClassVar[ReadMode]

class OperationType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OPERATION_TYPE_UNSPECIFIED: _ClassVar[OperationType]
    OPERATION_TYPE_READ: _ClassVar[OperationType]
    OPERATION_TYPE_WRITE: _ClassVar[OperationType]
    OPERATION_TYPE_INCR: _ClassVar[OperationType]
    OPERATION_TYPE_APPEND: _ClassVar[OperationType]
    OPERATION_TYPE_PREPEND: _ClassVar[OperationType]
    OPERATION_TYPE_TOUCH: _ClassVar[OperationType]
    OPERATION_TYPE_DELETE: _ClassVar[OperationType]
    OPERATION_TYPE_LIST_APPEND: _ClassVar[OperationType]
    OPERATION_TYPE_LIST_APPEND_ITEMS: _ClassVar[OperationType]
    OPERATION_TYPE_LIST_INSERT: _ClassVar[OperationType]
    OPERATION_TYPE_LIST_SET: _ClassVar[OperationType]
    OPERATION_TYPE_LIST_GET: _ClassVar[OperationType]
    OPERATION_TYPE_LIST_GET_RANGE: _ClassVar[OperationType]
    OPERATION_TYPE_LIST_POP: _ClassVar[OperationType]
    OPERATION_TYPE_LIST_REMOVE: _ClassVar[OperationType]
    OPERATION_TYPE_LIST_SIZE: _ClassVar[OperationType]
    OPERATION_TYPE_LIST_CLEAR: _ClassVar[OperationType]
    OPERATION_TYPE_MAP_PUT: _ClassVar[OperationType]
    OPERATION_TYPE_MAP_PUT_ITEMS: _ClassVar[OperationType]
    OPERATION_TYPE_MAP_GET_BY_KEY: _ClassVar[OperationType]
    OPERATION_TYPE_MAP_REMOVE_BY_KEY: _ClassVar[OperationType]
    OPERATION_TYPE_MAP_INCREMENT: _ClassVar[OperationType]
    OPERATION_TYPE_MAP_SIZE: _ClassVar[OperationType]
    OPERATION_TYPE_MAP_CLEAR: _ClassVar[OperationType]

class BatchItemType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BATCH_ITEM_TYPE_UNSPECIFIED: _ClassVar[BatchItemType]
    BATCH_ITEM_TYPE_PUT: _ClassVar[BatchItemType]
    BATCH_ITEM_TYPE_DELETE: _ClassVar[BatchItemType]
    BATCH_ITEM_TYPE_OPERATE: _ClassVar[BatchItemType]
    BATCH_ITEM_TYPE_READ: _ClassVar[BatchItemType]
    BATCH_ITEM_TYPE_TOUCH: _ClassVar[BatchItemType]
RECORD_EXISTS_ACTION_UNSPECIFIED: RecordExistsAction
RECORD_EXISTS_ACTION_UPDATE: RecordExistsAction
RECORD_EXISTS_ACTION_UPDATE_ONLY: RecordExistsAction
RECORD_EXISTS_ACTION_REPLACE: RecordExistsAction
RECORD_EXISTS_ACTION_REPLACE_ONLY: RecordExistsAction
RECORD_EXISTS_ACTION_CREATE_ONLY: RecordExistsAction
GENERATION_POLICY_UNSPECIFIED: GenerationPolicy
GENERATION_POLICY_NONE: GenerationPolicy
GENERATION_POLICY_EXPECT_GEN_EQUAL: GenerationPolicy
GENERATION_POLICY_EXPECT_GEN_GT: GenerationPolicy
READ_MODE_UNSPECIFIED: ReadMode
READ_MODE_LINEARIZE: ReadMode
READ_MODE_SESSION: ReadMode
READ_MODE_ALLOW_REPLICA: ReadMode
OPERATION_TYPE_UNSPECIFIED: OperationType
OPERATION_TYPE_READ: OperationType
OPERATION_TYPE_WRITE: OperationType
OPERATION_TYPE_INCR: OperationType
OPERATION_TYPE_APPEND: OperationType
OPERATION_TYPE_PREPEND: OperationType
OPERATION_TYPE_TOUCH: OperationType
OPERATION_TYPE_DELETE: OperationType
OPERATION_TYPE_LIST_APPEND: OperationType
OPERATION_TYPE_LIST_APPEND_ITEMS: OperationType
OPERATION_TYPE_LIST_INSERT: OperationType
OPERATION_TYPE_LIST_SET: OperationType
OPERATION_TYPE_LIST_GET: OperationType
OPERATION_TYPE_LIST_GET_RANGE: OperationType
OPERATION_TYPE_LIST_POP: OperationType
OPERATION_TYPE_LIST_REMOVE: OperationType
OPERATION_TYPE_LIST_SIZE: OperationType
OPERATION_TYPE_LIST_CLEAR: OperationType
OPERATION_TYPE_MAP_PUT: OperationType
OPERATION_TYPE_MAP_PUT_ITEMS: OperationType
OPERATION_TYPE_MAP_GET_BY_KEY: OperationType
OPERATION_TYPE_MAP_REMOVE_BY_KEY: OperationType
OPERATION_TYPE_MAP_INCREMENT: OperationType
OPERATION_TYPE_MAP_SIZE: OperationType
OPERATION_TYPE_MAP_CLEAR: OperationType
BATCH_ITEM_TYPE_UNSPECIFIED: BatchItemType
BATCH_ITEM_TYPE_PUT: BatchItemType
BATCH_ITEM_TYPE_DELETE: BatchItemType
BATCH_ITEM_TYPE_OPERATE: BatchItemType
BATCH_ITEM_TYPE_READ: BatchItemType
BATCH_ITEM_TYPE_TOUCH: BatchItemType

class RequestHeader(_message.Message):
    __slots__ = ("no_forward", "client_id", "seq", "acked_seq", "session_token")
    NO_FORWARD_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ACKED_SEQ_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    no_forward: bool
    client_id: bytes
    seq: int
    acked_seq: int
    session_token: bytes
    def __init__(self, no_forward: _Optional[bool] = ..., client_id: _Optional[bytes] = ..., seq: _Optional[int] = ..., acked_seq: _Optional[int] = ..., session_token: _Optional[bytes] = ...) -> None: ...

class WritePolicy(_message.Message):
    __slots__ = ("exists", "generation_policy", "generation", "ttl", "send_key", "durable_delete")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_POLICY_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    SEND_KEY_FIELD_NUMBER: _ClassVar[int]
    DURABLE_DELETE_FIELD_NUMBER: _ClassVar[int]
    exists: RecordExistsAction
    generation_policy: GenerationPolicy
    generation: int
    ttl: int
    send_key: bool
    durable_delete: bool
    def __init__(self, exists: _Optional[_Union[RecordExistsAction, str]] = ..., generation_policy: _Optional[_Union[GenerationPolicy, str]] = ..., generation: _Optional[int] = ..., ttl: _Optional[int] = ..., send_key: _Optional[bool] = ..., durable_delete: _Optional[bool] = ...) -> None: ...

class ReadPolicy(_message.Message):
    __slots__ = ("read_mode",)
    READ_MODE_FIELD_NUMBER: _ClassVar[int]
    read_mode: ReadMode
    def __init__(self, read_mode: _Optional[_Union[ReadMode, str]] = ...) -> None: ...

class PutRequest(_message.Message):
    __slots__ = ("header", "key", "bins", "policy", "filter")
    class BinsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _values_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_values_pb2.Value, _Mapping]] = ...) -> None: ...
    HEADER_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    BINS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    header: RequestHeader
    key: _values_pb2.Key
    bins: _containers.MessageMap[str, _values_pb2.Value]
    policy: WritePolicy
    filter: _exp_pb2.Expression
    def __init__(self, header: _Optional[_Union[RequestHeader, _Mapping]] = ..., key: _Optional[_Union[_values_pb2.Key, _Mapping]] = ..., bins: _Optional[_Mapping[str, _values_pb2.Value]] = ..., policy: _Optional[_Union[WritePolicy, _Mapping]] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...

class WriteResponse(_message.Message):
    __slots__ = ("key", "metadata", "session_token")
    KEY_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    key: _values_pb2.Key
    metadata: _values_pb2.RecordMetadata
    session_token: bytes
    def __init__(self, key: _Optional[_Union[_values_pb2.Key, _Mapping]] = ..., metadata: _Optional[_Union[_values_pb2.RecordMetadata, _Mapping]] = ..., session_token: _Optional[bytes] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("header", "key", "bins", "header_only", "policy", "filter")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    BINS_FIELD_NUMBER: _ClassVar[int]
    HEADER_ONLY_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    header: RequestHeader
    key: _values_pb2.Key
    bins: _containers.RepeatedScalarFieldContainer[str]
    header_only: bool
    policy: ReadPolicy
    filter: _exp_pb2.Expression
    def __init__(self, header: _Optional[_Union[RequestHeader, _Mapping]] = ..., key: _Optional[_Union[_values_pb2.Key, _Mapping]] = ..., bins: _Optional[_Iterable[str]] = ..., header_only: _Optional[bool] = ..., policy: _Optional[_Union[ReadPolicy, _Mapping]] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("record", "session_token")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    record: _values_pb2.Record
    session_token: bytes
    def __init__(self, record: _Optional[_Union[_values_pb2.Record, _Mapping]] = ..., session_token: _Optional[bytes] = ...) -> None: ...

class ExistsRequest(_message.Message):
    __slots__ = ("header", "key", "policy", "filter")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    header: RequestHeader
    key: _values_pb2.Key
    policy: ReadPolicy
    filter: _exp_pb2.Expression
    def __init__(self, header: _Optional[_Union[RequestHeader, _Mapping]] = ..., key: _Optional[_Union[_values_pb2.Key, _Mapping]] = ..., policy: _Optional[_Union[ReadPolicy, _Mapping]] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...

class ExistsResponse(_message.Message):
    __slots__ = ("exists", "metadata", "session_token")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    metadata: _values_pb2.RecordMetadata
    session_token: bytes
    def __init__(self, exists: _Optional[bool] = ..., metadata: _Optional[_Union[_values_pb2.RecordMetadata, _Mapping]] = ..., session_token: _Optional[bytes] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("header", "key", "policy", "filter")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    header: RequestHeader
    key: _values_pb2.Key
    policy: WritePolicy
    filter: _exp_pb2.Expression
    def __init__(self, header: _Optional[_Union[RequestHeader, _Mapping]] = ..., key: _Optional[_Union[_values_pb2.Key, _Mapping]] = ..., policy: _Optional[_Union[WritePolicy, _Mapping]] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...

class TouchRequest(_message.Message):
    __slots__ = ("header", "key", "policy", "filter")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    header: RequestHeader
    key: _values_pb2.Key
    policy: WritePolicy
    filter: _exp_pb2.Expression
    def __init__(self, header: _Optional[_Union[RequestHeader, _Mapping]] = ..., key: _Optional[_Union[_values_pb2.Key, _Mapping]] = ..., policy: _Optional[_Union[WritePolicy, _Mapping]] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...

class Operation(_message.Message):
    __slots__ = ("type", "bin", "value", "index", "count", "map_key")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    BIN_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MAP_KEY_FIELD_NUMBER: _ClassVar[int]
    type: OperationType
    bin: str
    value: _values_pb2.Value
    index: int
    count: int
    map_key: _values_pb2.Value
    def __init__(self, type: _Optional[_Union[OperationType, str]] = ..., bin: _Optional[str] = ..., value: _Optional[_Union[_values_pb2.Value, _Mapping]] = ..., index: _Optional[int] = ..., count: _Optional[int] = ..., map_key: _Optional[_Union[_values_pb2.Value, _Mapping]] = ...) -> None: ...

class OperateRequest(_message.Message):
    __slots__ = ("header", "key", "operations", "policy", "read_policy", "filter")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    READ_POLICY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    header: RequestHeader
    key: _values_pb2.Key
    operations: _containers.RepeatedCompositeFieldContainer[Operation]
    policy: WritePolicy
    read_policy: ReadPolicy
    filter: _exp_pb2.Expression
    def __init__(self, header: _Optional[_Union[RequestHeader, _Mapping]] = ..., key: _Optional[_Union[_values_pb2.Key, _Mapping]] = ..., operations: _Optional[_Iterable[_Union[Operation, _Mapping]]] = ..., policy: _Optional[_Union[WritePolicy, _Mapping]] = ..., read_policy: _Optional[_Union[ReadPolicy, _Mapping]] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...

class OpResult(_message.Message):
    __slots__ = ("bin", "value")
    BIN_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    bin: str
    value: _values_pb2.Value
    def __init__(self, bin: _Optional[str] = ..., value: _Optional[_Union[_values_pb2.Value, _Mapping]] = ...) -> None: ...

class OperateResponse(_message.Message):
    __slots__ = ("record", "results", "session_token")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    record: _values_pb2.Record
    results: _containers.RepeatedCompositeFieldContainer[OpResult]
    session_token: bytes
    def __init__(self, record: _Optional[_Union[_values_pb2.Record, _Mapping]] = ..., results: _Optional[_Iterable[_Union[OpResult, _Mapping]]] = ..., session_token: _Optional[bytes] = ...) -> None: ...

class BatchRead(_message.Message):
    __slots__ = ("key", "bins", "header_only")
    KEY_FIELD_NUMBER: _ClassVar[int]
    BINS_FIELD_NUMBER: _ClassVar[int]
    HEADER_ONLY_FIELD_NUMBER: _ClassVar[int]
    key: _values_pb2.Key
    bins: _containers.RepeatedScalarFieldContainer[str]
    header_only: bool
    def __init__(self, key: _Optional[_Union[_values_pb2.Key, _Mapping]] = ..., bins: _Optional[_Iterable[str]] = ..., header_only: _Optional[bool] = ...) -> None: ...

class BatchGetRequest(_message.Message):
    __slots__ = ("header", "reads", "policy", "filter")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    READS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    header: RequestHeader
    reads: _containers.RepeatedCompositeFieldContainer[BatchRead]
    policy: ReadPolicy
    filter: _exp_pb2.Expression
    def __init__(self, header: _Optional[_Union[RequestHeader, _Mapping]] = ..., reads: _Optional[_Iterable[_Union[BatchRead, _Mapping]]] = ..., policy: _Optional[_Union[ReadPolicy, _Mapping]] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...

class BatchRecord(_message.Message):
    __slots__ = ("result_code", "record", "message")
    RESULT_CODE_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    result_code: int
    record: _values_pb2.Record
    message: str
    def __init__(self, result_code: _Optional[int] = ..., record: _Optional[_Union[_values_pb2.Record, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...

class BatchGetResponse(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[BatchRecord]
    def __init__(self, records: _Optional[_Iterable[_Union[BatchRecord, _Mapping]]] = ...) -> None: ...

class PartitionFilter(_message.Message):
    __slots__ = ("begin", "count", "after_digest")
    BEGIN_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    AFTER_DIGEST_FIELD_NUMBER: _ClassVar[int]
    begin: int
    count: int
    after_digest: bytes
    def __init__(self, begin: _Optional[int] = ..., count: _Optional[int] = ..., after_digest: _Optional[bytes] = ...) -> None: ...

class ScanRequest(_message.Message):
    __slots__ = ("header", "namespace", "set", "bins", "metadata_only", "partition_filter", "records_per_second", "page_size", "policy", "filter")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    BINS_FIELD_NUMBER: _ClassVar[int]
    METADATA_ONLY_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FILTER_FIELD_NUMBER: _ClassVar[int]
    RECORDS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    header: RequestHeader
    namespace: str
    set: str
    bins: _containers.RepeatedScalarFieldContainer[str]
    metadata_only: bool
    partition_filter: PartitionFilter
    records_per_second: int
    page_size: int
    policy: ReadPolicy
    filter: _exp_pb2.Expression
    def __init__(self, header: _Optional[_Union[RequestHeader, _Mapping]] = ..., namespace: _Optional[str] = ..., set: _Optional[str] = ..., bins: _Optional[_Iterable[str]] = ..., metadata_only: _Optional[bool] = ..., partition_filter: _Optional[_Union[PartitionFilter, _Mapping]] = ..., records_per_second: _Optional[int] = ..., page_size: _Optional[int] = ..., policy: _Optional[_Union[ReadPolicy, _Mapping]] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...

class ScanResponse(_message.Message):
    __slots__ = ("records", "resume_partition", "resume_digest")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    RESUME_PARTITION_FIELD_NUMBER: _ClassVar[int]
    RESUME_DIGEST_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[_values_pb2.Record]
    resume_partition: int
    resume_digest: bytes
    def __init__(self, records: _Optional[_Iterable[_Union[_values_pb2.Record, _Mapping]]] = ..., resume_partition: _Optional[int] = ..., resume_digest: _Optional[bytes] = ...) -> None: ...

class BatchItem(_message.Message):
    __slots__ = ("key", "type", "bins", "operations", "read_bins", "header_only", "policy", "filter")
    class BinsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _values_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_values_pb2.Value, _Mapping]] = ...) -> None: ...
    KEY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    BINS_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    READ_BINS_FIELD_NUMBER: _ClassVar[int]
    HEADER_ONLY_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    key: _values_pb2.Key
    type: BatchItemType
    bins: _containers.MessageMap[str, _values_pb2.Value]
    operations: _containers.RepeatedCompositeFieldContainer[Operation]
    read_bins: _containers.RepeatedScalarFieldContainer[str]
    header_only: bool
    policy: WritePolicy
    filter: _exp_pb2.Expression
    def __init__(self, key: _Optional[_Union[_values_pb2.Key, _Mapping]] = ..., type: _Optional[_Union[BatchItemType, str]] = ..., bins: _Optional[_Mapping[str, _values_pb2.Value]] = ..., operations: _Optional[_Iterable[_Union[Operation, _Mapping]]] = ..., read_bins: _Optional[_Iterable[str]] = ..., header_only: _Optional[bool] = ..., policy: _Optional[_Union[WritePolicy, _Mapping]] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...

class BatchOperateRequest(_message.Message):
    __slots__ = ("header", "items", "policy", "filter")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    header: RequestHeader
    items: _containers.RepeatedCompositeFieldContainer[BatchItem]
    policy: WritePolicy
    filter: _exp_pb2.Expression
    def __init__(self, header: _Optional[_Union[RequestHeader, _Mapping]] = ..., items: _Optional[_Iterable[_Union[BatchItem, _Mapping]]] = ..., policy: _Optional[_Union[WritePolicy, _Mapping]] = ..., filter: _Optional[_Union[_exp_pb2.Expression, _Mapping]] = ...) -> None: ...

class BatchItemResult(_message.Message):
    __slots__ = ("result_code", "record", "results", "message", "in_doubt")
    RESULT_CODE_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    IN_DOUBT_FIELD_NUMBER: _ClassVar[int]
    result_code: int
    record: _values_pb2.Record
    results: _containers.RepeatedCompositeFieldContainer[OpResult]
    message: str
    in_doubt: bool
    def __init__(self, result_code: _Optional[int] = ..., record: _Optional[_Union[_values_pb2.Record, _Mapping]] = ..., results: _Optional[_Iterable[_Union[OpResult, _Mapping]]] = ..., message: _Optional[str] = ..., in_doubt: _Optional[bool] = ...) -> None: ...

class BatchOperateResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchItemResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BatchItemResult, _Mapping]]] = ...) -> None: ...

class TruncateRequest(_message.Message):
    __slots__ = ("header", "namespace", "set", "before_ms", "group_id")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    BEFORE_MS_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    header: RequestHeader
    namespace: str
    set: str
    before_ms: int
    group_id: str
    def __init__(self, header: _Optional[_Union[RequestHeader, _Mapping]] = ..., namespace: _Optional[str] = ..., set: _Optional[str] = ..., before_ms: _Optional[int] = ..., group_id: _Optional[str] = ...) -> None: ...

class GroupTruncation(_message.Message):
    __slots__ = ("group_id", "lut_ms")
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    LUT_MS_FIELD_NUMBER: _ClassVar[int]
    group_id: str
    lut_ms: int
    def __init__(self, group_id: _Optional[str] = ..., lut_ms: _Optional[int] = ...) -> None: ...

class TruncateResponse(_message.Message):
    __slots__ = ("groups",)
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[GroupTruncation]
    def __init__(self, groups: _Optional[_Iterable[_Union[GroupTruncation, _Mapping]]] = ...) -> None: ...

class StreamRequest(_message.Message):
    __slots__ = ("commands",)
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    commands: _containers.RepeatedCompositeFieldContainer[StreamCommand]
    def __init__(self, commands: _Optional[_Iterable[_Union[StreamCommand, _Mapping]]] = ...) -> None: ...

class StreamCommand(_message.Message):
    __slots__ = ("id", "timeout_ms", "put", "get", "exists", "delete", "touch", "operate")
    ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    PUT_FIELD_NUMBER: _ClassVar[int]
    GET_FIELD_NUMBER: _ClassVar[int]
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    TOUCH_FIELD_NUMBER: _ClassVar[int]
    OPERATE_FIELD_NUMBER: _ClassVar[int]
    id: int
    timeout_ms: int
    put: PutRequest
    get: GetRequest
    exists: ExistsRequest
    delete: DeleteRequest
    touch: TouchRequest
    operate: OperateRequest
    def __init__(self, id: _Optional[int] = ..., timeout_ms: _Optional[int] = ..., put: _Optional[_Union[PutRequest, _Mapping]] = ..., get: _Optional[_Union[GetRequest, _Mapping]] = ..., exists: _Optional[_Union[ExistsRequest, _Mapping]] = ..., delete: _Optional[_Union[DeleteRequest, _Mapping]] = ..., touch: _Optional[_Union[TouchRequest, _Mapping]] = ..., operate: _Optional[_Union[OperateRequest, _Mapping]] = ...) -> None: ...

class StreamError(_message.Message):
    __slots__ = ("result_code", "message", "in_doubt", "leader", "grpc_status")
    RESULT_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    IN_DOUBT_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    GRPC_STATUS_FIELD_NUMBER: _ClassVar[int]
    result_code: int
    message: str
    in_doubt: bool
    leader: str
    grpc_status: int
    def __init__(self, result_code: _Optional[int] = ..., message: _Optional[str] = ..., in_doubt: _Optional[bool] = ..., leader: _Optional[str] = ..., grpc_status: _Optional[int] = ...) -> None: ...

class StreamResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[StreamResult]
    def __init__(self, results: _Optional[_Iterable[_Union[StreamResult, _Mapping]]] = ...) -> None: ...

class StreamResult(_message.Message):
    __slots__ = ("id", "write", "get", "exists", "operate", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    WRITE_FIELD_NUMBER: _ClassVar[int]
    GET_FIELD_NUMBER: _ClassVar[int]
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    OPERATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: int
    write: WriteResponse
    get: GetResponse
    exists: ExistsResponse
    operate: OperateResponse
    error: StreamError
    def __init__(self, id: _Optional[int] = ..., write: _Optional[_Union[WriteResponse, _Mapping]] = ..., get: _Optional[_Union[GetResponse, _Mapping]] = ..., exists: _Optional[_Union[ExistsResponse, _Mapping]] = ..., operate: _Optional[_Union[OperateResponse, _Mapping]] = ..., error: _Optional[_Union[StreamError, _Mapping]] = ...) -> None: ...

class StreamRequestFrame(_message.Message):
    __slots__ = ("commands",)
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    commands: _containers.RepeatedCompositeFieldContainer[StreamCommandFrame]
    def __init__(self, commands: _Optional[_Iterable[_Union[StreamCommandFrame, _Mapping]]] = ...) -> None: ...

class StreamCommandFrame(_message.Message):
    __slots__ = ("id", "timeout_ms", "put", "get", "exists", "delete", "touch", "operate")
    ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    PUT_FIELD_NUMBER: _ClassVar[int]
    GET_FIELD_NUMBER: _ClassVar[int]
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    TOUCH_FIELD_NUMBER: _ClassVar[int]
    OPERATE_FIELD_NUMBER: _ClassVar[int]
    id: int
    timeout_ms: int
    put: bytes
    get: bytes
    exists: bytes
    delete: bytes
    touch: bytes
    operate: bytes
    def __init__(self, id: _Optional[int] = ..., timeout_ms: _Optional[int] = ..., put: _Optional[bytes] = ..., get: _Optional[bytes] = ..., exists: _Optional[bytes] = ..., delete: _Optional[bytes] = ..., touch: _Optional[bytes] = ..., operate: _Optional[bytes] = ...) -> None: ...
