"""One child-id check (engine.ids) for every command and every path a child id takes to the file system."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import engine.records.plan
from engine.cli import main
from engine.errors import ConfigError
from engine.ids import CHILD_ID_RULE, MAX_LENGTH, check_child_id, is_child_id

ROOT = Path(__file__).resolve().parents[1]
SONGS = ROOT / "content" / "songs"

BAD = [".", "..", "", "a/b", "/etc", "a\nb", "a\x00b", "a\rb", "C07\x1b[2J", "Ç07", "C\u202e07", "-x", "_x", ".x",
       " C07", "C07 ", "a b", "a\\b", "x" * (MAX_LENGTH + 1), "C\udcff07"]
GOOD = ["C07", "c", "7", "x" * MAX_LENGTH, "child-1.b_2", "C07..", "A.B"]


@pytest.mark.parametrize("child", BAD)
def test_unsafe_ids_are_refused_in_one_sentence(child):
    assert not is_child_id(child)
    with pytest.raises(ConfigError) as exc:
        check_child_id(child)
    message = str(exc.value)
    assert CHILD_ID_RULE in message and "\n" not in message
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202e\ud800-\udfff]", message), message  # quoted, never raw
    assert len(message) < 300


@pytest.mark.parametrize("child", [None, 7, b"C07", ["C07"]])
def test_an_id_that_is_not_text_is_refused(child):
    with pytest.raises(ConfigError, match="must be text"):
        check_child_id(child)


@pytest.mark.parametrize("child", GOOD)
def test_safe_ids_pass_unchanged(child):
    assert is_child_id(child) and check_child_id(child) == child


def test_the_plan_module_re_exports_the_one_check():
    assert engine.records.plan.check_child_id is check_child_id
    assert not hasattr(engine.records.plan, "_CHILD_ID")  # no second rule


def _commands(child: str) -> list[list[str]]:
    """Every command that takes a child, with the child id ``child``."""
    return [
        ["demo", "--child", child],  # the metronome demo, without a script
        ["demo", str(SONGS / "echo-drums.toml"), "--child", child],
        ["run", "free", "--child", child, "--duration", "1", "--no-ui"],
        ["run", str(SONGS / "march-song.mid"), "--child", child, "--no-ui"],
        ["run", str(SONGS / "echo-drums.toml"), "--child", child, "--mic", "--no-ui"],
        ["assess", child, "--simulate", "steady"],
        ["sessions", child],
        ["report", child],
        ["plan", "new", child],
        ["plan", "show", child],
        ["plan", "suggest", child],
        ["plan", "accept", child, "S1"],
        ["plan", "reject", child, "S1"],
        ["homepack", child],
    ]


@pytest.mark.parametrize("child", ["..", ".", "", "a/b", "a\nb", "Ç07"])
@pytest.mark.parametrize("command", range(len(_commands("C07"))))
def test_every_command_refuses_an_unsafe_id_before_it_touches_a_file(tmp_path, capsys, child, command):
    data = tmp_path / "data"
    argv = _commands(child)[command]
    assert main(["--data-dir", str(data), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tandem: The child id ") and err.count("\n") == 1, err
    assert not data.exists() or not any(data.rglob("*")), sorted(data.rglob("*"))  # nothing written anywhere
    assert not (tmp_path / "sessions").exists()


def test_the_library_entry_points_check_the_id_too(tmp_path):
    """The later app and server call these, not the command line: they refuse the same ids themselves."""
    from engine.session.live import run_session  # heavy: opens nothing before the id is checked
    from engine.simulation.demo import run_demo

    for call in (lambda: run_demo(None, root=tmp_path, child_id=".."),
                 lambda: run_session("free", root=tmp_path, child_id="a/b", duration_s=1.0)):
        with pytest.raises(ConfigError, match="child id"):
            call()
    assert not any(tmp_path.iterdir())
