"""`tandem assess` live on the rig: a battery task runs through `tandem run`'s session with the virtual child.

The virtual child taps on its MIDI pad one beat after every sound it hears:
in the synchronisation task at 120 BPM that is on the next beat, so it taps
along with the cue (and with the pad's own feedback sound, which lands on
the beat too). What is checked: the task ran live end to end (its own
session log, which re-scores identically; figures with their counts; the
adult reference) and the figures say what the child did: on the beat.
"""

from __future__ import annotations

import pytest

from engine.assessment.battery import run_assessment
from engine.assessment.results import load_assessment
from engine.assessment.tasks import FAST_BPM
from engine.records.rescore import rescore
from tests.rig.measure import jack_system_device
from tests.rig.players import EchoingChild

pytestmark = pytest.mark.rig


def test_a_live_synchronisation_task_measures_a_child_tapping_on_the_beat(virtual_child, tmp_path):
    with EchoingChild(virtual_child, 60.0 / FAST_BPM):
        a = run_assessment("R2", root=tmp_path, midi_in="virtual-child", tasks=["sync_fast"], echo=None,
                           audio=jack_system_device(), transport="jack", screen="none")
    assert a.simulated is None and a.status == "completed"
    task = a.task("sync_fast")
    assert task.status == "done", task.reason
    within, mean = task.figure("within_window_pct"), task.figure("asynchrony_mean_ms")
    assert task.figure("tempo_bpm").value == FAST_BPM
    # On the beat to within the audio path and the ear's onset detection (a few ms); an xrun may cost a beat.
    assert within.value >= 90.0 and within.n >= 28
    assert abs(mean.value) < 30.0 and mean.reference is not None and "adult" in mean.reference.population.lower()
    assert rescore(tmp_path / task.session)["identical"] is True
    assert load_assessment(a.folder).task("sync_fast").figures == task.figures
