from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class SetPartitionRequest(_message.Message):
    __slots__ = ("blocked_node_ids",)
    BLOCKED_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    blocked_node_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, blocked_node_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SetPartitionResponse(_message.Message):
    __slots__ = ("blocked_node_ids",)
    BLOCKED_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    blocked_node_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, blocked_node_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ArmFailpointRequest(_message.Message):
    __slots__ = ("name", "action", "skip", "count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SKIP_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    action: str
    skip: int
    count: int
    def __init__(self, name: _Optional[str] = ..., action: _Optional[str] = ..., skip: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class ArmFailpointResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
