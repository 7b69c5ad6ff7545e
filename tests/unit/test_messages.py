"""Peer messages are checked before pysyncobj sees them; malformed ones are refused."""

from __future__ import annotations

import pytest

from raftstore.replication.messages import check_message

GOOD = [
    {"type": "request_vote", "term": 2, "last_log_index": 5, "last_log_term": 1},
    {"type": "response_vote", "term": 2},
    {"type": "append_entries", "term": 2, "commit_index": 4},
    {
        "type": "append_entries",
        "term": 2,
        "commit_index": 4,
        "prevLogIdx": 3,
        "prevLogTerm": 1,
        "entries": ((b"\x00x", 4, 2), (b"\x01", 5, 2)),
    },
    {"type": "append_entries", "term": 2, "commit_index": 4, "serialized": (b"chunk", True, False)},
    {"type": "append_entries", "term": 2, "commit_index": 4, "serialized": None},
    {"type": "next_node_idx", "next_node_idx": 6, "reset": False, "success": True},
    {"type": "timeout_now", "term": 3},
]

BAD = [
    ("not a map", ["type", "x"]),
    ("unknown type", {"type": "apply_command", "command": b"x"}),
    (
        "pickled transmission",
        {
            "type": "append_entries",
            "term": 1,
            "commit_index": 1,
            "prevLogIdx": 1,
            "prevLogTerm": 1,
            "transmission": "start",
            "data": b"\x80\x04",
        },
    ),
    ("missing field", {"type": "request_vote", "term": 1}),
    ("bool as int", {"type": "response_vote", "term": True}),
    ("negative", {"type": "response_vote", "term": -1}),
    (
        "str entries",
        {
            "type": "append_entries",
            "term": 1,
            "commit_index": 1,
            "prevLogIdx": 0,
            "prevLogTerm": 0,
            "entries": "abc",
        },
    ),
    (
        "gap",
        {
            "type": "append_entries",
            "term": 1,
            "commit_index": 1,
            "prevLogIdx": 0,
            "prevLogTerm": 0,
            "entries": ((b"x", 1, 1), (b"x", 3, 1)),
        },
    ),
    (
        "empty command",
        {
            "type": "append_entries",
            "term": 1,
            "commit_index": 1,
            "prevLogIdx": 0,
            "prevLogTerm": 0,
            "entries": ((b"", 1, 1),),
        },
    ),
    (
        "bad chunk",
        {"type": "append_entries", "term": 1, "commit_index": 1, "serialized": ("x", 1, 0)},
    ),
    ("extra field", {"type": "response_vote", "term": 1, "evil": 1}),
    ("success not bool", {"type": "next_node_idx", "next_node_idx": 1, "reset": 0, "success": 1}),
]


@pytest.mark.parametrize("message", GOOD, ids=[str(i) for i in range(len(GOOD))])
def test_well_formed_messages_pass(message: dict[str, object]) -> None:
    assert check_message(message) is None


@pytest.mark.parametrize(("why", "message"), BAD, ids=[b[0] for b in BAD])
def test_malformed_messages_are_refused(why: str, message: object) -> None:
    assert check_message(message) is not None
