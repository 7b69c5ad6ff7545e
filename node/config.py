"""Node configuration: a TOML file, validated once at start-up with clear messages.

Example (``raftstore local`` writes one per node)::

    node_id = "n1"
    data_dir = "/var/lib/raftstore/n1"
    cluster_id = "prod-eu"
    secret_file = "/etc/raftstore/cluster.secret"   # >= 16 bytes, shared by all members
    metrics_port = 9145   # optional: Prometheus /metrics on this node's host (0: none)
    listen_host = ""      # optional: bind here instead of the member address's host
    peer_listen = ""      # optional: host:port the peer port binds when this member's peer
                          # address is a proxy or NAT in front of it

    [[member]]            # every member, this node included
    id = "n1"
    client = "10.0.0.1:3000"   # gRPC for clients
    peer = "10.0.0.1:3001"     # Raft traffic between nodes
    rack = "eu-1a"             # optional: replicas of a group go to distinct racks

    [[namespace]]
    name = "test"
    replication_factor = 3     # at most the number of members (default: min(3, members))
    default_ttl = 0
    max_record_size = 1048576
    partition_groups = 8
    nsup_period = 120          # this node's settings (namespace_settings.py): expiry
    nsup_deletes_per_second = 10000  # sweeps, their delete rate, and the stored size
    stop_writes_size = "0"     # at which writes stop ("64M", "1G"; 0: no cap)

    [tls]                      # optional: the client port speaks only TLS (see tls.py)
    cert_file = "node.pem"
    key_file = "node.key"
    ca_file = "ca.pem"
    client_auth = false

    [security]                 # optional: access control (see auth.py, security.proto)
    enabled = true
    admin_password_file = "admin.password"  # founding only: the first user, "admin"
    token_ttl = 86400          # seconds a login token stays valid

    [raft]
    heartbeat = 0.1
    election_min = 1.0
    election_max = 2.0
    leader_lease = 1.0
    snapshot_entries = 20000
    snapshot_seconds = 600
    peer_batch = true          # one frame per peer per loop iteration for every group
    quiesce = false            # true: idle groups stop ticking (opt-in; see replication/DESIGN.md)

    [limits]                   # optional: admission bounds (see admission.py)
    max_in_flight = 256        # KV requests per node, beyond: DEVICE_OVERLOAD (18)
    max_in_flight_bytes = 67108864
    max_large_in_flight = 2    # requests over 64 KiB
    max_in_flight_per_group = 128
    max_in_flight_per_key = 16 # writes per record, beyond: KEY_BUSY (14)
    max_loop_lag_ms = 200      # event loop later than this: new requests shed
    max_elements = 20000       # list items + map entries per request (RECORD_TOO_BIG)
    max_streams_per_connection = 128
    max_in_flight_per_stream = 256  # commands under way on one KV Stream (back-pressure)
    min_free_bytes = 67108864  # below it writes get OUT_OF_SPACE (8)

    [storage]                  # optional: RocksDB tuning (raftstore/storage/engine.py)
    block_cache_bytes = 67108864   # data, index and filter blocks of every group
    write_buffer_budget = 67108864 # memtables of every group together
    bloom_bits_per_key = 10    # 0: no Bloom filters
    block_size = 4096
    compression = "lz4"        # lz4 | zstd | snappy | none
    dynamic_level_bytes = true
    background_jobs = 2        # flush and compaction threads

Without any ``[[namespace]]`` the node serves one namespace named ``test``, as
Aerospike's default configuration does.

Each group's replicas are placed on ``replication_factor`` of the members by
``raftstore.placement.place`` (distinct hosts, distinct racks where racks allow, balanced),
which every founding node computes identically from the member list on the first start
(epoch 1 of the cluster state, see ``cluster_state.py``). From then on the cluster state
in the data directory governs: members and namespaces here are only read on the first
start. A node started with ``--join HOST:PORT`` and an empty data directory lists only
itself under ``[[member]]`` and receives the roster, namespaces and placement from the
cluster.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from raftstore_node import namespace_settings
from raftstore_node.admission import Limits
from raftstore_node.namespace_settings import NamespaceSettings
from raftstore_node.tls import TLSSettings
from raftstore_node.tls import from_toml as tls_from_toml

from raftstore.namespaces import ConfigError, NamespaceConfig
from raftstore.replication.group import RaftTiming
from raftstore.storage.engine import StorageSettings

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    client: str
    peer: str
    rack: str = ""


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    """``[security]``: access control on the client port (off by default).

    ``admin_password`` (from ``admin_password_file`` or ``RAFTSTORE_ADMIN_PASSWORD``) is
    read only when the cluster is founded: the user ``admin`` (sys-admin, user-admin,
    read-write) is created with it. Every founder must be given the same one."""

    enabled: bool = False
    admin_password: str = field(default="", repr=False)
    token_ttl: float = 86400.0


@dataclass(frozen=True, slots=True)
class NodeConfig:
    node_id: str
    data_dir: Path
    cluster_id: str
    secret: bytes
    members: tuple[Member, ...]
    namespaces: tuple[NamespaceConfig, ...]
    timing: RaftTiming = field(default_factory=RaftTiming)
    fsync: bool = True
    read_path: str = "readindex"  # how LINEARIZE reads confirm leadership: readindex | log
    balance_leaders: bool = True  # move each group's leadership to its preferred replica
    join: str = ""  # a member's client address to join through (first start only)
    unsafe_local_reads: bool = False
    enable_fault_injection: bool = False
    enable_failpoints: bool = False
    metrics_port: int = 0  # Prometheus /metrics on this node's host; 0: none
    listen_host: str = ""  # bind client, peer and metrics ports here ("": the member's host)
    peer_listen: str = ""  # host:port of the peer port ("": bind(me.peer))
    limits: Limits = field(default_factory=Limits)  # admission bounds (admission.py)
    storage: StorageSettings = field(default_factory=StorageSettings)  # RocksDB tuning
    tls: TLSSettings | None = None  # TLS on the client port (tls.py)
    security: SecuritySettings = field(default_factory=lambda: SecuritySettings())
    # namespace -> this node's expiry and stop-writes settings (namespace_settings.py)
    namespace_settings: tuple[tuple[str, NamespaceSettings], ...] = ()

    def settings_of(self, namespace: str) -> NamespaceSettings:
        """This node's settings of ``namespace`` (the defaults if its table has none)."""
        return dict(self.namespace_settings).get(namespace, namespace_settings.DEFAULTS)

    @property
    def me(self) -> Member:
        return next(m for m in self.members if m.id == self.node_id)

    def member(self, node_id: str) -> Member | None:
        return next((m for m in self.members if m.id == node_id), None)

    def bind(self, address: str) -> tuple[str, int]:
        """Where to listen for one of this node's addresses: ``listen_host`` if set (a pod
        binds 0.0.0.0 and advertises its DNS name), else the address's own host."""
        host, port = parse_address(address, "listen address")
        return (self.listen_host or host, port)

    def peer_bind(self) -> tuple[str, int]:
        """Where the peer port listens: ``peer_listen`` if set, else ``bind(me.peer)``."""
        if self.peer_listen:
            return parse_address(self.peer_listen, "peer_listen")
        return self.bind(self.me.peer)

    @property
    def unsafe_flags(self) -> list[str]:
        flags = []
        if not self.fsync:
            flags.append("unsafe-no-fsync")
        if self.unsafe_local_reads:
            flags.append("unsafe-local-reads")
        if self.enable_fault_injection:
            flags.append("fault-injection")
        if self.enable_failpoints:
            flags.append("failpoints")
        return flags


def parse_address(value: object, what: str) -> tuple[str, int]:
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError(f"{what}: expected host:port, got {value!r}")
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"{what}: expected host:port with a port 1..65535, got {value!r}")
    return host, int(port)


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise ConfigError(f"{what}: {value!r} must be 1-32 letters, digits, '-' or '_'")
    return value


check_id = _check_id


def _members(raw: object) -> tuple[Member, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("at least one [[member]] is required (every member, this node included)")
    members = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or set(m) - {"id", "client", "peer", "rack"}:
            raise ConfigError(f"member #{i + 1}: expected keys id, client, peer (and rack)")
        mid = _check_id(m.get("id"), f"member #{i + 1} id")
        parse_address(m.get("client"), f"member {mid} client")
        parse_address(m.get("peer"), f"member {mid} peer")
        rack = m.get("rack", "")
        if rack != "":
            rack = _check_id(rack, f"member {mid} rack")
        members.append(Member(mid, m["client"], m["peer"], rack))
    ids = [m.id for m in members]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"member ids must be unique: {ids}")
    addrs = [a for m in members for a in (m.client, m.peer)]
    if len(set(addrs)) != len(addrs):
        raise ConfigError("member addresses must all differ")
    return tuple(members)


def _namespaces(
    raw: object, n_members: int
) -> tuple[tuple[NamespaceConfig, ...], tuple[tuple[str, NamespaceSettings], ...]]:
    if raw is None:
        raw = [{"name": "test", "replication_factor": min(3, n_members)}]
    if not isinstance(raw, list):
        raise ConfigError("[[namespace]] must be a list of tables")
    allowed = {f.name for f in fields(NamespaceConfig)} | namespace_settings.KEYS
    out = []
    settings = []
    for ns in raw:
        if not isinstance(ns, dict) or "name" not in ns or set(ns) - allowed:
            raise ConfigError(f"namespace {ns!r}: allowed keys are {sorted(allowed)}")
        own, node_settings = namespace_settings.split(ns)
        cfg = NamespaceConfig(**own).validate()
        settings.append((cfg.name, node_settings))
        if cfg.replication_factor > n_members:
            raise ConfigError(
                f"namespace {cfg.name}: replication_factor {cfg.replication_factor} exceeds "
                f"the number of members ({n_members})"
            )
        out.append(cfg)
    names = [n.name for n in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"namespace names must be unique: {names}")
    return tuple(out), tuple(settings)


def _timing(raw: object) -> RaftTiming:
    raw = raw or {}
    allowed = {f.name for f in fields(RaftTiming)}
    if not isinstance(raw, dict) or set(raw) - allowed:
        raise ConfigError(f"[raft] allowed keys are {sorted(allowed)}")
    t = RaftTiming(**raw)
    if not 0.01 <= t.heartbeat <= 1.0:
        raise ConfigError("raft.heartbeat must be 0.01..1.0 seconds")
    if not t.election_min > 3 * t.heartbeat:
        raise ConfigError("raft.election_min must exceed 3 heartbeats")
    if not t.election_max > t.election_min:
        raise ConfigError("raft.election_max must exceed raft.election_min")
    if not t.heartbeat < t.leader_lease <= t.election_min:
        raise ConfigError("raft.leader_lease must be above the heartbeat and at most election_min")
    if t.snapshot_entries < 100 or t.snapshot_seconds <= 0:
        raise ConfigError("raft.snapshot_entries must be >= 100 and snapshot_seconds > 0")
    if type(t.peer_batch) is not bool or type(t.quiesce) is not bool:
        raise ConfigError("raft.peer_batch and raft.quiesce must be true or false")
    return t


def _storage(raw: object) -> StorageSettings:
    """The ``[storage]`` table (RocksDB tuning; engine.StorageSettings documents each)."""
    raw = raw or {}
    allowed = {f.name for f in fields(StorageSettings)}
    if not isinstance(raw, dict) or set(raw) - allowed:
        raise ConfigError(f"[storage] allowed keys are {sorted(allowed)}")
    try:
        return StorageSettings(**raw)
    except ValueError as e:
        raise ConfigError(f"[storage] {e}") from None


def _secret(doc: dict[str, Any], base: Path) -> bytes:
    env = os.environ.get("RAFTSTORE_CLUSTER_SECRET")
    if env:
        secret = env.encode()
    else:
        path = doc.get("secret_file")
        if not isinstance(path, str):
            raise ConfigError("secret_file is required (or set RAFTSTORE_CLUSTER_SECRET)")
        p = (base / path) if not os.path.isabs(path) else Path(path)
        try:
            secret = p.read_bytes().strip()
        except OSError as e:
            raise ConfigError(f"secret_file {p}: {e.strerror}") from None
    if len(secret) < 16:
        raise ConfigError("the cluster secret must be at least 16 bytes")
    return secret


def _security(raw: object, base: Path) -> SecuritySettings:
    if raw is None:
        return SecuritySettings()
    if not isinstance(raw, dict):
        raise ConfigError("[security] must be a table")
    unknown = set(raw) - {"enabled", "admin_password_file", "token_ttl"}
    if unknown:
        raise ConfigError(f"[security]: unknown settings {sorted(unknown)}")
    enabled = raw.get("enabled", False)
    ttl = raw.get("token_ttl", 86400)
    if not isinstance(enabled, bool):
        raise ConfigError("security.enabled must be true or false")
    if not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or not 1 <= ttl <= 30 * 86400:
        raise ConfigError("security.token_ttl must be 1..2592000 seconds")
    password = os.environ.get("RAFTSTORE_ADMIN_PASSWORD", "")
    path = raw.get("admin_password_file")
    if not password and path is not None:
        if not isinstance(path, str):
            raise ConfigError("security.admin_password_file must be a path")
        p = (base / path) if not os.path.isabs(path) else Path(path)
        try:
            password = p.read_text().strip()
        except OSError as e:
            raise ConfigError(f"security.admin_password_file {p}: {e.strerror}") from None
    return SecuritySettings(enabled, password, float(ttl))


_TOP_KEYS = {
    "security",
    "tls",
    "node_id",
    "data_dir",
    "cluster_id",
    "secret_file",
    "member",
    "namespace",
    "raft",
    "metrics_port",
    "listen_host",
    "peer_listen",
    "limits",
    "storage",
}


def load_config(path: str | Path, **overrides: Any) -> NodeConfig:
    """Read and validate a node configuration file; raise ConfigError with the reason."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    return build_config(doc, base=path.parent, **overrides)


def build_config(doc: dict[str, Any], *, base: Path, **overrides: Any) -> NodeConfig:
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"unknown settings {sorted(unknown)}; known: {sorted(_TOP_KEYS)}")
    node_id = _check_id(doc.get("node_id"), "node_id")
    members = _members(doc.get("member"))
    if node_id not in {m.id for m in members}:
        raise ConfigError(
            f"node_id {node_id!r} is not one of the members {[m.id for m in members]}"
        )
    data_dir = doc.get("data_dir")
    if not isinstance(data_dir, str) or not data_dir:
        raise ConfigError("data_dir is required")
    cluster_id = _check_id(doc.get("cluster_id", "raftstore"), "cluster_id")
    namespaces, settings = _namespaces(doc.get("namespace"), len(members))
    return NodeConfig(
        node_id=node_id,
        data_dir=(base / data_dir).resolve(),
        cluster_id=cluster_id,
        secret=_secret(doc, base),
        members=members,
        namespaces=namespaces,
        namespace_settings=settings,
        timing=_timing(doc.get("raft")),
        limits=Limits.from_toml(doc.get("limits")),
        storage=_storage(doc.get("storage")),
        tls=tls_from_toml(doc.get("tls"), base),
        security=_security(doc.get("security"), base),
        **{**_listen_settings(doc), **overrides},
    )


def _listen_settings(doc: dict[str, Any]) -> dict[str, Any]:
    port = doc.get("metrics_port", 0)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ConfigError(f"metrics_port: expected a port 1..65535 (0: none), got {port!r}")
    host = doc.get("listen_host", "")
    if not isinstance(host, str):
        raise ConfigError(f"listen_host: expected a host name or address, got {host!r}")
    peer_listen = doc.get("peer_listen", "")
    if not isinstance(peer_listen, str):
        raise ConfigError(f"peer_listen: expected host:port, got {peer_listen!r}")
    if peer_listen:
        parse_address(peer_listen, "peer_listen")
    return {"metrics_port": port, "listen_host": host, "peer_listen": peer_listen}


def check_data_dir(config: NodeConfig) -> None:
    """Create the data dir's identity file, or check that it belongs to this node and cluster."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    ident = config.data_dir / "node.json"
    want = {
        "node_id": config.node_id,
        "cluster_id": config.cluster_id,
        "namespaces": {n.name: n.partition_groups for n in config.namespaces},
    }
    if not ident.exists():
        _write_ident(ident, want)
        return
    have = json.loads(ident.read_text())
    if have.get("node_id") != config.node_id or have.get("cluster_id") != config.cluster_id:
        raise ConfigError(
            f"{config.data_dir} belongs to node {have.get('node_id')!r} of cluster "
            f"{have.get('cluster_id')!r}, not node {config.node_id!r} of {config.cluster_id!r}"
        )
    for name, groups in have.get("namespaces", {}).items():
        if name in want["namespaces"] and want["namespaces"][name] != groups:
            raise ConfigError(
                f"namespace {name} was created with {groups} partition groups; it cannot change "
                f"to {want['namespaces'][name]}"
            )


def _write_ident(ident: Path, doc: dict[str, Any]) -> None:
    tmp = ident.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    os.replace(tmp, ident)
