"""Node configuration: a TOML file, validated once at start-up with clear messages.

Example (``raftstore local`` writes one per node)::

    node_id = "n1"
    data_dir = "/var/lib/raftstore/n1"
    cluster_id = "prod-eu"
    secret_file = "/etc/raftstore/cluster.secret"   # >= 16 bytes, shared by all members

    [[member]]            # every member, this node included
    id = "n1"
    client = "10.0.0.1:3000"   # gRPC for clients
    peer = "10.0.0.1:3001"     # Raft traffic between nodes

    [[namespace]]
    name = "test"
    replication_factor = 3
    default_ttl = 0
    max_record_size = 1048576
    partition_groups = 8

    [raft]
    heartbeat = 0.1
    election_min = 1.0
    election_max = 2.0
    leader_lease = 1.0
    snapshot_entries = 20000
    snapshot_seconds = 600

Without any ``[[namespace]]`` the node serves one namespace named ``test``, as
Aerospike's default configuration does.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from raftstore.namespaces import ConfigError, NamespaceConfig
from raftstore.replication.group import RaftTiming

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    client: str
    peer: str


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
    unsafe_local_reads: bool = False
    enable_fault_injection: bool = False
    enable_failpoints: bool = False

    @property
    def me(self) -> Member:
        return next(m for m in self.members if m.id == self.node_id)

    def member(self, node_id: str) -> Member | None:
        return next((m for m in self.members if m.id == node_id), None)

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


def _members(raw: object) -> tuple[Member, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("at least one [[member]] is required (every member, this node included)")
    members = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or set(m) - {"id", "client", "peer"}:
            raise ConfigError(f"member #{i + 1}: expected keys id, client, peer")
        mid = _check_id(m.get("id"), f"member #{i + 1} id")
        parse_address(m.get("client"), f"member {mid} client")
        parse_address(m.get("peer"), f"member {mid} peer")
        members.append(Member(mid, m["client"], m["peer"]))
    ids = [m.id for m in members]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"member ids must be unique: {ids}")
    addrs = [a for m in members for a in (m.client, m.peer)]
    if len(set(addrs)) != len(addrs):
        raise ConfigError("member addresses must all differ")
    return tuple(members)


def _namespaces(raw: object, n_members: int) -> tuple[NamespaceConfig, ...]:
    if raw is None:
        raw = [{"name": "test", "replication_factor": min(3, n_members)}]
    if not isinstance(raw, list):
        raise ConfigError("[[namespace]] must be a list of tables")
    allowed = {f.name for f in fields(NamespaceConfig)}
    out = []
    for ns in raw:
        if not isinstance(ns, dict) or "name" not in ns or set(ns) - allowed:
            raise ConfigError(f"namespace {ns!r}: allowed keys are {sorted(allowed)}")
        cfg = NamespaceConfig(**ns).validate()
        if cfg.replication_factor != n_members:
            raise ConfigError(
                f"namespace {cfg.name}: replication_factor {cfg.replication_factor} must equal "
                f"the number of members ({n_members}) in this version: every group has a "
                "replica on every node"
            )
        out.append(cfg)
    names = [n.name for n in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"namespace names must be unique: {names}")
    return tuple(out)


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
    return t


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


_TOP_KEYS = {"node_id", "data_dir", "cluster_id", "secret_file", "member", "namespace", "raft"}


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
    return NodeConfig(
        node_id=node_id,
        data_dir=(base / data_dir).resolve(),
        cluster_id=cluster_id,
        secret=_secret(doc, base),
        members=members,
        namespaces=_namespaces(doc.get("namespace"), len(members)),
        timing=_timing(doc.get("raft")),
        **overrides,
    )


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
        tmp = ident.with_suffix(".tmp")
        tmp.write_text(json.dumps(want, indent=2))
        os.replace(tmp, ident)
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
