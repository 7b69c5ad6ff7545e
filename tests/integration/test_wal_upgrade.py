"""Nodes whose data directories hold the per-group journal layout of earlier releases
(``groups/<ns>-<i>/journal``) import every group's journal into the node's WAL on start,
delete the old directories, and lose nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

from raftstore_client import Client, ReadMode

from raftstore.replication.journal import DurableJournal
from raftstore.replication.wal import WriteAheadLog
from tests.integration.helpers import replicas_caught_up, wait_until
from tests.jepsen.cluster import Cluster


def _to_per_group_layout(data: Path) -> int:
    """Rewrite a stopped node's WAL as the per-group journals an earlier release kept."""
    wal = WriteAheadLog(data / "wal")
    entries = 0
    for gid in wal.group_ids():
        group = wal.open_group(gid)
        legacy = DurableJournal(data / "groups" / gid.replace("/", "-") / "journal")
        for entry in group:
            legacy.add(*entry)
        legacy.setCurrentTerm(group.getCurrentTerm(), group.getVotedForNodeId())
        legacy.setRaftCommitIndex(group.getRaftCommitIndex())
        legacy.close()
        entries += len(group)
    wal.close()
    shutil.rmtree(data / "wal")
    return entries


def test_per_group_journals_are_imported_into_the_wal_and_removed(fresh_cluster: Cluster) -> None:
    cluster = fresh_cluster
    keys = [("test", "upgrade", i) for i in range(200)]
    with Client(cluster.hosts, timeout=10) as c:
        for i, key in enumerate(keys):
            c.put(key, {"i": i})
    before = {n: {g.group_id: g for g in cluster.status(n).groups} for n in cluster.ids}
    for node in cluster.ids:
        cluster.stop(node)
    data = {node: cluster.node(node).config.parent / "data" for node in cluster.ids}
    for node in cluster.ids:
        assert _to_per_group_layout(data[node]) > 200 // 3
        assert list(data[node].glob("groups/*/journal"))
    cluster.restart_all()
    for node in cluster.ids:
        assert not list(data[node].glob("groups/*/journal*")), node
        assert "journal entries from" in cluster.log_text(node)
        for g in cluster.status(node).groups:  # log and term came back from the import
            old = before[node][g.group_id]
            assert g.term >= old.term and g.last_log_index >= old.last_log_index, g.group_id
    wait_until(lambda: replicas_caught_up(cluster, cluster.ids), 60, "replicas to converge")
    for node in cluster.ids:
        with Client([cluster.address(node)], pinned=True, read_mode=ReadMode.ALLOW_REPLICA) as c:
            got = c.get_many(keys)
        assert [r.bins["i"] if r else None for r in got] == list(range(200)), node
    with Client(cluster.hosts, timeout=10) as c:
        c.put(("test", "upgrade", 999), {"i": 999})  # the imported logs go on growing
        assert c.get(("test", "upgrade", 0)).bins["i"] == 0
