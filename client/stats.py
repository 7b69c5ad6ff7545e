"""``raftstore stats``: one node's figures, ``key=value`` a line, as ``asinfo`` prints them.

    raftstore stats --hosts 127.0.0.1:3000 [--metrics-port 3002] [--json]

Every host in ``--hosts`` is asked for its status (GetNodeStatus: role, term, commit and
applied index of each group replica it holds). With ``--metrics-port`` the node's
Prometheus endpoint on the same host is read too (request counts by command and result,
latency percentiles estimated from the histograms as Prometheus' ``histogram_quantile``
does, fsync latency, RocksDB estimates). Needs only the client's dependencies.
"""

from __future__ import annotations

import math
import re
import urllib.request
from collections import defaultdict
from typing import Any

from raftstore_client.info import _ROLE

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
_ROLE_LEADER = next(k for k, v in _ROLE.items() if v == "leader")


def node_stats(status: Any) -> dict[str, Any]:
    """Figures of one node from its NodeStatus."""
    groups = list(status.groups)
    peers = [p for p in status.peers if p.node_id != status.node_id]
    out: dict[str, Any] = {
        "node_id": status.node_id,
        "cluster_id": status.cluster_id,
        "version": status.version,
        "uptime_s": round(status.uptime_seconds, 1),
        "client_address": status.client_address,
        "peers_connected": f"{sum(p.connected for p in peers)}/{len(peers)}",
        "unsafe_flags": ",".join(status.unsafe_flags) or "none",
        "groups": len(groups),
        "groups_led": sum(g.role == _ROLE_LEADER for g in groups),
        "max_apply_lag": max((g.commit_index - g.applied_index for g in groups), default=0),
    }
    for g in groups:
        out[f"group[{g.group_id}]"] = (
            f"role={_ROLE.get(g.role, 'unknown')};term={g.term};commit={g.commit_index};"
            f"applied={g.applied_index};log_entries={g.log_entries};snapshot={g.snapshot_index}"
        )
    return out


def parse_exposition(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Samples of a Prometheus text exposition: (name, labels, value)."""
    out = []
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and not line.startswith("#"):
            labels = dict(_LABEL.findall(m[2] or ""))
            out.append((m[1], labels, float(m[3])))
    return out


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """The q-quantile from cumulative (upper bound, count) buckets, interpolated linearly."""
    buckets = sorted(buckets)
    total = buckets[-1][1] if buckets else 0
    if total == 0:
        return math.nan
    rank, prev_bound, prev_count = q * total, 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return prev_bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    return prev_bound


def metrics_stats(samples: list[tuple[str, dict[str, str], float]]) -> dict[str, Any]:
    """Request, latency, fsync and store figures from a node's samples."""
    out: dict[str, Any] = {}
    latency: dict[str, list[tuple[float, float]]] = defaultdict(list)
    fsync: list[tuple[float, float]] = []
    sums: dict[str, float] = defaultdict(float)
    for name, labels, value in samples:
        if name == "raftstore_requests_total":
            out[f"requests[{labels['command']},{labels['result']}]"] = int(value)
        elif name == "raftstore_request_duration_seconds_bucket":
            _add_bucket(latency[labels["command"]], float(labels["le"]), value)
        elif name == "raftstore_journal_fsync_duration_seconds_bucket":
            _add_bucket(fsync, float(labels["le"]), value)
        elif name in ("raftstore_store_size_bytes", "raftstore_store_keys"):
            sums[name[len("raftstore_") :]] += value
        elif name.startswith(("raftstore_proposals", "raftstore_data_dir")):
            key = name[len("raftstore_") :] + (f"[{labels['kind']}]" if "kind" in labels else "")
            out[key] = int(value)
    for command, buckets in sorted(latency.items()):
        for q in (0.5, 0.99):
            out[f"latency_p{int(q * 100)}_ms[{command}]"] = _ms(histogram_quantile(q, buckets))
    if fsync:
        out["fsync_p50_ms"] = _ms(histogram_quantile(0.5, fsync))
        out["fsync_p99_ms"] = _ms(histogram_quantile(0.99, fsync))
    out.update({k: int(v) for k, v in sums.items()})
    return out


def _add_bucket(buckets: list[tuple[float, float]], bound: float, count: float) -> None:
    for i, (b, c) in enumerate(buckets):  # several result codes share a command's bounds
        if b == bound:
            buckets[i] = (b, c + count)
            return
    buckets.append((bound, count))


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.2f}"


def scrape(host: str, port: int, timeout: float) -> str:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=timeout) as resp:
        return resp.read().decode()


def render(address: str, stats: dict[str, Any]) -> str:
    return "\n".join([f"node {address}", *(f"  {k}={v}" for k, v in stats.items())])


def collect(client: Any, address: str, metrics_port: int | None, timeout: float) -> dict[str, Any]:
    """A node's figures: status, then metrics when a port is given (errors are figures too)."""
    stats = node_stats(client.node_status(address))
    if metrics_port:
        host = address.rpartition(":")[0]
        try:
            stats.update(metrics_stats(parse_exposition(scrape(host, metrics_port, timeout))))
        except OSError as e:
            stats["metrics_error"] = str(e)
    return stats
