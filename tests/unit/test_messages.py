"""Peer messages are checked before pysyncobj sees them; malformed ones are refused."""

from __future__ import annotations

import pytest

from raftstore.replication.messages import check_message, trim_append_entries

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


# --- trim_append_entries: truncate only from the first conflicting entry (Raft 5.3) ------


def _log(*terms: int) -> tuple[object, int]:
    """term_at and last_index of a log whose entry i (from 1) has terms[i - 1]."""

    def term_at(idx: int) -> int | None:
        return terms[idx - 1] if 1 <= idx <= len(terms) else None

    return term_at, len(terms)


def _append(term: int, prev: int, prev_term: int, *entries: tuple[int, int]) -> dict:
    return {
        "type": "append_entries",
        "term": term,
        "commit_index": 0,
        "prevLogIdx": prev,
        "prevLogTerm": prev_term,
        "entries": tuple((b"x", idx, t) for idx, t in entries),
    }


@pytest.mark.parametrize(
    ("log_terms", "commit", "message", "expected"),
    [
        # the usual case: new entries after the log's end pass unchanged
        ((1, 1), 0, _append(1, 2, 1, (3, 1), (4, 1)), _append(1, 2, 1, (3, 1), (4, 1))),
        # a repeated message whose entries are all there: nothing to truncate or re-append
        ((1, 1, 1), 0, _append(1, 1, 1, (2, 1), (3, 1)), _append(1, 3, 1)),
        # a stale message from the same leader: the later entries of its term are kept
        ((1, 2, 2, 2, 2), 0, _append(2, 1, 1, (2, 2), (3, 2)), _append(2, 5, 2)),
        # a heartbeat that lags behind acknowledgements in flight keeps them too
        ((1, 2, 2, 2), 0, _append(2, 2, 2), _append(2, 4, 2)),
        # matching entries are skipped; truncation starts at the first conflict
        ((1, 1, 1, 1), 0, _append(2, 1, 1, (2, 1), (3, 2)), _append(2, 2, 1, (3, 2))),
        # ... or at the first entry the log does not have
        ((1, 1), 0, _append(1, 1, 1, (2, 1), (3, 1)), _append(1, 2, 1, (3, 1))),
        # a tail of an older term is unverified: kept only up to the commit index
        ((1, 1, 1, 1, 1), 3, _append(2, 1, 1, (2, 1)), _append(2, 3, 1)),
        ((1, 1, 1, 1, 1), 0, _append(2, 1, 1, (2, 1)), _append(2, 2, 1)),
        ((1, 1, 1), 0, _append(2, 1, 1), _append(2, 1, 1)),
        # what pysyncobj must answer itself: a prev that does not match, a first conflict
        ((1, 1), 0, _append(2, 2, 2, (3, 2)), _append(2, 2, 2, (3, 2))),
        ((1, 1, 1), 0, _append(2, 1, 1, (2, 2)), _append(2, 1, 1, (2, 2))),
        ((1,), 0, _append(1, 5, 1, (6, 1)), _append(1, 5, 1, (6, 1))),
    ],
)
def test_append_entries_truncate_only_from_the_first_conflict(
    log_terms: tuple[int, ...], commit: int, message: dict, expected: dict
) -> None:
    term_at, last = _log(*log_terms)
    assert trim_append_entries(message, term_at, last, commit) == expected


def test_a_snapshot_chunk_passes_unchanged() -> None:
    message = {"type": "append_entries", "term": 3, "commit_index": 9, "serialized": None}
    term_at, last = _log(1, 1)
    assert trim_append_entries(message, term_at, last, 0) is message
