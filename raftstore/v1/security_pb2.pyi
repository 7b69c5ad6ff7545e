from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_READ: _ClassVar[Role]
    ROLE_READ_WRITE: _ClassVar[Role]
    ROLE_SYS_ADMIN: _ClassVar[Role]
    ROLE_USER_ADMIN: _ClassVar[Role]
ROLE_UNSPECIFIED: Role
ROLE_READ: Role
ROLE_READ_WRITE: Role
ROLE_SYS_ADMIN: Role
ROLE_USER_ADMIN: Role

class Privilege(_message.Message):
    __slots__ = ("role", "namespace", "set")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    role: Role
    namespace: str
    set: str
    def __init__(self, role: _Optional[_Union[Role, str]] = ..., namespace: _Optional[str] = ..., set: _Optional[str] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("user", "password")
    USER_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    user: str
    password: str
    def __init__(self, user: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class LoginResponse(_message.Message):
    __slots__ = ("token", "expires_ms")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_MS_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_ms: int
    def __init__(self, token: _Optional[str] = ..., expires_ms: _Optional[int] = ...) -> None: ...

class CreateUserRequest(_message.Message):
    __slots__ = ("user", "password", "privileges")
    USER_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    PRIVILEGES_FIELD_NUMBER: _ClassVar[int]
    user: str
    password: str
    privileges: _containers.RepeatedCompositeFieldContainer[Privilege]
    def __init__(self, user: _Optional[str] = ..., password: _Optional[str] = ..., privileges: _Optional[_Iterable[_Union[Privilege, _Mapping]]] = ...) -> None: ...

class DropUserRequest(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: str
    def __init__(self, user: _Optional[str] = ...) -> None: ...

class SetPasswordRequest(_message.Message):
    __slots__ = ("user", "password")
    USER_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    user: str
    password: str
    def __init__(self, user: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class PrivilegesRequest(_message.Message):
    __slots__ = ("user", "privileges")
    USER_FIELD_NUMBER: _ClassVar[int]
    PRIVILEGES_FIELD_NUMBER: _ClassVar[int]
    user: str
    privileges: _containers.RepeatedCompositeFieldContainer[Privilege]
    def __init__(self, user: _Optional[str] = ..., privileges: _Optional[_Iterable[_Union[Privilege, _Mapping]]] = ...) -> None: ...

class UserAdminResponse(_message.Message):
    __slots__ = ("epoch",)
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    def __init__(self, epoch: _Optional[int] = ...) -> None: ...

class ListUsersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UserInfo(_message.Message):
    __slots__ = ("user", "privileges")
    USER_FIELD_NUMBER: _ClassVar[int]
    PRIVILEGES_FIELD_NUMBER: _ClassVar[int]
    user: str
    privileges: _containers.RepeatedCompositeFieldContainer[Privilege]
    def __init__(self, user: _Optional[str] = ..., privileges: _Optional[_Iterable[_Union[Privilege, _Mapping]]] = ...) -> None: ...

class ListUsersResponse(_message.Message):
    __slots__ = ("users",)
    USERS_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[UserInfo]
    def __init__(self, users: _Optional[_Iterable[_Union[UserInfo, _Mapping]]] = ...) -> None: ...
