import pytest

from muspsy_sim.scenarios.loader import load_library
from muspsy_sim.scenarios.selection import select_profiles
from muspsy_sim.simulation.core.errors import InputError
from tests.conftest import LIBRARY

LIB = load_library(LIBRARY)


def ids(profiles):
    return [p.id for p in profiles]


def test_by_id_glob_and_tag_in_order_without_repeats():
    chosen = select_profiles(["panic-lucia-33", "gad-*", "tag:risk", "panic-*"], LIB, "cfg")
    assert ids(chosen)[:2] == ["panic-lucia-33", "gad-priya-38"]
    assert "depression-tomasz-52" in ids(chosen)
    assert len(ids(chosen)) == len(set(ids(chosen)))
    assert all(p.risk_flags for p in select_profiles(["tag:risk"], LIB, "cfg"))


def test_seeded_sample_is_reproducible_and_varies_with_the_seed():
    first = ids(select_profiles(["*"], LIB, "cfg", sample=3, seed=1))
    assert first == ids(select_profiles(["*"], LIB, "cfg", sample=3, seed=1))
    assert len(first) == 3
    assert any(ids(select_profiles(["*"], LIB, "cfg", sample=3, seed=s)) != first for s in range(2, 8))


@pytest.mark.parametrize("selector", ["nobody", "zzz-*", "tag:no-such-tag"])
def test_a_selector_matching_nothing_is_an_input_error(selector):
    with pytest.raises(InputError, match=r"cfg: scenarios.1: unknown scenario"):
        select_profiles(["gad-priya-38", selector], LIB, "cfg")


def test_sample_larger_than_matches_is_an_input_error():
    with pytest.raises(InputError, match="scenario_sample"):
        select_profiles(["gad-*"], LIB, "cfg", sample=5)
