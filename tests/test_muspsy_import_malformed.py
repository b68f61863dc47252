"""The MusPsy importer on synthetic malformed memories and dialogues files."""

from __future__ import annotations

import json
import re

import pytest

from muspsy_sim.scenarios.loader import load_profile
from tests.muspsy_import_helpers import (
    block,
    client,
    dialogue,
    file_report,
    memories,
    notes,
    ordinal,
    run,
    write,
)

# --- synthetic malformed input -------------------------------------------------------------


def test_clean_synthetic_client_is_imported_without_notes_on_structure(tmp_path):
    client(tmp_path, 5, memories(1, 2, 3), dialogue(3))
    report, out = run(tmp_path, tmp_path)
    assert report.profiles == ["muspsy-5"]
    assert file_report(report, "memories_5.txt").status == "imported"
    assert file_report(report, "dialogues_5.txt").status == "imported"
    profile = load_profile(out / "muspsy-5.yaml")
    assert (profile.pseudonym, profile.occupation, profile.gender) == ("Anna", "nurse", "female")
    assert profile.speaking_style != "plain"  # "reserved and analytical"
    assert profile.course_plan[2].goal.startswith("Session 3 goal")
    assert profile.course_plan[0].life_events  # "recently moved" in the profile
    data = json.loads((out / "muspsy-5.dialogues.json").read_text(encoding="utf-8"))
    assert [len(s["turns"]) for s in data["sessions"]] == [8, 8, 8]


def test_outline_before_first_session_is_skipped(tmp_path):
    outline = "Counseling outline\nThe 1st Counseling: build trust\nThe 2nd Counseling: identify thoughts\n\n"
    client(tmp_path, 1, outline + memories(1, 2), dialogue(2))
    report, out = run(tmp_path, tmp_path)
    assert "outline block before 'The 1st Counseling' skipped" in notes(report, "memories_1.txt")
    assert load_profile(out / "muspsy-1.yaml").session_count == 2


def test_outline_made_of_session_headers_is_skipped(tmp_path):
    outline = "".join(f"The {ordinal(n)} Counseling\nSession Goal: outline goal {n}.\n" for n in (1, 2, 3))
    client(tmp_path, 1, outline + memories(1, 2, 3), dialogue(3))
    report, out = run(tmp_path, tmp_path)
    assert "outline block before 'The 1st Counseling' skipped (it lists sessions 1–3)" in notes(report, "memories_1.txt")
    profile = load_profile(out / "muspsy-1.yaml")
    assert profile.session_count == 3
    assert "outline goal" not in profile.course_plan[0].goal


def test_duplicate_session_keeps_the_first(tmp_path):
    text = memories(1, 2) + block(2, goal="A different second goal.") + memories(3)
    client(tmp_path, 1, text, dialogue(3))
    report, out = run(tmp_path, tmp_path)
    assert "session 2 appears twice; kept the first (the copies differ)" in notes(report, "memories_1.txt")
    profile = load_profile(out / "muspsy-1.yaml")
    assert profile.session_count == 3
    assert profile.course_plan[1].goal.startswith("Session 2 goal")


def test_header_variants_and_typos_are_recognised(tmp_path):
    text = (block(1, header="## The 1th Counseling") + block(2, header="**The Second Counselling**")
            + block(3, header="the 3RD counseling:") + block(4, header="### The 4th Counseling Session"))
    client(tmp_path, 1, text, dialogue(4))
    report, out = run(tmp_path, tmp_path)
    assert load_profile(out / "muspsy-1.yaml").session_count == 4
    assert file_report(report, "memories_1.txt").status == "imported"


def test_stray_headers_are_ignored_and_noted(tmp_path):
    text = memories(1) + block(2).replace("Counseling Memory:\n", "## Random notes heading\nCounseling Memory:\n") + memories(3)
    text = text.replace("[Counselor Observations:]", "[Therapist Mood:] grumpy\n[Counselor Observations:]", 1)
    client(tmp_path, 1, text, dialogue(3))
    report, out = run(tmp_path, tmp_path)
    log = notes(report, "memories_1.txt")
    assert "stray header '## Random notes heading' ignored (session 2)" in log
    assert "unknown field '[Therapist Mood]' ignored (session 1)" in log
    profile = load_profile(out / "muspsy-1.yaml")
    assert "Random notes" not in profile.background and "grumpy" not in str(profile.model_dump())


def test_empty_and_truncated_blocks(tmp_path):
    truncated = block(4).split("[Session Goal:]")[0] + "[Session Goal:] Help Anna plan a wee"
    text = memories(1, 2) + "The 3rd Counseling\n\n" + truncated
    client(tmp_path, 1, text, dialogue(3))
    report, out = run(tmp_path, tmp_path)
    log = notes(report, "memories_1.txt")
    assert "session 3 (line" in log and "is empty; skipped" in log
    assert "session 4: [Session Goal:] ends mid-sentence" in log
    assert "renumbered 1–3" in log
    assert file_report(report, "memories_1.txt").status == "partial"
    assert load_profile(out / "muspsy-1.yaml").course_plan[2].goal == "Help Anna plan a wee"


def test_numbering_gaps_are_renumbered(tmp_path):
    client(tmp_path, 1, memories(1, 2, 4, 7), dialogue(4))
    report, out = run(tmp_path, tmp_path)
    assert "session numbering has gaps (1, 2, 4, 7); renumbered 1–4" in notes(report, "memories_1.txt")
    profile = load_profile(out / "muspsy-1.yaml")
    assert [p.goal.split(" goal")[0] for p in profile.course_plan] == ["Session 1", "Session 2", "Session 4", "Session 7"]


def test_header_without_number(tmp_path):
    client(tmp_path, 1, memories(1, 2) + block(3, header="The Nth Counseling"), dialogue(3))
    report, out = run(tmp_path, tmp_path)
    assert "has no session number; read as session 3" in notes(report, "memories_1.txt")
    assert load_profile(out / "muspsy-1.yaml").session_count == 3


def test_empty_memory_fields_fall_back_to_the_summary(tmp_path):
    empty = block(2).replace(block(2).split("[Emotion and Cognitive State:] ")[1].split("\n")[0], "")
    empty = re.sub(r"\[Session Goal:\] .*", "[Session Goal:] ", empty)
    client(tmp_path, 1, memories(1) + empty, dialogue(2))
    report, out = run(tmp_path, tmp_path)
    assert "session 2: memory fields missing or empty" in notes(report, "memories_1.txt")
    plan = load_profile(out / "muspsy-1.yaml").course_plan[1]
    assert "loneliness in session 2" in plan.emotional_state
    assert plan.goal.startswith("Agreed on a small social step")


def test_missing_dialogues_file(tmp_path):
    client(tmp_path, 1, memories(1, 2))
    report, out = run(tmp_path, tmp_path)
    assert report.profiles == ["muspsy-1"]
    assert file_report(report, "memories_1.txt").status == "partial"
    assert "no dialogues file (dialogues_1.txt)" in notes(report, "memories_1.txt")
    assert not (out / "muspsy-1.dialogues.json").exists()


def test_missing_memories_file(tmp_path):
    client(tmp_path, 1, None, dialogue(2))
    client(tmp_path, 2, memories(1), dialogue(1))
    report, out = run(tmp_path, tmp_path)
    assert report.profiles == ["muspsy-2"]
    dialogues_only = file_report(report, "dialogues_1.txt")
    assert dialogues_only.status == "skipped"
    assert "no memories file (memories_1.txt)" in dialogues_only.notes[0]
    assert not (out / "muspsy-1.dialogues.json").exists()


def test_non_utf8_bytes_are_replaced_and_noted(tmp_path):
    raw = memories(1, 2).replace("\n", "\r\n").encode("utf-8").replace(b"Anna feels", b"Anna \xff\xfe feels", 1)
    client(tmp_path, 1, raw, dialogue(2).encode("cp1252") + b"User: caf\xe9 talk.\r\n")
    report, out = run(tmp_path, tmp_path)
    assert "not valid UTF-8" in notes(report, "memories_1.txt")
    assert "not valid UTF-8" in notes(report, "dialogues_1.txt")
    assert file_report(report, "memories_1.txt").status == "partial"
    assert "\ufffd" in load_profile(out / "muspsy-1.yaml").course_plan[0].emotional_state


@pytest.mark.parametrize("content", [b"", b"  \r\n\r\n \t"])
def test_empty_files(tmp_path, content):
    client(tmp_path, 1, content, content)
    client(tmp_path, 2, memories(1), dialogue(1))
    report, _ = run(tmp_path, tmp_path)
    assert report.profiles == ["muspsy-2"]
    for name in ("memories_1.txt", "dialogues_1.txt"):
        assert file_report(report, name).status == "skipped"
    assert "empty file" in notes(report, "memories_1.txt")


def test_garbage_file_does_not_stop_the_good_ones(tmp_path):
    client(tmp_path, 1, memories(1, 2), dialogue(2))
    client(tmp_path, 9, bytes(range(256)) * 40, b"\x00\x01garbage" * 100)
    client(tmp_path, 3, memories(1), dialogue(1))
    write(tmp_path / "memories" / "notes.txt", "not a MusPsy file")
    report, out = run(tmp_path, tmp_path)
    assert report.profiles == ["muspsy-1", "muspsy-3"]
    assert "no 'The Nth Counseling' session headers found" in notes(report, "memories_9.txt")
    assert file_report(report, "dialogues_9.txt").status == "skipped"
    assert "unrecognised file name" in notes(report, "notes.txt")
    assert not (out / "muspsy-9.yaml").exists()


def test_unexpected_exception_in_one_file_is_reported(tmp_path, monkeypatch):
    from muspsy_sim.scenarios.muspsy_import import mapping

    real_build = mapping.build

    def build(number, *args, **kwargs):
        if number == "2":
            raise RuntimeError("boom in client 2")
        return real_build(number, *args, **kwargs)

    monkeypatch.setattr(mapping, "build", build)
    for number in (1, 2, 3):
        client(tmp_path, number, memories(1), dialogue(1))
    report, out = run(tmp_path, tmp_path)
    assert report.profiles == ["muspsy-1", "muspsy-3"]
    broken = file_report(report, "memories_2.txt")
    assert broken.status == "skipped" and "RuntimeError: boom in client 2" in broken.notes[-1]
    assert file_report(report, "dialogues_2.txt").status == "skipped"
    assert not (out / "muspsy-2.yaml").exists() and not (out / "muspsy-2.dialogues.json").exists()


def test_invalid_profile_is_not_written(tmp_path, monkeypatch):
    from muspsy_sim.scenarios.muspsy_import import mapping

    real_build = mapping.build
    monkeypatch.setattr(mapping, "build", lambda *a, **k: {**real_build(*a, **k), "age": 5})
    client(tmp_path, 1, memories(1), dialogue(1))
    report, out = run(tmp_path, tmp_path)
    assert report.profiles == []
    assert "not written: the profile does not validate (age:" in notes(report, "memories_1.txt")
    assert list(out.iterdir()) == []


def test_long_text_is_truncated_to_the_limits(tmp_path):
    long_profile = "Anna is a nurse who works long night shifts. " * 120
    long_goal = "Help Anna notice her thoughts and test them gently. " * 40
    client(tmp_path, 1, block(1, profile=long_profile, goal=long_goal) + block(2, profile=long_profile), dialogue(2))
    report, out = run(tmp_path, tmp_path)
    profile = load_profile(out / "muspsy-1.yaml")
    assert len(profile.background) <= 3000 and profile.background.endswith(".")
    assert len(profile.course_plan[0].goal) <= 1000
    assert "shortened to the profile's length limits: session 1 goal, background" in notes(report, "memories_1.txt")
    assert file_report(report, "memories_1.txt").status == "imported"


def test_more_than_twenty_sessions(tmp_path):
    client(tmp_path, 1, memories(*range(1, 23)), dialogue(22, turns=4))
    report, out = run(tmp_path, tmp_path)
    assert load_profile(out / "muspsy-1.yaml").session_count == 20
    assert "22 sessions; kept the first 20" in notes(report, "memories_1.txt")


def test_explicit_profile_fields_are_used(tmp_path):
    profile = "Name: Marta Kowalska\nAge: 52\nGender: Female\nOccupation: Bus driver\nShe lives alone since her divorce."
    client(tmp_path, 1, block(1, profile=profile) + block(2, profile=profile), dialogue(2))
    _, out = run(tmp_path, tmp_path)
    case = load_profile(out / "muspsy-1.yaml")
    assert (case.pseudonym, case.age, case.gender, case.occupation) == ("Marta Kowalska", 52, "female", "Bus driver")
    assert case.background == "She lives alone since her divorce."


def test_defaults_when_the_profile_says_little(tmp_path):
    vague = block(1, profile="The user is going through a hard time.", emotion="The user feels low.",
                  summary="Explored the user's week.", goal="Build trust with the user.")
    client(tmp_path, 1, vague.replace("Anna", "The user"), "Consultant: Hello, good to meet you.\n\nUser: Hi.\n")
    report, out = run(tmp_path, tmp_path)
    case = load_profile(out / "muspsy-1.yaml")
    assert (case.pseudonym, case.age, case.gender, case.occupation) == ("Client 1", 30, "unspecified", "unknown")
    log = notes(report, "memories_1.txt")
    assert "age not stated; default 30 used" in log and "pseudonym set to 'Client 1'" in log
    assert file_report(report, "memories_1.txt").status == "imported"


# --- dialogues -----------------------------------------------------------------------------


def test_dialogue_messes(tmp_path):
    session_a = "Consultant: Hi Anna, welcome.\n\nUser: I have been\nfeeling low lately.\n\nConsultant: Tell me more.\n\nUser: Work is hard.\n"
    session_b = ("Consultant: Hi Anna, good to see you again.\n\nUser: Better.\n\nConsultant: What helped?\n\nUser:\n\n"
                 "Consultant: Take your time.\n\nUser: Walking.\n")
    text = ("Dialogue 1st\n" + session_a + "#######\n" + session_a + "##########\n[Dialogue 2nd Expanded]\n"
            + session_b + "***\n\n#######\n")
    client(tmp_path, 1, memories(1, 2, 3), text)
    report, out = run(tmp_path, tmp_path)
    log = notes(report, "dialogues_1.txt")
    assert "stray header 'Dialogue 1st' treated as a session break" in log
    assert "stray header '[Dialogue 2nd Expanded]'" in log
    assert "stray line '***' ignored" in log
    assert "repeats session 1 word for word" in log
    assert "1 empty turn dropped" in log
    assert "same speaker twice in a row in session 2" in log
    assert "2 dialogue sessions but 3 memory sessions" in log
    data = json.loads((out / "muspsy-1.dialogues.json").read_text(encoding="utf-8"))
    assert len(data["sessions"]) == 2
    assert data["sessions"][0]["turns"][1] == {"speaker": "client", "text": "I have been feeling low lately."}


def test_dialogue_outline_and_missing_separator(tmp_path):
    mini = "".join(f"Consultant: Hi Anna, session {n} opening.\n\nUser: Fine.\n\nConsultant: Homework for {n}.\n\n" for n in (1, 2, 3))
    full = dialogue(2, turns=7).replace("#######\n", "", 1)  # two sessions run together
    client(tmp_path, 1, memories(1, 2), mini + "#######\n" + full)
    report, out = run(tmp_path, tmp_path)
    log = notes(report, "dialogues_1.txt")
    assert "outline block before the first session skipped (line 1: 3 condensed sessions in one block)" in log
    assert "no separator between 2 sessions" in log
    data = json.loads((out / "muspsy-1.dialogues.json").read_text(encoding="utf-8"))
    assert [len(s["turns"]) for s in data["sessions"]] == [7, 7]


def test_dialogues_without_turns_are_skipped_but_profile_is_written(tmp_path):
    client(tmp_path, 1, memories(1), "Just some notes without speakers.\n")
    report, out = run(tmp_path, tmp_path)
    assert report.profiles == ["muspsy-1"]
    assert file_report(report, "dialogues_1.txt").status == "skipped"
    assert "no 'Consultant:'/'User:' turns found" in notes(report, "dialogues_1.txt")
    assert not (out / "muspsy-1.dialogues.json").exists()
