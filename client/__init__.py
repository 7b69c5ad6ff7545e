"""raftstore's Python client: ``Client`` (threads) and ``AsyncClient`` (asyncio).

Importing it needs only grpcio, protobuf and xxhash — not RocksDB or pysyncobj.
"""

from raftstore_client import exp, operations
from raftstore_client._index import IndexInfo
from raftstore_client.aio import AsyncClient
from raftstore_client.client import Client
from raftstore_client.tls import TLS
from raftstore_client.types import Meta, Record

from raftstore.errors import (
    BinNameTooLong,
    BinTypeError,
    ClientError,
    DeviceOverload,
    ElementExists,
    ElementNotFound,
    FilteredOut,
    Forbidden,
    GenerationError,
    IndexFound,
    IndexNotFound,
    IndexNotReadable,
    KeyBusy,
    NamespaceNotFound,
    OpNotApplicable,
    OutOfSpace,
    ParameterError,
    PartitionUnavailable,
    RaftstoreError,
    RecordError,
    RecordExists,
    RecordNotFound,
    RecordTooBig,
    ResultCode,
    ServerError,
    ServerNotAvailable,
    Timeout,
    UnsupportedFeature,
)
from raftstore.policy import (
    TTL_KEEP,
    TTL_NAMESPACE_DEFAULT,
    TTL_NEVER,
    GenPolicy,
    ReadMode,
    RecordExistsAction,
    WritePolicy,
)

__all__ = [
    "TLS",
    "TTL_KEEP",
    "TTL_NAMESPACE_DEFAULT",
    "TTL_NEVER",
    "AsyncClient",
    "BinNameTooLong",
    "BinTypeError",
    "Client",
    "ClientError",
    "DeviceOverload",
    "ElementExists",
    "ElementNotFound",
    "FilteredOut",
    "Forbidden",
    "GenPolicy",
    "GenerationError",
    "IndexFound",
    "IndexInfo",
    "IndexNotFound",
    "IndexNotReadable",
    "KeyBusy",
    "Meta",
    "NamespaceNotFound",
    "OpNotApplicable",
    "OutOfSpace",
    "ParameterError",
    "PartitionUnavailable",
    "RaftstoreError",
    "ReadMode",
    "Record",
    "RecordError",
    "RecordExists",
    "RecordExistsAction",
    "RecordNotFound",
    "RecordTooBig",
    "ResultCode",
    "ServerError",
    "ServerNotAvailable",
    "Timeout",
    "UnsupportedFeature",
    "WritePolicy",
    "exp",
    "operations",
]
