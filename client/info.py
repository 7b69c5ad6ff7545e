"""``raftstore info``: every node's view of the cluster, merged."""

from __future__ import annotations

from typing import Any

from raftstore.errors import RaftstoreError
from raftstore.v1 import cluster_pb2

_ROLE = {
    cluster_pb2.RAFT_ROLE_LEADER: "leader",
    cluster_pb2.RAFT_ROLE_FOLLOWER: "follower",
    cluster_pb2.RAFT_ROLE_CANDIDATE: "candidate",
}


def cluster_info(client: Any) -> dict[str, Any]:
    """Nodes (reachable or not) with their namespaces' expiry counts and stop-writes state,
    and per group: leader, term and each replica's indexes."""
    pmap = client.partition_map()
    nodes: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {
        g.group_id: {
            "group": g.group_id,
            "leader": g.leader_node_id or None,
            "term": g.term,
            "replicas": {},
        }
        for g in pmap.groups
    }
    for n in pmap.nodes:
        entry: dict[str, Any] = {
            "id": n.node_id,
            "client": n.client_address,
            "peer": n.peer_address,
        }
        try:
            status = client.node_status(n.client_address)
        except RaftstoreError as e:
            entry.update(up=False, error=str(e))
            nodes.append(entry)
            continue
        entry.update(
            up=True,
            uptime_s=round(status.uptime_seconds, 1),
            version=status.version,
            unsafe_flags=list(status.unsafe_flags),
            connected_peers=[
                p.node_id for p in status.peers if p.connected and p.node_id != n.node_id
            ],
        )
        entry["namespaces"] = {
            ns.namespace: {
                "expired_records": ns.expired_records,
                "examined_records": ns.examined_records,
                "idle_sessions_deleted": ns.idle_sessions_deleted,
                "sweeps": ns.sweeps,
                "nsup_period_s": ns.nsup_period_seconds,
                "stored_bytes": ns.stored_bytes,
                "stop_writes_size": ns.stop_writes_size,
                "stop_writes": ns.stop_writes,
            }
            for ns in status.namespaces
        }
        nodes.append(entry)
        for g in status.groups:
            groups.setdefault(
                g.group_id, {"group": g.group_id, "leader": None, "term": 0, "replicas": {}}
            )
            groups[g.group_id]["replicas"][n.node_id] = {
                "role": _ROLE.get(g.role, "unknown"),
                "term": g.term,
                "commit": g.commit_index,
                "applied": g.applied_index,
                "last_log": g.last_log_index,
                "snapshot": g.snapshot_index,
                "expired": g.expired_records,
            }
            if g.role == cluster_pb2.RAFT_ROLE_LEADER:
                groups[g.group_id]["leader"], groups[g.group_id]["term"] = n.node_id, g.term
    placed = {g.group_id: list(g.replica_node_ids) for g in pmap.groups}
    for g in groups.values():
        g["placement"] = placed.get(g["group"], [])
    return {
        "cluster_id": pmap.cluster_id,
        "epoch": pmap.epoch,
        "nodes": nodes,
        "groups": sorted(groups.values(), key=_group_order),
        "migrations": {
            "moving_groups": list(pmap.moving_group_ids),
            "active_groups": list(pmap.active_group_ids),
            "pending_groups": list(pmap.pending_group_ids),
            "done_groups": pmap.done_group_count,
            "leaving_nodes": list(pmap.leaving_node_ids),
            "dead_nodes": list(pmap.dead_node_ids),
        },
    }


def _group_order(g: dict[str, Any]) -> tuple[str, int]:
    ns, _, idx = g["group"].rpartition("/")
    return ns, int(idx)


def _namespace_lines(info: dict[str, Any]) -> list[str]:
    """Per node and namespace: records expiry deleted, stored size against the cap."""
    lines = ["", "namespaces (per node: expired records deleted, stored bytes / stop-writes cap):"]
    for n in info["nodes"]:
        for name, ns in sorted(n.get("namespaces", {}).items()):
            period = f"every {ns['nsup_period_s']:g}s" if ns["nsup_period_s"] else "off"
            cap = ns["stop_writes_size"] or "none"
            flag = "  STOP-WRITES" if ns["stop_writes"] else ""
            lines.append(
                f"  {n['id']:<6} {name:<10} expired={ns['expired_records']} "
                f"examined={ns['examined_records']} sweeps={ns['sweeps']} "
                f"idle-sessions={ns.get('idle_sessions_deleted', 0)} (nsup {period})  "
                f"stored={ns['stored_bytes']} cap={cap}{flag}"
            )
    return lines


def render_info(info: dict[str, Any]) -> str:
    lines = [f"cluster {info['cluster_id']}", "", "nodes:"]
    for n in info["nodes"]:
        state = "up" if n["up"] else f"DOWN ({n.get('error', '')})"
        extra = f"  peers={','.join(n.get('connected_peers', []))}" if n["up"] else ""
        unsafe = f"  UNSAFE={','.join(n['unsafe_flags'])}" if n.get("unsafe_flags") else ""
        lines.append(
            f"  {n['id']:<6} client={n['client']:<21} peer={n['peer']:<21} {state}{extra}{unsafe}"
        )
    lines += ["", "partition groups (term; applied index per replica):"]
    for g in info["groups"]:
        replicas = "  ".join(
            f"{nid}={r['applied']}{'*' if r['role'] == 'leader' else ''}"
            for nid, r in sorted(g["replicas"].items())
        )
        lines.append(
            f"  {g['group']:<10} leader={g['leader'] or '-':<6} term={g['term']:<4} {replicas}"
        )
    lines.append("  (* marks the leader)")
    lines += _namespace_lines(info)
    m = info.get("migrations", {})
    moving = m.get("moving_groups", [])
    active, pending = m.get("active_groups", []), m.get("pending_groups", [])
    done = m.get("done_groups", 0)
    header = f"migrations (cluster state epoch {info.get('epoch', 0)}): "
    if moving or done:
        header += f"{len(pending)} pending, {len(active)} active, {done} done"
    else:
        header += "none pending"
    lines += ["", header]
    if active:
        lines.append(f"  active: {', '.join(active)}")
    if pending:
        lines.append(f"  pending: {', '.join(pending)}")
    if m.get("leaving_nodes"):
        lines.append(f"  draining: {', '.join(m['leaving_nodes'])}")
    if m.get("dead_nodes"):
        lines.append(f"  dead, replicas being rebuilt: {', '.join(m['dead_nodes'])}")
    return "\n".join(lines)
