from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RaftRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RAFT_ROLE_UNSPECIFIED: _ClassVar[RaftRole]
    RAFT_ROLE_FOLLOWER: _ClassVar[RaftRole]
    RAFT_ROLE_CANDIDATE: _ClassVar[RaftRole]
    RAFT_ROLE_LEADER: _ClassVar[RaftRole]
RAFT_ROLE_UNSPECIFIED: RaftRole
RAFT_ROLE_FOLLOWER: RaftRole
RAFT_ROLE_CANDIDATE: RaftRole
RAFT_ROLE_LEADER: RaftRole

class JoinRequest(_message.Message):
    __slots__ = ("cluster_id", "node_id", "client_address", "peer_address", "rack", "timestamp_ms", "proof")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PEER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RACK_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    node_id: str
    client_address: str
    peer_address: str
    rack: str
    timestamp_ms: int
    proof: bytes
    def __init__(self, cluster_id: _Optional[str] = ..., node_id: _Optional[str] = ..., client_address: _Optional[str] = ..., peer_address: _Optional[str] = ..., rack: _Optional[str] = ..., timestamp_ms: _Optional[int] = ..., proof: _Optional[bytes] = ...) -> None: ...

class JoinResponse(_message.Message):
    __slots__ = ("cluster_state_json", "epoch")
    CLUSTER_STATE_JSON_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    cluster_state_json: str
    epoch: int
    def __init__(self, cluster_state_json: _Optional[str] = ..., epoch: _Optional[int] = ...) -> None: ...

class RemoveNodeRequest(_message.Message):
    __slots__ = ("cluster_id", "node_id", "dead", "timestamp_ms", "proof")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    DEAD_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    node_id: str
    dead: bool
    timestamp_ms: int
    proof: bytes
    def __init__(self, cluster_id: _Optional[str] = ..., node_id: _Optional[str] = ..., dead: _Optional[bool] = ..., timestamp_ms: _Optional[int] = ..., proof: _Optional[bytes] = ...) -> None: ...

class RemoveNodeResponse(_message.Message):
    __slots__ = ("epoch",)
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    def __init__(self, epoch: _Optional[int] = ...) -> None: ...

class ReviveRequest(_message.Message):
    __slots__ = ("cluster_id", "dead_node_ids", "timestamp_ms", "proof")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    DEAD_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    dead_node_ids: _containers.RepeatedScalarFieldContainer[str]
    timestamp_ms: int
    proof: bytes
    def __init__(self, cluster_id: _Optional[str] = ..., dead_node_ids: _Optional[_Iterable[str]] = ..., timestamp_ms: _Optional[int] = ..., proof: _Optional[bytes] = ...) -> None: ...

class ReviveResponse(_message.Message):
    __slots__ = ("revived_group_ids", "lost_group_ids")
    REVIVED_GROUP_IDS_FIELD_NUMBER: _ClassVar[int]
    LOST_GROUP_IDS_FIELD_NUMBER: _ClassVar[int]
    revived_group_ids: _containers.RepeatedScalarFieldContainer[str]
    lost_group_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, revived_group_ids: _Optional[_Iterable[str]] = ..., lost_group_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class TransferLeaderRequest(_message.Message):
    __slots__ = ("group_id", "node_id")
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    group_id: str
    node_id: str
    def __init__(self, group_id: _Optional[str] = ..., node_id: _Optional[str] = ...) -> None: ...

class TransferLeaderResponse(_message.Message):
    __slots__ = ("leader_node_id", "term")
    LEADER_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    leader_node_id: str
    term: int
    def __init__(self, leader_node_id: _Optional[str] = ..., term: _Optional[int] = ...) -> None: ...

class GetPartitionMapRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("node_id", "client_address", "peer_address", "connected", "rack")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PEER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    RACK_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    client_address: str
    peer_address: str
    connected: bool
    rack: str
    def __init__(self, node_id: _Optional[str] = ..., client_address: _Optional[str] = ..., peer_address: _Optional[str] = ..., connected: _Optional[bool] = ..., rack: _Optional[str] = ...) -> None: ...

class NamespaceInfo(_message.Message):
    __slots__ = ("name", "replication_factor", "default_ttl", "max_record_size", "partition_groups", "partition_group")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FACTOR_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TTL_FIELD_NUMBER: _ClassVar[int]
    MAX_RECORD_SIZE_FIELD_NUMBER: _ClassVar[int]
    PARTITION_GROUPS_FIELD_NUMBER: _ClassVar[int]
    PARTITION_GROUP_FIELD_NUMBER: _ClassVar[int]
    name: str
    replication_factor: int
    default_ttl: int
    max_record_size: int
    partition_groups: int
    partition_group: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., replication_factor: _Optional[int] = ..., default_ttl: _Optional[int] = ..., max_record_size: _Optional[int] = ..., partition_groups: _Optional[int] = ..., partition_group: _Optional[_Iterable[int]] = ...) -> None: ...

class GroupInfo(_message.Message):
    __slots__ = ("group_id", "namespace", "index", "leader_node_id", "term", "replica_node_ids")
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LEADER_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    REPLICA_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    group_id: str
    namespace: str
    index: int
    leader_node_id: str
    term: int
    replica_node_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, group_id: _Optional[str] = ..., namespace: _Optional[str] = ..., index: _Optional[int] = ..., leader_node_id: _Optional[str] = ..., term: _Optional[int] = ..., replica_node_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PartitionMap(_message.Message):
    __slots__ = ("cluster_id", "partition_count", "nodes", "namespaces", "groups", "node_id", "epoch", "leaving_node_ids", "dead_node_ids", "moving_group_ids", "active_group_ids", "pending_group_ids", "done_group_count")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_COUNT_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    LEAVING_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    DEAD_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    MOVING_GROUP_IDS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_GROUP_IDS_FIELD_NUMBER: _ClassVar[int]
    PENDING_GROUP_IDS_FIELD_NUMBER: _ClassVar[int]
    DONE_GROUP_COUNT_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    partition_count: int
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    namespaces: _containers.RepeatedCompositeFieldContainer[NamespaceInfo]
    groups: _containers.RepeatedCompositeFieldContainer[GroupInfo]
    node_id: str
    epoch: int
    leaving_node_ids: _containers.RepeatedScalarFieldContainer[str]
    dead_node_ids: _containers.RepeatedScalarFieldContainer[str]
    moving_group_ids: _containers.RepeatedScalarFieldContainer[str]
    active_group_ids: _containers.RepeatedScalarFieldContainer[str]
    pending_group_ids: _containers.RepeatedScalarFieldContainer[str]
    done_group_count: int
    def __init__(self, cluster_id: _Optional[str] = ..., partition_count: _Optional[int] = ..., nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ..., namespaces: _Optional[_Iterable[_Union[NamespaceInfo, _Mapping]]] = ..., groups: _Optional[_Iterable[_Union[GroupInfo, _Mapping]]] = ..., node_id: _Optional[str] = ..., epoch: _Optional[int] = ..., leaving_node_ids: _Optional[_Iterable[str]] = ..., dead_node_ids: _Optional[_Iterable[str]] = ..., moving_group_ids: _Optional[_Iterable[str]] = ..., active_group_ids: _Optional[_Iterable[str]] = ..., pending_group_ids: _Optional[_Iterable[str]] = ..., done_group_count: _Optional[int] = ...) -> None: ...

class GetNodeStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GroupStatus(_message.Message):
    __slots__ = ("group_id", "role", "term", "leader_node_id", "commit_index", "applied_index", "last_log_index", "first_log_index", "log_entries", "snapshot_index", "expired_records")
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    LEADER_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    COMMIT_INDEX_FIELD_NUMBER: _ClassVar[int]
    APPLIED_INDEX_FIELD_NUMBER: _ClassVar[int]
    LAST_LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    FIRST_LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    LOG_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_INDEX_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    group_id: str
    role: RaftRole
    term: int
    leader_node_id: str
    commit_index: int
    applied_index: int
    last_log_index: int
    first_log_index: int
    log_entries: int
    snapshot_index: int
    expired_records: int
    def __init__(self, group_id: _Optional[str] = ..., role: _Optional[_Union[RaftRole, str]] = ..., term: _Optional[int] = ..., leader_node_id: _Optional[str] = ..., commit_index: _Optional[int] = ..., applied_index: _Optional[int] = ..., last_log_index: _Optional[int] = ..., first_log_index: _Optional[int] = ..., log_entries: _Optional[int] = ..., snapshot_index: _Optional[int] = ..., expired_records: _Optional[int] = ...) -> None: ...

class NodeStatus(_message.Message):
    __slots__ = ("node_id", "cluster_id", "version", "client_address", "peer_address", "uptime_seconds", "peers", "groups", "unsafe_flags", "namespaces")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PEER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    UNSAFE_FLAGS_FIELD_NUMBER: _ClassVar[int]
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    cluster_id: str
    version: str
    client_address: str
    peer_address: str
    uptime_seconds: float
    peers: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    groups: _containers.RepeatedCompositeFieldContainer[GroupStatus]
    unsafe_flags: _containers.RepeatedScalarFieldContainer[str]
    namespaces: _containers.RepeatedCompositeFieldContainer[NamespaceStatus]
    def __init__(self, node_id: _Optional[str] = ..., cluster_id: _Optional[str] = ..., version: _Optional[str] = ..., client_address: _Optional[str] = ..., peer_address: _Optional[str] = ..., uptime_seconds: _Optional[float] = ..., peers: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ..., groups: _Optional[_Iterable[_Union[GroupStatus, _Mapping]]] = ..., unsafe_flags: _Optional[_Iterable[str]] = ..., namespaces: _Optional[_Iterable[_Union[NamespaceStatus, _Mapping]]] = ...) -> None: ...

class NamespaceStatus(_message.Message):
    __slots__ = ("namespace", "expired_records", "examined_records", "sweeps", "nsup_period_seconds", "stored_bytes", "stop_writes_size", "stop_writes", "idle_sessions_deleted")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    EXAMINED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    SWEEPS_FIELD_NUMBER: _ClassVar[int]
    NSUP_PERIOD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    STOP_WRITES_SIZE_FIELD_NUMBER: _ClassVar[int]
    STOP_WRITES_FIELD_NUMBER: _ClassVar[int]
    IDLE_SESSIONS_DELETED_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    expired_records: int
    examined_records: int
    sweeps: int
    nsup_period_seconds: float
    stored_bytes: int
    stop_writes_size: int
    stop_writes: bool
    idle_sessions_deleted: int
    def __init__(self, namespace: _Optional[str] = ..., expired_records: _Optional[int] = ..., examined_records: _Optional[int] = ..., sweeps: _Optional[int] = ..., nsup_period_seconds: _Optional[float] = ..., stored_bytes: _Optional[int] = ..., stop_writes_size: _Optional[int] = ..., stop_writes: _Optional[bool] = ..., idle_sessions_deleted: _Optional[int] = ...) -> None: ...
