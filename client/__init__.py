"""raftstore's Python client: ``Client`` (threads) and ``AsyncClient`` (asyncio).

Importing it needs only grpcio, protobuf and xxhash — not RocksDB or pysyncobj.
"""

from raftstore_client import batch, exp, operations
from raftstore_client.aio import AsyncClient
from raftstore_client.batch import BatchDelete, BatchRead, BatchRecord, BatchWrite
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
    "BatchDelete",
    "BatchRead",
    "BatchRecord",
    "BatchWrite",
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
    "batch",
    "exp",
    "operations",
]
