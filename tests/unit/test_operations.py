"""Operations are pure: they never mutate their input, and results follow OpType docs.

Every op's semantics is covered by the transcripts in testdata/state_machine; these
tests pin properties a transcript cannot show.
"""

import copy

import pytest

from raftstore.commands import READ_ONLY_OPS, Op, OpType
from raftstore.errors import OpNotApplicable
from raftstore.operations import apply_ops, is_read_only

BINS = {"n": 1, "f": 1.5, "s": "ab", "b": b"ab", "l": [1, [2], 3], "m": {"k": 1, 2: [1]}}

MUTATING = [
    Op(OpType.WRITE, "n", 2),
    Op(OpType.WRITE, "n", None),
    Op(OpType.INCR, "n", 1),
    Op(OpType.APPEND, "s", "c"),
    Op(OpType.PREPEND, "b", b"c"),
    Op(OpType.DELETE),
    Op(OpType.LIST_APPEND, "l", 4),
    Op(OpType.LIST_APPEND_ITEMS, "l", [4, 5]),
    Op(OpType.LIST_INSERT, "l", 7, index=0),
    Op(OpType.LIST_SET, "l", 7, index=1),
    Op(OpType.LIST_POP, "l", index=-1),
    Op(OpType.LIST_REMOVE, "l", index=0, count=2),
    Op(OpType.LIST_CLEAR, "l"),
    Op(OpType.MAP_PUT, "m", 9, map_key="new"),
    Op(OpType.MAP_PUT_ITEMS, "m", {"x": 1}),
    Op(OpType.MAP_REMOVE_BY_KEY, "m", map_key="k"),
    Op(OpType.MAP_INCREMENT, "m", 1, map_key="k"),
    Op(OpType.MAP_CLEAR, "m"),
]


@pytest.mark.parametrize("op", MUTATING, ids=lambda op: op.type.name)
def test_ops_never_mutate_the_bins_they_are_given(op: Op) -> None:
    bins = copy.deepcopy(BINS)
    outcome = apply_ops(bins, [op])
    assert bins == BINS
    assert outcome.bins != BINS


def test_a_failing_op_leaves_the_input_untouched_after_earlier_ops_ran() -> None:
    bins = copy.deepcopy(BINS)
    with pytest.raises(OpNotApplicable):
        apply_ops(bins, [Op(OpType.LIST_APPEND, "l", 9), Op(OpType.LIST_GET, "l", index=99)])
    assert bins == BINS


def test_read_only_ops_are_exactly_the_read_only_set() -> None:
    for kind in OpType:
        assert is_read_only([Op(kind, "x")]) is (kind in READ_ONLY_OPS)
    assert not is_read_only([Op(OpType.READ, "x"), Op(OpType.TOUCH)])


def test_results_are_listed_in_op_order_for_ops_that_return_values() -> None:
    outcome = apply_ops(
        BINS,
        [
            Op(OpType.WRITE, "x", 1),
            Op(OpType.LIST_SIZE, "l"),
            Op(OpType.INCR, "n", 1),
            Op(OpType.READ, "n"),
            Op(OpType.MAP_GET_BY_KEY, "m", map_key=2),
        ],
    )
    assert outcome.results == (("l", 3), ("n", 2), ("m", [1]))


def test_delete_then_reads_see_no_record_and_writes_start_empty() -> None:
    outcome = apply_ops(BINS, [Op(OpType.DELETE), Op(OpType.READ, ""), Op(OpType.WRITE, "z", 1)])
    assert outcome.bins == {"z": 1}
    assert outcome.results == ()


def test_delete_as_last_op_leaves_no_bins() -> None:
    assert apply_ops(BINS, [Op(OpType.DELETE)]).bins is None
