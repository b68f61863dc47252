"""The judge: what transcript it reads, and which prompt versions it accepts (issue 16, points 4 and 8)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from muspsy_sim.agents.judge import Judge
from muspsy_sim.agents.judge.judge import cut_transcript
from muspsy_sim.agents.llm import ChoiceScores, LanguageModel
from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.core.turns import ClientTurn, CounselorTurn, Turn

runner = CliRunner()
OPENING = "Welcome back, Priya. Last time we agreed on this assignment: write one worry down each evening."
ENDING = "This week, try writing down one worrying thought each evening and one kinder answer to it."


class PromptKeeper(LanguageModel):
    model = "fake/keeper"

    def __init__(self):
        self.prompts: list[str] = []

    def complete(self, messages, sampling):
        raise AssertionError("the judge scores choices")

    def score_choices(self, messages, choices, seed=None, baseline=None):
        self.prompts.append(messages[-1]["content"])
        return ChoiceScores(choice="3", scores={}, method="structured")


def long_session() -> list[Turn]:
    middle = []
    for number in range(40):
        middle.append(ClientTurn(text=f"Middle turn {number}: the week was long and the nights short."))
        middle.append(CounselorTurn(text=f"Reflection {number}: that sounds tiring, Priya."))
    return [CounselorTurn(text=OPENING), ClientTurn(text="It went fine, mostly."), *middle, CounselorTurn(text=ENDING)]


def test_a_long_transcript_keeps_the_opening_and_the_end_and_marks_the_cut():
    model = PromptKeeper()
    Judge(model, transcript_chars=1200).rate(long_session(), 2, "Priya")
    prompt = model.prompts[0]
    assert OPENING in prompt  # the homework review is read
    assert ENDING in prompt
    assert "[... " in prompt and "cut to fit" in prompt
    assert "Middle turn 20:" not in prompt


def test_cut_transcript_cuts_at_line_ends_and_leaves_short_ones_alone():
    text = "\n".join(f"Client: line {i:03d} of the session" for i in range(100))
    assert cut_transcript(text, len(text)) == text
    cut = cut_transcript(text, 600)
    assert len(cut) <= 600 + 80
    lines = cut.splitlines()
    assert lines[0] == "Client: line 000 of the session" and lines[-1] == "Client: line 099 of the session"
    marker = [line for line in lines if line.startswith("[... ")]
    assert len(marker) == 1 and "lines" in marker[0]
    assert all(line.startswith("Client: line ") for line in lines if line not in marker)


def test_the_judge_records_how_transcripts_are_cut():
    assert Judge(PromptKeeper()).describe()["transcript"] == "opening and end kept, middle cut (2500 characters)"


@pytest.mark.parametrize("version", ["../../client/prompts", "/tmp", "v1/../v1", "", "."])
def test_a_judge_version_must_be_one_of_the_prompt_folders(version):
    with pytest.raises(ValueError, match="unknown judge prompt version"):
        Judge(PromptKeeper(), version)


def test_eval_refuses_a_judge_version_outside_the_prompt_folders(tmp_path):
    (tmp_path / "dimensions.yaml").write_text("musPsy: {x: y}\nctrs: {}\n", encoding="utf-8")
    (tmp_path / "rate_dimension.txt").write_text("{transcript}", encoding="utf-8")
    from tests.conftest import scripted_config

    config = scripted_config(tmp_path, scenarios=["gad-priya-38"], sessions=1, max_turns=1)
    assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    result = runner.invoke(app, ["eval", str(tmp_path / "runs" / "scripted"), "--judge-version", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "--judge-version" in result.output and "unknown judge prompt version" in result.output
    assert not (tmp_path / "runs" / "scripted" / "metrics.jsonl").exists()
