"""Replication on three real node processes: reads everywhere, failover, catch-up, restarts,
compare-and-set under contention."""

from __future__ import annotations

import threading
import time

import grpc
from raftstore_client import (
    Client,
    GenerationError,
    GenPolicy,
    ReadMode,
    RecordNotFound,
    WritePolicy,
)

from raftstore.v1 import kv_pb2
from raftstore.wire import bins_from_pb, value_to_pb
from tests.integration.helpers import (
    group_of,
    key_in_group,
    pb_key,
    replicas_caught_up,
    stub,
    wait_until,
)
from tests.jepsen.cluster import Cluster


def test_a_write_through_one_node_is_read_through_every_other_node(shared_cluster: Cluster) -> None:
    put = kv_pb2.PutRequest(key=pb_key("test", "s", "everywhere"))
    value_to_pb("hello", put.bins["greeting"])
    ch, kv = stub(shared_cluster, "n1")
    with ch:
        kv.Put(put, timeout=10)  # forwarded to the group leader when n1 does not lead it
    for node in ("n2", "n3"):
        ch, kv = stub(shared_cluster, node)
        with ch:
            rec = kv.Get(
                kv_pb2.GetRequest(key=pb_key("test", "s", "everywhere")), timeout=10
            ).record
        assert bins_from_pb(rec.bins) == {"greeting": "hello"}
        assert rec.metadata.generation == 1


def test_every_replica_applies_a_write(shared_cluster: Cluster) -> None:
    with Client(shared_cluster.hosts) as c:
        c.put(("test", "s", "replicated"), {"n": 7})
    for node in shared_cluster.ids:
        with Client([shared_cluster.address(node)], read_mode=ReadMode.ALLOW_REPLICA) as c:
            # ALLOW_REPLICA reads the replica's own applied state: it converges on every node.
            def applied(c: Client = c) -> bool:
                try:
                    return c.get(("test", "s", "replicated")).bins == {"n": 7}
                except RecordNotFound:
                    return False

            wait_until(applied, 10, f"{node} to apply the write")


def test_killing_a_group_leader_keeps_the_cluster_writable_and_loses_no_acknowledged_write(
    fresh_cluster: Cluster,
) -> None:
    cluster = fresh_cluster
    client = Client(cluster.hosts, timeout=10)
    group = "test/0"
    victim = cluster.leaders()[group]
    acked: dict[tuple[str, str, str], int] = {}
    for i in range(50):
        key = key_in_group(group, f"before{i}-")
        client.put(key, {"i": i})
        acked[key] = i

    cluster.kill(victim)
    killed_at = time.monotonic()
    first_ok = None
    for i in range(200):
        key = key_in_group(group, f"after{i}-")
        try:
            client.put(key, {"i": i})
        except Exception:
            continue
        acked[key] = i
        first_ok = first_ok or time.monotonic() - killed_at
        if len(acked) >= 100:
            break
    assert first_ok is not None and first_ok < 10, f"writable again after {first_ok}s"
    assert cluster.leaders()[group] != victim
    for key, i in acked.items():
        assert client.get(key).bins == {"i": i}
    client.close()


def test_a_killed_node_that_restarts_catches_up(fresh_cluster: Cluster) -> None:
    cluster = fresh_cluster
    cluster.kill("n3")
    with Client(cluster.hosts[:2], timeout=10) as client:
        for i in range(200):
            client.put(("test", "catchup", i), {"i": i})
    cluster.restart("n3")
    wait_until(lambda: replicas_caught_up(cluster, cluster.ids), 30, "n3 to catch up")
    with Client([cluster.address("n3")], read_mode=ReadMode.ALLOW_REPLICA) as replica:
        for i in range(200):
            assert replica.get(("test", "catchup", i)).bins == {"i": i}


def test_the_whole_cluster_stopped_and_restarted_keeps_every_record(fresh_cluster: Cluster) -> None:
    cluster = fresh_cluster
    with Client(cluster.hosts, timeout=10) as client:
        for i in range(100):
            client.put(("test", "durable", i), {"i": i})
    for node in cluster.ids:
        cluster.stop(node)
    cluster.restart_all()
    with Client(cluster.hosts, timeout=10) as client:
        for i in range(100):
            assert client.get(("test", "durable", i)).bins == {"i": i}


def test_the_whole_cluster_killed_at_once_keeps_every_acknowledged_record(
    fresh_cluster: Cluster,
) -> None:
    cluster = fresh_cluster
    with Client(cluster.hosts, timeout=10) as client:
        for i in range(100):
            client.put(("test", "killed", i), {"i": i})
    cluster.kill_all()
    cluster.restart_all()
    with Client(cluster.hosts, timeout=10) as client:
        for i in range(100):
            assert client.get(("test", "killed", i)).bins == {"i": i}


def test_concurrent_compare_and_set_writers_never_both_succeed_on_one_generation(
    shared_cluster: Cluster,
) -> None:
    key = ("test", "cas", "counter")
    with Client(shared_cluster.hosts) as c:
        c.put(key, {"v": 0})
    wins: list[tuple[int, str]] = []
    lock = threading.Lock()

    def writer(name: str) -> None:
        with Client(shared_cluster.hosts, timeout=10) as c:
            for _ in range(40):
                rec = c.get(key)
                policy = WritePolicy(gen=GenPolicy.EXPECT_GEN_EQUAL, generation=rec.meta.gen)
                try:
                    c.put(key, {"v": rec.bins["v"] + 1, "by": name}, policy)
                except GenerationError:
                    continue
                with lock:
                    wins.append((rec.meta.gen, name))

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    generations = [g for g, _ in wins]
    assert len(generations) == len(set(generations)), "two writers won the same generation"
    with Client(shared_cluster.hosts) as c:
        final = c.get(key)
    assert final.bins["v"] == len(wins)
    assert final.meta.gen == 1 + len(wins)
    assert {n for _, n in wins} == {"a", "b"}, "both writers should win sometimes"


def test_a_request_for_a_group_led_elsewhere_gets_a_leader_hint_when_asked(
    shared_cluster: Cluster,
) -> None:
    key = key_in_group("test/1", "hint")
    leader = shared_cluster.leaders()[group_of(key)]
    follower = next(n for n in shared_cluster.ids if n != leader)
    req = kv_pb2.GetRequest(key=pb_key(*key))
    req.header.no_forward = True
    ch, kv = stub(shared_cluster, follower)
    with ch:
        try:
            kv.Get(req, timeout=5)
        except grpc.RpcError as e:
            md = dict(e.trailing_metadata())  # type: ignore[attr-defined]
            assert md["raftstore-result-code"] == "11"
            assert md["raftstore-leader"] == f"{leader}={shared_cluster.address(leader)}"
        else:
            raise AssertionError("expected PARTITION_UNAVAILABLE with a leader hint")


def test_a_pinned_client_reaches_the_cluster_only_through_its_node(fresh_cluster: Cluster) -> None:
    cluster = fresh_cluster
    with Client([cluster.address("n1")], pinned=True, timeout=5) as c:
        for i in range(20):  # most groups are led elsewhere: n1 forwards
            c.put(("test", "pinned", i), {"i": i})
            assert c.get(("test", "pinned", i)).bins == {"i": i}
    cluster.partition([{"n1", "n2"}, {"n3"}])
    time.sleep(2.5)  # an isolated leader steps down after one election timeout
    with Client([cluster.address("n1")], pinned=True, timeout=10) as majority:
        for i in range(20):
            majority.put(("test", "pinned", i), {"i": i + 100})
    with Client([cluster.address("n3")], pinned=True, timeout=1, max_retries=1) as minority:
        from raftstore_client import PartitionUnavailable, Timeout

        for i in range(3):
            try:
                minority.get(("test", "pinned", i))
            except (PartitionUnavailable, Timeout) as e:
                assert not e.in_doubt
            else:
                raise AssertionError("an isolated node answered a LINEARIZE read")
    cluster.heal()
    with Client([cluster.address("n3")], pinned=True, timeout=10) as healed:
        wait_until(lambda: _readable(healed, ("test", "pinned", 0)), 15, "n3 to serve again")
        assert healed.get(("test", "pinned", 5)).bins == {"i": 105}


def _readable(c: Client, key: tuple[str, str, int]) -> bool:
    try:
        c.get(key)
        return True
    except Exception:
        return False


def test_session_reads_see_the_clients_own_writes_even_from_a_lagging_replica(
    fresh_cluster: Cluster,
) -> None:
    cluster = fresh_cluster
    key = ("test", "session", "k")
    with Client(cluster.hosts, timeout=10) as c:
        c.put(key, {"v": 1})
    wait_until(lambda: replicas_caught_up(cluster, cluster.ids), 10, "replicas to apply v=1")
    cluster.partition([{"n1", "n2"}, {"n3"}])  # n3 stops applying: its state goes stale
    time.sleep(2.5)
    with Client(cluster.hosts, timeout=10, read_mode=ReadMode.SESSION) as session:
        session.put(key, {"v": 2})
        seen = [session.get(key).bins["v"] for _ in range(9)]  # round robin over n1, n2, n3
    assert seen == [2] * 9, "a SESSION read went back in time"
    with Client([cluster.address("n3")], pinned=True, read_mode=ReadMode.ALLOW_REPLICA) as stale:
        assert stale.get(key).bins == {"v": 1}  # ALLOW_REPLICA: the replica's own, stale state
    cluster.heal()
    with Client([cluster.address("n3")], pinned=True, read_mode=ReadMode.ALLOW_REPLICA) as c:
        wait_until(lambda: c.get(key).bins == {"v": 2}, 15, "n3 to catch up after healing")
