"""The optimised search (memo, dominance, twins, reads first) agrees with plain enumeration.

Small random register histories with concurrent, failed, indeterminate and unfinished
operations (mostly linearizable, some with a corrupted read) are checked both by
`check_linearizability` and by a direct recursive enumeration of the Wing-Gong definition
without any pruning.
"""

from __future__ import annotations

import random

import pytest

from tests.jepsen.checkers import Verdict, check_linearizability
from tests.jepsen.checkers.models import RegisterModel
from tests.jepsen.history import Op, OpType, pair_operations

MODEL = RegisterModel()
VALUES = (None, 0, 1, 2)


def random_history(rnd: random.Random, n_ops: int, n_procs: int) -> list[Op]:
    """A simulated register: each operation takes effect at a random moment while pending
    (an indeterminate one maybe never); one read in five returns a random value instead."""
    events: list[Op] = []
    register: object = None
    pending: dict[int, list] = {}  # process -> [invoke, effect outcome or None]
    idle, next_process, started = list(range(n_procs)), n_procs, 0
    while started < n_ops or pending:
        if idle and started < n_ops and (not pending or rnd.random() < 0.4):
            process = idle.pop(rnd.randrange(len(idle)))
            f = rnd.choice(("read", "write", "cas"))
            value = [rnd.choice(VALUES), rnd.choice(VALUES[1:])] if f == "cas" else None
            value = rnd.choice(VALUES[1:]) if f == "write" else value
            pending[process] = [Op(len(events), len(events), process, "invoke", f, None, value)]
            pending[process].append(None)
            events.append(pending[process][0])
            started += 1
            continue
        process = rnd.choice(list(pending))
        invoke, outcome = pending[process]
        if outcome is None:
            register, pending[process][1] = take_effect(rnd, register, invoke)
            continue
        del pending[process]
        kind, value = outcome
        kind = rnd.choice(("info", None)) if kind == "ok" and rnd.random() < 0.2 else kind
        if kind is not None:  # None: it never completes
            events.append(Op(len(events), len(events), process, kind, invoke.f, None, value))
        if kind in ("ok", "fail"):
            idle.append(process)
        else:  # an indeterminate process is never reused, as in Jepsen
            idle.append(next_process)
            next_process += 1
    return events


def take_effect(rnd: random.Random, register: object, invoke: Op) -> tuple[object, tuple]:
    """(new register, (completion type, completion value)) for ``invoke`` taking effect."""
    if invoke.f == "read":
        seen = rnd.choice(VALUES) if rnd.random() < 0.2 else register
        return register, ("ok", seen)
    if invoke.f == "write":
        return invoke.value, ("ok", invoke.value)
    old, new = invoke.value
    return (new, ("ok", invoke.value)) if register == old else (register, ("fail", invoke.value))


def enumerate_linearizations(history: list[Op]) -> bool:
    """True iff some order of the operations satisfies the model and real time."""
    ops = []
    for op in pair_operations(history):
        if op.type is OpType.FAIL or (op.f == "read" and op.type is not OpType.OK):
            continue
        end = op.complete_index if op.type is OpType.OK else None
        ops.append((MODEL.prepare(op), op.invoke_index, end))

    def extend(state, remaining):
        ends = [end for _, _, end in (ops[i] for i in remaining) if end is not None]
        if not ends:
            return True
        for i in remaining:
            model_op, start, _ = ops[i]
            legal, after = MODEL.step(state, model_op)
            if start < min(ends) and legal and extend(after, remaining - {i}):
                return True
        return False

    return extend(MODEL.init(), frozenset(range(len(ops))))


@pytest.mark.parametrize("seed", range(4))
def test_search_agrees_with_exhaustive_enumeration_on_random_histories(seed):
    rnd = random.Random(seed)
    outcomes = {Verdict.VALID: 0, Verdict.INVALID: 0}
    for _ in range(300):
        history = random_history(rnd, n_ops=rnd.randint(2, 8), n_procs=rnd.randint(1, 5))
        expected = Verdict.VALID if enumerate_linearizations(history) else Verdict.INVALID
        assert check_linearizability(history).verdict is expected, history
        outcomes[expected] += 1
    assert min(outcomes.values()) >= 20, outcomes  # both verdicts are exercised
