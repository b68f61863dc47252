"""The MusPsy importer: the real sample in tests/fixtures/muspsy and synthetic malformed files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from muspsy_sim.scenarios.loader import load_profile
from muspsy_sim.scenarios.muspsy_import import estimate_distress, format_report, import_muspsy
from muspsy_sim.scenarios.base.errors import InputError

SAMPLE = Path(__file__).resolve().parent / "fixtures" / "muspsy"
SAMPLE_CLIENTS = ("323", "538", "1079", "1402")
HEADER = re.compile(r"^The (\d+)\w* Counseling\s*$", re.MULTILINE)


# --- helpers -------------------------------------------------------------------------------


def ordinal(number: int) -> str:
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number, 'th') }"


def block(number: int, *, header: str | None = None, emotion: str | None = None, goal: str | None = None,
          summary: str | None = None, profile: str | None = None) -> str:
    emotion = emotion or f"Anna feels anxious and lonely in week {number}, thinking nobody wants her around."
    goal = goal or f"Session {number} goal: help Anna test her belief that she is a burden."
    summary = summary or f"Explored Anna's loneliness in session {number}. Agreed on a small social step."
    profile = profile or "Anna is a nurse who recently moved to a new city for work and feels isolated."
    return (
        f"{header or f'The {ordinal(number)} Counseling'}\n"
        "Client Profile:\n"
        "Static Traits: ## User Background\n"
        "[Personal Profile]  \n"
        f"{profile}\n\n"
        "[Personal Characteristics]  \n"
        "Anna is reserved and analytical, and enjoys running in the morning.\n\n"
        "[Assessment and Diagnosis]  \n"
        "Anna shows anxiety and low mood after the move, with no formal diagnosis.\n"
        "Counseling Memory:\n"
        f"[Emotion and Cognitive State:] {emotion}\n"
        "[Counselor Observations:] The counselor notes Anna's openness to reflect.\n"
        "[Counseling Assignments:] Anna should keep a short mood diary.\n"
        f"[Session Goal:] {goal}\n"
        "Counseling Summary:\n"
        f"{summary}\n\n\n"
    )


def memories(*numbers: int) -> str:
    return "".join(block(n) for n in numbers)


def dialogue(sessions: int, turns: int = 8) -> str:
    parts = []
    for s in range(1, sessions + 1):
        lines = []
        for t in range(turns):
            who = "Consultant" if t % 2 == 0 else "User"
            opener = "Hi Anna, welcome back. " if (t == 0) else ""
            lines.append(f"{who}: {opener}Turn {t + 1} of session {s}, spoken plainly.")
        parts.append("\n\n".join(lines) + "\n#######\n")
    return "".join(parts)


def write(path: Path, text: str | bytes, crlf: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = (text.replace("\n", "\r\n") if crlf else text).encode("utf-8")
    path.write_bytes(text)
    return path


def client(root: Path, number: int, memory: str | bytes | None, dialogues: str | bytes | None = None) -> None:
    if memory is not None:
        write(root / "memories" / f"memories_{number}.txt", memory)
    if dialogues is not None:
        write(root / "dialogues" / f"dialogues_{number}.txt", dialogues)


def run(root: Path, tmp_path: Path):
    out = tmp_path / "out"
    report = import_muspsy(root, out)
    return report, out


def file_report(report, name: str):
    matches = [f for f in report.files if Path(f.path).name == name]
    assert len(matches) == 1, [f.path for f in report.files]
    return matches[0]


def notes(report, name: str) -> str:
    return " | ".join(file_report(report, name).notes)


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
