"""A hostile client cannot hurt the cluster: malformed bytes, huge requests and huge values
are answered at once with a result code, log one line, and move no leadership."""

from __future__ import annotations

import random
import threading
import time

import grpc
import pytest
from raftstore_client import Client, RecordTooBig

from raftstore.v1 import kv_pb2
from raftstore.wire import value_to_pb
from tests.integration.fuzz import Fuzzer
from tests.integration.helpers import moved_terms, pb_key, settled_terms
from tests.jepsen.cluster import Cluster

KV = "/raftstore.v1.KV/"


def raw_call(cluster: Cluster, node: str, method: str, payload: bytes) -> tuple[str, int | None]:
    """Send ``payload`` as the request of KV ``method``: (status name, result code)."""
    with grpc.insecure_channel(
        cluster.address(node), options=[("grpc.max_send_message_length", 64 << 20)]
    ) as ch:
        call = ch.unary_unary(KV + method)
        try:
            call(payload, timeout=10)
        except grpc.RpcError as e:
            md = dict(e.trailing_metadata() or ())  # type: ignore[attr-defined]
            rc = md.get("raftstore-result-code")
            return e.code().name, int(rc) if rc is not None else None  # type: ignore[attr-defined]
    return "OK", 0


def seeds() -> list[tuple[str, bytes]]:
    """Valid requests of every KV method, to be mutated."""
    key = pb_key("test", "fuzz", "k")
    put = kv_pb2.PutRequest(key=key)
    value_to_pb([1, "two", {b"k": [3.0, None]}], put.bins["a"])
    value_to_pb(7, put.bins["b"])
    op = kv_pb2.OperateRequest(key=key)
    o = op.operations.add(type=1, bin="b")
    value_to_pb(1, o.value)
    batch = kv_pb2.BatchGetRequest()
    batch.reads.add(key=key)
    batch.reads.add(key=pb_key("test", "fuzz", "j"), bins=["a"])
    writes = kv_pb2.BatchOperateRequest()
    item = writes.items.add(key=key, type=kv_pb2.BATCH_ITEM_TYPE_PUT)
    value_to_pb([1, {"m": b"x"}], item.bins["a"])
    writes.items.add(key=pb_key("test", "fuzz", "j"), type=kv_pb2.BATCH_ITEM_TYPE_OPERATE)
    writes.items[1].operations.add(type=3, bin="n").value.int_value = 1
    return [
        ("Put", put.SerializeToString()),
        ("Get", kv_pb2.GetRequest(key=key, bins=["a"]).SerializeToString()),
        ("Exists", kv_pb2.ExistsRequest(key=key).SerializeToString()),
        ("Delete", kv_pb2.DeleteRequest(key=key).SerializeToString()),
        ("Touch", kv_pb2.TouchRequest(key=key).SerializeToString()),
        ("Operate", op.SerializeToString()),
        ("BatchGet", batch.SerializeToString()),
        ("BatchOperate", writes.SerializeToString()),
    ]


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0:  # flip a few bytes
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == 1:  # cut short
        b = b[: rng.randrange(len(b))]
    elif kind == 2:  # insert garbage
        at = rng.randrange(len(b) + 1)
        b[at:at] = rng.randbytes(rng.randint(1, 16))
    else:  # a field with a huge length prefix
        b += bytes([0x0A, 0xFF, 0xFF, 0xFF, 0x7F]) + rng.randbytes(8)
    return bytes(b)


def test_malformed_and_mutated_requests_get_clear_codes_and_one_log_line(
    shared_cluster: Cluster,
) -> None:
    before = settled_terms(shared_cluster)
    rng = random.Random(9)
    codes: dict[tuple[str, int | None], int] = {}
    requests = seeds()
    with grpc.insecure_channel(shared_cluster.address("n1")) as ch:
        for i in range(600):
            method, seed = requests[i % len(requests)]
            try:
                ch.unary_unary(KV + method)(mutate(seed, rng), timeout=10)
                code = ("OK", 0)
            except grpc.RpcError as e:
                md = dict(e.trailing_metadata() or ())  # type: ignore[attr-defined]
                rc = md.get("raftstore-result-code")
                code = (e.code().name, int(rc) if rc else None)  # type: ignore[attr-defined]
            codes[code] = codes.get(code, 0) + 1
    print(f"\nfuzzed 600 requests: {sorted(codes.items(), key=lambda kv: -kv[1])}")
    assert not {c for c in codes if c[0] in ("UNKNOWN", "INTERNAL")}, codes
    assert all(rc is not None for name, rc in codes if name != "OK"), codes
    assert codes.get(("INVALID_ARGUMENT", 4), 0) > 100
    assert raw_call(shared_cluster, "n1", "Put", b"\xff" * 32) == ("INVALID_ARGUMENT", 4)
    log = shared_cluster.log_text("n1")
    assert "Traceback" not in log
    assert 1 <= log.count("malformed requests answered PARAMETER_ERROR") <= 3
    assert not moved_terms(before, shared_cluster)


def test_a_request_over_the_size_limit_is_refused_at_once_with_record_too_big(
    shared_cluster: Cluster,
) -> None:
    req = kv_pb2.PutRequest(key=pb_key("test", "hostile", "3mb"))
    req.bins["blob"].bytes_value = b"x" * (3 << 20)  # over 1 MiB + 1 MiB of overhead
    start = time.monotonic()
    assert raw_call(shared_cluster, "n2", "Put", req.SerializeToString()) == (
        "INVALID_ARGUMENT",
        13,
    )
    assert time.monotonic() - start < 2.0
    with Client(shared_cluster.hosts, timeout=5) as client:
        start = time.monotonic()
        with pytest.raises(RecordTooBig) as info:  # 20 MB: refused by gRPC's limit, unread
            client.put(("test", "hostile", "20mb"), {"s": "y" * (20 << 20)})
        elapsed = time.monotonic() - start
        assert not info.value.in_doubt
        print(f"\n20 MB put refused in {elapsed * 1000:.0f} ms: {info.value}")
        assert elapsed < 3.0


def _put_bytes(user_key: str, value: object) -> bytes:
    req = kv_pb2.PutRequest(key=pb_key("test", "hostile", user_key))
    value_to_pb(value, req.bins["v"])
    return req.SerializeToString()


class _Prober:
    """Small puts every 10 ms from another thread; the slowest shows how long the node's
    event loop was held while it refused the big ones."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._stop = threading.Event()
        self.worst = 0.0
        self.count = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.monotonic()
            self._client.put(("test", "hostile", f"probe{self.count % 50}"), {"n": self.count})
            self.worst = max(self.worst, time.monotonic() - start)
            self.count += 1
            time.sleep(0.01)

    def __enter__(self) -> _Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def test_huge_lists_and_maps_are_refused_quickly_without_any_election(
    shared_cluster: Cluster,
) -> None:
    nested = [list(range(300)) for _ in range(400)]  # 120,000 elements in 400 lists
    deep = kv_pb2.PutRequest(key=pb_key("test", "hostile", "e"))
    inner = deep.bins["v"]
    for _ in range(40):  # lists in lists, 40 deep: built by hand, value_to_pb refuses it
        inner = inner.list_value.items.add()
    inner.int_value = 1
    cases = [
        # 6 MB: over gRPC's receive limit, refused unread (the client maps it to 13)
        ("1M-list", _put_bytes("a", list(range(1_000_000))), ("RESOURCE_EXHAUSTED", None)),
        # 2.8 MB: over the request limit, refused before parsing
        ("200k-map", _put_bytes("b", {i: i for i in range(200_000)}), ("INVALID_ARGUMENT", 13)),
        # within the size limits, over max_elements: refused before decoding any item
        ("150k-list", _put_bytes("c", list(range(150_000))), ("INVALID_ARGUMENT", 13)),
        ("nested-120k", _put_bytes("d", nested), ("INVALID_ARGUMENT", 13)),
        ("40-deep", deep.SerializeToString(), ("INVALID_ARGUMENT", 4)),
    ]
    before = settled_terms(shared_cluster)
    timings = {}
    with Client(shared_cluster.hosts, timeout=10) as client, _Prober(client) as prober:
        time.sleep(0.2)
        for name, payload, want in cases:
            for node in shared_cluster.ids:
                start = time.monotonic()
                got = raw_call(shared_cluster, node, "Put", payload)
                timings[name] = max(timings.get(name, 0.0), time.monotonic() - start)
                assert got == want, (name, node, got)
        time.sleep(0.2)
    print(
        f"\nrefusal times (s, incl. the transfer): "
        f"{ {k: round(v, 3) for k, v in timings.items()} }; "
        f"{prober.count} probe puts meanwhile, slowest {prober.worst * 1000:.0f} ms"
    )
    assert max(timings.values()) < 1.0
    assert prober.worst < 1.0
    assert not moved_terms(before, shared_cluster)  # no election anywhere
    with Client(shared_cluster.hosts, timeout=10) as client, pytest.raises(RecordTooBig):
        client.put(("test", "hostile", "f"), {"v": list(range(150_000))})


def test_the_largest_admitted_value_is_stored(shared_cluster: Cluster) -> None:
    with Client(shared_cluster.hosts, timeout=10) as client:
        big = list(range(19_000))  # under [limits] max_elements (20,000)
        client.put(("test", "hostile", "big-ok"), {"v": big})
        assert client.get(("test", "hostile", "big-ok")).bins["v"] == big


def _fuzz(cluster: Cluster, seed: int, count: int) -> None:
    """Descriptor-driven requests for every method of the client port (fuzz.py)."""
    before = settled_terms(cluster)
    fuzzer = Fuzzer(cluster.address("n1"), seed)
    outcomes = fuzzer.run(count)
    print(
        f"\nseed {seed}: {count} requests, {len(fuzzer.by_method)} methods: "
        f"{sorted(outcomes.items(), key=lambda kv: -kv[1])}"
    )
    assert len(fuzzer.by_method) >= 25, fuzzer.by_method  # every service was reached
    bad = {c: n for c, n in outcomes.items() if c[0] in ("UNKNOWN", "INTERNAL")}
    assert not bad, bad
    unexplained = {c: n for c, n in outcomes.items() if c[0] != "OK" and c[1] is None}
    assert not unexplained, unexplained  # every refusal carries a result code
    for node in cluster.ids:
        assert cluster.is_running(node), f"{node} died"
        assert "Traceback" not in cluster.log_text(node), node
    assert not moved_terms(before, cluster)


def test_descriptor_driven_fuzzing_gets_result_codes_and_moves_no_leader(
    fresh_cluster: Cluster,
) -> None:
    _fuzz(fresh_cluster, seed=1, count=400)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2, 12))
def test_descriptor_driven_fuzzing_many_seeds(fresh_cluster: Cluster, seed: int) -> None:
    _fuzz(fresh_cluster, seed=seed, count=2000)
