"""Result codes and the one exception hierarchy shared by server and client.

Result codes keep Aerospike's numbers where the concept exists; negative codes are
client-side conditions, as in Aerospike's clients.

Exception tree::

    RaftstoreError                      (code, message, in_doubt)
    ├── ClientError                     -1  client-side misuse or failure
    │   ├── ServerNotAvailable          -8  no node could be reached
    │   └── BackupError                 -1  a backup directory or file that cannot be used
    ├── ServerError                      1  unexpected server condition
    ├── RecordError                         a condition of one record
    │   ├── RecordNotFound               2
    │   ├── GenerationError              3
    │   ├── RecordExists                 5
    │   ├── BinTypeError                12
    │   ├── RecordTooBig                13
    │   ├── BinNameTooLong              21
    │   ├── ElementNotFound             23
    │   ├── ElementExists               24
    │   ├── OpNotApplicable             26
    │   └── FilteredOut                 27  the filter expression did not select the record
    ├── ParameterError                   4  malformed request, wrong value type
    ├── OutOfSpace                       8  the leader's disk is nearly full: writes refused
    ├── Timeout                          9
    ├── PartitionUnavailable            11  no leader reachable for the partition
    ├── KeyBusy                         14  too many writes in flight on one record (retry)
    ├── UnsupportedFeature              16
    ├── DeviceOverload                  18  node or group over its in-flight bounds (retry)
    ├── NamespaceNotFound               20
    ├── Forbidden                       22
    ├── SecurityError                      access control (security on, see security.py)
    │   ├── SecurityNotEnabled          52  a security call while security is off
    │   ├── InvalidUser                 60  no such user
    │   ├── UserAlreadyExists           61
    │   ├── InvalidPassword             62  a password that cannot be used (empty, too long)
    │   ├── InvalidPrivilege            72  a malformed privilege or scope
    │   ├── NotAuthenticated            80  no valid token: log in (again)
    │   └── RoleViolation               81  the user lacks the privilege for the call
    └── SecondaryIndexError                 a secondary index condition
        ├── IndexFound                 200  an index of that name exists (other definition)
        ├── IndexNotFound              201  no such index
        ├── IndexNameMaxLen            205  index name too long
        └── IndexNotReadable           203  the index is still being built

``in_doubt`` is true when a write may have been applied although no success was seen
(for example a timeout after the command was proposed), as Aerospike's clients report
since Jepsen's 2018 analysis. ``error_for(code, ...)`` builds the right subclass.
"""

from __future__ import annotations

from enum import IntEnum


class ResultCode(IntEnum):
    """Aerospike-numbered result codes; negative values are client-side."""

    SERVER_NOT_AVAILABLE = -8
    CLIENT_ERROR = -1
    OK = 0
    SERVER_ERROR = 1
    KEY_NOT_FOUND = 2
    GENERATION_ERROR = 3
    PARAMETER_ERROR = 4
    KEY_EXISTS = 5
    OUT_OF_SPACE = 8
    TIMEOUT = 9
    PARTITION_UNAVAILABLE = 11
    BIN_TYPE_ERROR = 12
    RECORD_TOO_BIG = 13
    KEY_BUSY = 14
    UNSUPPORTED_FEATURE = 16
    DEVICE_OVERLOAD = 18
    NAMESPACE_NOT_FOUND = 20
    BIN_NAME_TOO_LONG = 21
    FORBIDDEN = 22
    ELEMENT_NOT_FOUND = 23
    ELEMENT_EXISTS = 24
    OP_NOT_APPLICABLE = 26
    FILTERED_OUT = 27
    SECURITY_NOT_ENABLED = 52
    INVALID_USER = 60
    USER_ALREADY_EXISTS = 61
    INVALID_PASSWORD = 62
    INVALID_PRIVILEGE = 72
    NOT_AUTHENTICATED = 80
    ROLE_VIOLATION = 81
    INDEX_FOUND = 200
    INDEX_NOTFOUND = 201
    INDEX_NOTREADABLE = 203
    INDEX_NAME_MAXLEN = 205


class RaftstoreError(Exception):
    """Base of every raftstore error.

    Attributes:
        code: the ResultCode.
        message: human-readable detail.
        in_doubt: the command may have been applied although this error was raised.
    """

    default_code = ResultCode.SERVER_ERROR

    def __init__(
        self, message: str = "", *, code: ResultCode | None = None, in_doubt: bool = False
    ) -> None:
        self.code = ResultCode(code if code is not None else self.default_code)
        self.message = message or self.code.name.lower().replace("_", " ")
        self.in_doubt = in_doubt
        super().__init__(self.message)

    def __str__(self) -> str:
        doubt = " (in doubt: the write may have been applied)" if self.in_doubt else ""
        return f"{self.code.name} ({int(self.code)}): {self.message}{doubt}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code.name}, "
            f"in_doubt={self.in_doubt})"
        )


class ClientError(RaftstoreError):
    default_code = ResultCode.CLIENT_ERROR


class ServerNotAvailable(ClientError):
    default_code = ResultCode.SERVER_NOT_AVAILABLE


class BackupError(ClientError):
    """A backup directory, manifest or data file that cannot be used (missing, corrupt,
    of another namespace or format version)."""


class ServerError(RaftstoreError):
    default_code = ResultCode.SERVER_ERROR


class RecordError(RaftstoreError):
    """A condition of one record (it exists, it does not, its bins have other types...)."""


class RecordNotFound(RecordError):
    default_code = ResultCode.KEY_NOT_FOUND


class GenerationError(RecordError):
    default_code = ResultCode.GENERATION_ERROR


class RecordExists(RecordError):
    default_code = ResultCode.KEY_EXISTS


class BinTypeError(RecordError):
    default_code = ResultCode.BIN_TYPE_ERROR


class RecordTooBig(RecordError):
    default_code = ResultCode.RECORD_TOO_BIG


class BinNameTooLong(RecordError):
    default_code = ResultCode.BIN_NAME_TOO_LONG


class ElementNotFound(RecordError):
    default_code = ResultCode.ELEMENT_NOT_FOUND


class ElementExists(RecordError):
    default_code = ResultCode.ELEMENT_EXISTS


class OpNotApplicable(RecordError):
    default_code = ResultCode.OP_NOT_APPLICABLE


class FilteredOut(RecordError):
    """The command's filter expression did not select the record; a write was not applied."""

    default_code = ResultCode.FILTERED_OUT


class ParameterError(RaftstoreError):
    default_code = ResultCode.PARAMETER_ERROR


class Timeout(RaftstoreError):
    default_code = ResultCode.TIMEOUT


class PartitionUnavailable(RaftstoreError):
    default_code = ResultCode.PARTITION_UNAVAILABLE


class UnsupportedFeature(RaftstoreError):
    default_code = ResultCode.UNSUPPORTED_FEATURE


class OutOfSpace(RaftstoreError):
    """The leader's data directory is below its free-space floor; nothing was written."""

    default_code = ResultCode.OUT_OF_SPACE


class KeyBusy(RaftstoreError):
    """Too many writes in flight on this record; nothing was proposed (retryable)."""

    default_code = ResultCode.KEY_BUSY


class DeviceOverload(RaftstoreError):
    """The node or the group has as much in flight as it may; nothing was proposed
    (retryable)."""

    default_code = ResultCode.DEVICE_OVERLOAD


class NamespaceNotFound(RaftstoreError):
    default_code = ResultCode.NAMESPACE_NOT_FOUND


class Forbidden(RaftstoreError):
    default_code = ResultCode.FORBIDDEN


class SecurityError(RaftstoreError):
    """An access-control refusal or a malformed security call; nothing was changed."""

    default_code = ResultCode.ROLE_VIOLATION


class SecurityNotEnabled(SecurityError):
    default_code = ResultCode.SECURITY_NOT_ENABLED


class InvalidUser(SecurityError):
    default_code = ResultCode.INVALID_USER


class UserAlreadyExists(SecurityError):
    default_code = ResultCode.USER_ALREADY_EXISTS


class InvalidPassword(SecurityError):
    default_code = ResultCode.INVALID_PASSWORD


class InvalidPrivilege(SecurityError):
    default_code = ResultCode.INVALID_PRIVILEGE


class NotAuthenticated(SecurityError):
    """No token, a malformed, expired or revoked one, or a refused login."""

    default_code = ResultCode.NOT_AUTHENTICATED


class RoleViolation(SecurityError):
    """The authenticated user holds no privilege that allows the call."""

    default_code = ResultCode.ROLE_VIOLATION


class SecondaryIndexError(RaftstoreError):
    """A condition of a secondary index."""

    default_code = ResultCode.INDEX_NOTFOUND


class IndexFound(SecondaryIndexError):
    """An index of that name exists with another definition; nothing changed."""

    default_code = ResultCode.INDEX_FOUND


class IndexNotFound(SecondaryIndexError):
    default_code = ResultCode.INDEX_NOTFOUND


class IndexNotReadable(SecondaryIndexError):
    """The index exists but is still being built over existing records (retryable)."""

    default_code = ResultCode.INDEX_NOTREADABLE


class IndexNameMaxLen(SecondaryIndexError):
    default_code = ResultCode.INDEX_NAME_MAXLEN


_BY_CODE: dict[ResultCode, type[RaftstoreError]] = {
    cls.default_code: cls
    for cls in (
        ClientError,
        ServerNotAvailable,
        ServerError,
        RecordNotFound,
        GenerationError,
        RecordExists,
        BinTypeError,
        RecordTooBig,
        BinNameTooLong,
        ElementNotFound,
        ElementExists,
        OpNotApplicable,
        FilteredOut,
        ParameterError,
        Timeout,
        PartitionUnavailable,
        UnsupportedFeature,
        NamespaceNotFound,
        Forbidden,
        OutOfSpace,
        KeyBusy,
        DeviceOverload,
        SecurityNotEnabled,
        InvalidUser,
        UserAlreadyExists,
        InvalidPassword,
        InvalidPrivilege,
        NotAuthenticated,
        RoleViolation,
        IndexFound,
        IndexNotFound,
        IndexNotReadable,
        IndexNameMaxLen,
    )
}


def error_for(code: int, message: str = "", *, in_doubt: bool = False) -> RaftstoreError:
    """Return the exception for a result code (ServerError for unknown codes)."""
    try:
        rc = ResultCode(code)
    except ValueError:
        return ServerError(f"unknown result code {code}: {message}", in_doubt=in_doubt)
    cls = _BY_CODE.get(rc, RaftstoreError)
    return cls(message, code=rc, in_doubt=in_doubt)
