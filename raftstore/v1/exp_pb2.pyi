from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExpType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXP_TYPE_UNSPECIFIED: _ClassVar[ExpType]
    EXP_TYPE_NIL: _ClassVar[ExpType]
    EXP_TYPE_BOOL: _ClassVar[ExpType]
    EXP_TYPE_INT: _ClassVar[ExpType]
    EXP_TYPE_FLOAT: _ClassVar[ExpType]
    EXP_TYPE_STRING: _ClassVar[ExpType]
    EXP_TYPE_BYTES: _ClassVar[ExpType]
    EXP_TYPE_LIST: _ClassVar[ExpType]
    EXP_TYPE_MAP: _ClassVar[ExpType]

class MetaField(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    META_FIELD_UNSPECIFIED: _ClassVar[MetaField]
    META_FIELD_TTL: _ClassVar[MetaField]
    META_FIELD_VOID_TIME: _ClassVar[MetaField]
    META_FIELD_LAST_UPDATE: _ClassVar[MetaField]
    META_FIELD_SINCE_UPDATE: _ClassVar[MetaField]
    META_FIELD_SET_NAME: _ClassVar[MetaField]
    META_FIELD_GENERATION: _ClassVar[MetaField]
    META_FIELD_KEY_EXISTS: _ClassVar[MetaField]
    META_FIELD_RECORD_EXISTS: _ClassVar[MetaField]

class ExpOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXP_OP_UNSPECIFIED: _ClassVar[ExpOp]
    EXP_OP_EQ: _ClassVar[ExpOp]
    EXP_OP_NE: _ClassVar[ExpOp]
    EXP_OP_LT: _ClassVar[ExpOp]
    EXP_OP_LE: _ClassVar[ExpOp]
    EXP_OP_GT: _ClassVar[ExpOp]
    EXP_OP_GE: _ClassVar[ExpOp]
    EXP_OP_AND: _ClassVar[ExpOp]
    EXP_OP_OR: _ClassVar[ExpOp]
    EXP_OP_NOT: _ClassVar[ExpOp]
    EXP_OP_ADD: _ClassVar[ExpOp]
    EXP_OP_SUB: _ClassVar[ExpOp]
    EXP_OP_MUL: _ClassVar[ExpOp]
    EXP_OP_DIV: _ClassVar[ExpOp]
    EXP_OP_MOD: _ClassVar[ExpOp]
    EXP_OP_ABS: _ClassVar[ExpOp]
    EXP_OP_TO_INT: _ClassVar[ExpOp]
    EXP_OP_TO_FLOAT: _ClassVar[ExpOp]
    EXP_OP_LIST_SIZE: _ClassVar[ExpOp]
    EXP_OP_MAP_SIZE: _ClassVar[ExpOp]
    EXP_OP_BIN_EXISTS: _ClassVar[ExpOp]
    EXP_OP_BIN_TYPE: _ClassVar[ExpOp]
    EXP_OP_DIGEST_MODULO: _ClassVar[ExpOp]
EXP_TYPE_UNSPECIFIED: ExpType
EXP_TYPE_NIL: ExpType
EXP_TYPE_BOOL: ExpType
EXP_TYPE_INT: ExpType
EXP_TYPE_FLOAT: ExpType
EXP_TYPE_STRING: ExpType
EXP_TYPE_BYTES: ExpType
EXP_TYPE_LIST: ExpType
EXP_TYPE_MAP: ExpType
META_FIELD_UNSPECIFIED: MetaField
META_FIELD_TTL: MetaField
META_FIELD_VOID_TIME: MetaField
META_FIELD_LAST_UPDATE: MetaField
META_FIELD_SINCE_UPDATE: MetaField
META_FIELD_SET_NAME: MetaField
META_FIELD_GENERATION: MetaField
META_FIELD_KEY_EXISTS: MetaField
META_FIELD_RECORD_EXISTS: MetaField
EXP_OP_UNSPECIFIED: ExpOp
EXP_OP_EQ: ExpOp
EXP_OP_NE: ExpOp
EXP_OP_LT: ExpOp
EXP_OP_LE: ExpOp
EXP_OP_GT: ExpOp
EXP_OP_GE: ExpOp
EXP_OP_AND: ExpOp
EXP_OP_OR: ExpOp
EXP_OP_NOT: ExpOp
EXP_OP_ADD: ExpOp
EXP_OP_SUB: ExpOp
EXP_OP_MUL: ExpOp
EXP_OP_DIV: ExpOp
EXP_OP_MOD: ExpOp
EXP_OP_ABS: ExpOp
EXP_OP_TO_INT: ExpOp
EXP_OP_TO_FLOAT: ExpOp
EXP_OP_LIST_SIZE: ExpOp
EXP_OP_MAP_SIZE: ExpOp
EXP_OP_BIN_EXISTS: ExpOp
EXP_OP_BIN_TYPE: ExpOp
EXP_OP_DIGEST_MODULO: ExpOp

class Expression(_message.Message):
    __slots__ = ("nil_value", "int_value", "float_value", "string_value", "bytes_value", "bool_value", "bin", "meta", "call")
    NIL_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    FLOAT_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    BYTES_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    BIN_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    nil_value: _struct_pb2.NullValue
    int_value: int
    float_value: float
    string_value: str
    bytes_value: bytes
    bool_value: bool
    bin: BinExpression
    meta: MetaExpression
    call: CallExpression
    def __init__(self, nil_value: _Optional[_Union[_struct_pb2.NullValue, str]] = ..., int_value: _Optional[int] = ..., float_value: _Optional[float] = ..., string_value: _Optional[str] = ..., bytes_value: _Optional[bytes] = ..., bool_value: _Optional[bool] = ..., bin: _Optional[_Union[BinExpression, _Mapping]] = ..., meta: _Optional[_Union[MetaExpression, _Mapping]] = ..., call: _Optional[_Union[CallExpression, _Mapping]] = ...) -> None: ...

class BinExpression(_message.Message):
    __slots__ = ("name", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: ExpType
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[ExpType, str]] = ...) -> None: ...

class MetaExpression(_message.Message):
    __slots__ = ("field",)
    FIELD_FIELD_NUMBER: _ClassVar[int]
    field: MetaField
    def __init__(self, field: _Optional[_Union[MetaField, str]] = ...) -> None: ...

class CallExpression(_message.Message):
    __slots__ = ("op", "args")
    OP_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    op: ExpOp
    args: _containers.RepeatedCompositeFieldContainer[Expression]
    def __init__(self, op: _Optional[_Union[ExpOp, str]] = ..., args: _Optional[_Iterable[_Union[Expression, _Mapping]]] = ...) -> None: ...
