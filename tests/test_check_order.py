"""The order a grading runs its checks in is drawn from the submission's secret and seed
(grader.engine.runner.drawn_order): the same seed, the same order; a check's place in it is a
uniform draw, so how late a check runs tells its process nothing about which check it is."""

import collections

import pytest

from grader.course import assignments
from grader.engine import runner

SEEDS = range(1400)


def nodeids(items):
    return [item.nodeid for item in items]


@pytest.mark.parametrize("assignment", assignments.names())
def test_the_same_seed_draws_the_same_order_and_every_check_runs_once(assignment):
    items = runner._suite(assignment).items
    for seed in (0, 1, 20261207):
        drawn = runner.drawn_order(items, seed)
        assert nodeids(drawn) == nodeids(runner.drawn_order(items, seed))
        assert sorted(nodeids(drawn)) == sorted(nodeids(items))
    assert len({tuple(nodeids(runner.drawn_order(items, seed))) for seed in range(5)}) == 5


@pytest.mark.parametrize("assignment", assignments.names())
def test_a_modules_checks_run_together(assignment):
    """Module-scoped fixtures are set up once: a module's checks are never split by another's."""
    for seed in range(20):
        modules = [nodeid.split("::")[0] for nodeid in nodeids(runner.drawn_order(runner._suite(assignment).items, seed))]
        runs = [m for i, m in enumerate(modules) if i == 0 or modules[i - 1] != m]
        assert len(runs) == len(set(runs)), modules


def test_every_check_runs_at_every_place_as_often():
    """The a4 suite is one module of 14 checks: over 1400 seeds each check runs at each place
    about 100 times (a binomial's 5 standard deviations allowed)."""
    items = runner._suite("a4_pooling").items
    places = collections.Counter()
    for seed in SEEDS:
        for place, nodeid in enumerate(nodeids(runner.drawn_order(items, seed))):
            places[nodeid, place] += 1
    expected = len(SEEDS) / len(items)
    assert len(places) == len(items) ** 2
    assert all(abs(count - expected) < 5 * expected ** 0.5 for count in places.values()), places

