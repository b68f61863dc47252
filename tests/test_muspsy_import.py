"""The MusPsy importer on the real sample in tests/fixtures/muspsy (malformed input: test_muspsy_import_malformed.py)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from muspsy_sim.scenarios.loader import load_profile
from muspsy_sim.scenarios.muspsy_import import (
    estimate_distress,
    format_report,
    import_muspsy,
)
from muspsy_sim.simulation.core.errors import InputError
from tests.muspsy_import_helpers import (
    HEADER,
    SAMPLE,
    SAMPLE_CLIENTS,
    client,
    dialogue,
    file_report,
    memories,
    notes,
    run,
)

# --- the real sample -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("muspsy-out")
    return import_muspsy(SAMPLE, out), out


def test_sample_yields_one_valid_profile_per_client(sample):
    report, out = sample
    assert sorted(report.profiles) == sorted(f"muspsy-{n}" for n in SAMPLE_CLIENTS)
    for number in SAMPLE_CLIENTS:
        raw = (SAMPLE / "memories" / f"memories_{number}.txt").read_bytes().decode("utf-8").replace("\r\n", "\n")
        distinct = len(set(HEADER.findall(raw)))
        profile = load_profile(out / f"muspsy-{number}.yaml")
        assert profile.id == f"muspsy-{number}"
        assert profile.session_count == distinct == 6
        assert "muspsy" in profile.tags
        assert 0 <= profile.initial_state.distress <= 10
        assert (profile.initial_state.trust, profile.initial_state.openness, profile.initial_state.resistance) == (4, 0.5, 0.3)
        assert all(plan.events_fixed for plan in profile.course_plan)
        assert file_report(report, f"memories_{number}.txt").status in ("imported", "partial")
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))


def test_sample_static_traits_are_mapped(sample):
    _, out = sample
    lin_feng = load_profile(out / "muspsy-1402.yaml")
    assert lin_feng.pseudonym == "Lin Feng"
    assert lin_feng.gender == "male"
    assert lin_feng.occupation == "junior high school student"
    assert lin_feng.age == 14
    assert "self-doubt" in lin_feng.presenting_problem
    assert lin_feng.background.startswith("Lin Feng is a junior high school student")
    assert "drawing" in lin_feng.personality
    first = lin_feng.course_plan[0]
    assert "discouraged" in first.emotional_state
    assert first.goal.startswith("Help Lin Feng recognize")
    david = load_profile(out / "muspsy-323.yaml")
    assert (david.pseudonym, david.gender, david.occupation) == ("David", "male", "professional")


def test_sample_dialogues_have_sane_speaker_order(sample):
    _, out = sample
    for number in SAMPLE_CLIENTS:
        data = json.loads((out / f"muspsy-{number}.dialogues.json").read_text(encoding="utf-8"))
        assert set(data) == {"client_id", "source", "sessions"}
        assert data["client_id"] == f"muspsy-{number}"
        assert data["source"] == f"dialogues/dialogues_{number}.txt"
        assert [s["session_index"] for s in data["sessions"]] == list(range(1, len(data["sessions"]) + 1))
        for session in data["sessions"]:
            turns = session["turns"]
            assert turns and turns[0]["speaker"] == "counselor"
            speakers = [t["speaker"] for t in turns]
            assert set(speakers) <= {"counselor", "client"}
            assert all(a != b for a, b in zip(speakers, speakers[1:])), f"client {number}: {speakers}"
            for turn in turns:
                assert turn["text"].strip() and turn["text"] == turn["text"].strip()
                assert not re.match(r"(Consultant|User):", turn["text"])
                assert "#" * 3 not in turn["text"] and "\r" not in turn["text"]


def test_sample_real_mess_is_reported(sample):
    report, out = sample
    assert "memory fields missing or empty" in notes(report, "memories_323.txt")
    assert file_report(report, "memories_323.txt").status == "partial"
    david = load_profile(out / "muspsy-323.yaml")
    assert "negative thought patterns" in david.course_plan[1].goal  # rebuilt from the summary
    assert "[Dialogue 3rd Expanded]" in notes(report, "dialogues_323.txt")
    assert "outline block before the first session skipped" in notes(report, "dialogues_1402.txt")
    assert "5 dialogue sessions but 6 memory sessions" in notes(report, "dialogues_1402.txt")
    assert "repeats session 2 word for word" in notes(report, "dialogues_1079.txt")
    assert "5 dialogue sessions but 6 memory sessions" in notes(report, "dialogues_1079.txt")
    assert "Dialogue[待填补]" in notes(report, "dialogues_538.txt")
    assert "session 1 looks truncated" in notes(report, "dialogues_538.txt")
    dialogues_538 = json.loads((out / "muspsy-538.dialogues.json").read_text(encoding="utf-8"))
    assert len(dialogues_538["sessions"]) == 6
    assert file_report(report, "memories_1402.txt").status == "imported"


def test_format_report_has_one_line_per_file(sample):
    report, _ = sample
    lines = format_report(report)
    assert len(lines) == len(report.files) == 2 * len(SAMPLE_CLIENTS)
    line = next(l for l in lines if l.startswith(str(SAMPLE / "dialogues" / "dialogues_1079.txt")))
    assert line.startswith(f"{SAMPLE / 'dialogues' / 'dialogues_1079.txt'}: partial — ")
    assert "; " in line


def test_flat_folder_of_files_is_accepted(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for number in ("323", "1079"):
        shutil.copy(SAMPLE / "memories" / f"memories_{number}.txt", flat)
        shutil.copy(SAMPLE / "dialogues" / f"dialogues_{number}.txt", flat)
    shutil.copy(SAMPLE / "LICENSE", flat)
    report, out = run(flat, tmp_path)
    assert sorted(report.profiles) == ["muspsy-1079", "muspsy-323"]
    assert len(report.files) == 4  # LICENSE is not reported as garbage
    assert (out / "muspsy-1079.dialogues.json").is_file()


# --- odds and ends -------------------------------------------------------------------------


def test_source_must_be_a_directory(tmp_path):
    with pytest.raises(InputError):
        import_muspsy(tmp_path / "missing", tmp_path / "out")


def test_folder_without_muspsy_files(tmp_path):
    (tmp_path / "src").mkdir()
    report = import_muspsy(tmp_path / "src", tmp_path / "out")
    assert report.profiles == [] and report.files[0].status == "skipped"


def test_distress_heuristic_is_monotonic():
    calm, _ = estimate_distress("She feels calm and hopeful, with mild worries.")
    worried, _ = estimate_distress("She is anxious, sad and lonely, under pressure.")
    severe, words = estimate_distress("She feels hopeless and overwhelmed, anxious, ashamed, lonely and sad.")
    assert 1 <= calm < worried < severe <= 9
    assert "hopeless" in words


def test_reimport_overwrites_cleanly(tmp_path):
    client(tmp_path, 1, memories(1, 2), dialogue(2))
    run(tmp_path, tmp_path)
    client(tmp_path, 1, memories(1, 2, 3), dialogue(3))
    report, out = run(tmp_path, tmp_path)
    assert load_profile(out / "muspsy-1.yaml").session_count == 3
    assert sorted(p.name for p in out.iterdir()) == ["muspsy-1.dialogues.json", "muspsy-1.yaml"]
