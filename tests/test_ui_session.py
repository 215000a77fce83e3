"""The child's picture from real trial plans of the shipped scripts (no pygame)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.interventions.kinds import make_kind
from engine.interventions.script import load_script
from engine.ui.session import REWARD_S, objective_lines, session_view
from engine.ui.state import (
    PHASES,
    ObjectiveLine,
    ScreenState,
    beat_origin_on_screen_clock,
)

SONGS = Path(__file__).resolve().parents[1] / "content" / "songs"


def _plan(name: str, start_s: float = 1.0):
    script = load_script(SONGS / name)
    return script.kind, make_kind(script).next_trial(start_s)


def test_call_and_response_counts_in_then_listen_then_your_turn_then_a_star():
    kind, plan = _plan("echo-drums.toml")
    spb = 60.0 / plan.tempo_bpm
    count_times = sorted(c.time_s for c in plan.cues if c.role == "count_in")
    v = session_view([plan], count_times[0] + 0.1, kind=kind)
    assert (v.phase, v.count_in_remaining) == ("count_in", len(count_times) - 1)
    assert v.bpm == plan.tempo_bpm and v.beat_origin_s == plan.start_s
    assert session_view([plan], count_times[-1] + 0.1, kind=kind).count_in_remaining == 0
    assert session_view([plan], plan.engine_start_s + 0.1, kind=kind).phase == "engine_turn"
    after = plan.engine_end_s + spb
    assert session_view([plan], after, kind=kind).phase == "child_turn"
    # The star comes only for a correct trial, and only for a moment.
    assert session_view([plan], after, kind=kind, last_close_s=after - 0.5, last_correct=True).phase == "reward"
    assert session_view([plan], after, kind=kind, last_close_s=after - 0.5, last_correct=False).phase == "child_turn"
    later = after + REWARD_S + 0.1
    assert session_view([plan], later, kind=kind, last_close_s=after - 0.5, last_correct=True).phase == "child_turn"


def test_turn_taking_listens_during_the_engines_turn_though_the_window_is_open():
    kind, plan = _plan("drum-conversation.toml")
    assert plan.child_start_s <= plan.engine_start_s  # the window includes the engine's turn (to see waiting)
    assert session_view([plan], plan.engine_start_s + 0.2, kind=kind).phase == "engine_turn"
    assert session_view([plan], plan.engine_end_s + 0.2, kind=kind).phase == "child_turn"


def test_rhythmic_cueing_plays_along_then_keeps_going_alone():
    kind, plan = _plan("tap-and-keep-going.toml")
    assert session_view([plan], plan.engine_start_s + 0.1, kind=kind).phase == "together"
    assert session_view([plan], (plan.engine_end_s + plan.child_end_s) / 2, kind=kind).phase == "child_turn"


def test_a_lead_in_is_get_ready_without_a_number_until_the_count_in():
    kind, plan = _plan("steady-beat-march.toml")
    lead = [c.time_s for c in plan.cues if c.role == "lead_in"]
    counts = [c.time_s for c in plan.cues if c.role == "count_in"]
    assert lead and counts
    assert session_view([plan], lead[1], kind=kind).count_in_remaining == 0
    assert session_view([plan], counts[0] + 0.05, kind=kind).count_in_remaining == len(counts) - 1


def test_stop_and_go_waits_when_the_music_stops():
    kind, plan = _plan("stop-and-go.toml")
    assert session_view([plan], plan.engine_start_s + 0.1, kind=kind).phase == "together"
    stop_s = plan.params["stop_at_s"]
    assert session_view([plan], stop_s + 0.5, kind=kind).phase == "wait"


@pytest.mark.parametrize(("state", "lost", "phase"), [("paused", False, "paused"), ("stopped", False, "done"),
                                                      ("completed", True, "done"), ("running", True, "device_lost")])
def test_the_session_state_wins_over_the_plans(state, lost, phase):
    kind, plan = _plan("echo-drums.toml")
    assert session_view([plan], plan.engine_start_s + 0.1, kind=kind, session_state=state,
                        device_lost=lost).phase == phase


def test_no_plan_yet_is_get_ready_and_every_view_is_a_screen_state():
    kind, plan = _plan("echo-drums.toml", start_s=5.0)
    v = session_view([plan], 1.0, kind=kind)
    assert v.phase == "count_in" and v.count_in_remaining == 0
    assert session_view([], 1.0, kind=kind).phase == "count_in"
    for t in [0.5 * i for i in range(40)]:
        v = session_view([plan], t, kind=kind, last_close_s=4.0, last_correct=True)
        assert v.phase in PHASES
        ScreenState(phase=v.phase, bpm=v.bpm, beat_origin_s=beat_origin_on_screen_clock(v.beat_origin_s, t, 1000.0),
                    count_in_remaining=v.count_in_remaining)


def test_beat_origin_moves_to_the_screen_clock():
    assert beat_origin_on_screen_clock(12.0, 10.0, 5000.0) == pytest.approx(5002.0)
    st = ScreenState(phase="child_turn", bpm=120.0, beat_origin_s=5002.0)
    assert st.beat_at(5002.0 + 0.25 + 0.5 * 7) == (7, pytest.approx(0.5))
    assert ScreenState(phase="paused").beat_at(3.0) is None


def test_objective_lines_from_judged_objectives():
    judged = [{"id": "echo-3", "status": "met this session", "value": 83.333, "met": True, "sentence": "…"},
              {"id": "steady", "status": "not started", "value": None, "met": None, "sentence": "…"},
              {"id": "waits", "status": "in progress", "value": False, "met": False, "sentence": "…"}]
    assert objective_lines(judged) == (ObjectiveLine("echo-3", "83.3", "met this session"),
                                       ObjectiveLine("steady", "too few trials yet", "not started"),
                                       ObjectiveLine("waits", "no", "in progress"))
