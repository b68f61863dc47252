"""Killing the server of `practice --as client` (SIGKILL) mid-session, three times, and starting it again shows the
same turn each time: no reply or rating of the person is lost or recorded twice."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import scripted_config
from tests.practice_helpers import CLIENT, PracticeServer, dialogue, form_value

FORM = 'id="client-form"'


@pytest.fixture
def server(tmp_path):
    config = scripted_config(tmp_path, scenarios=[CLIENT], sessions=1)
    # testdouble/slow pauses on every call, so a kill can land while the counselor is answering.
    server = PracticeServer(config, tmp_path / "runs", sessions=1, max_turns=5,
                            extra=("--as", "client", "--rater", "r1", "--counselor-model", "testdouble/slow"))
    yield server
    server.kill()


def _post(server: PracticeServer, html: str, fields: dict) -> None:
    base = {"position": form_value(html, "position"), "token": form_value(html, "token"), "form": form_value(html, "form")}
    assert server.post("/turn", {**base, **fields}) == 200  # 303 followed to the page


def _answers(keys: dict[str, int]) -> dict:
    return {f"q_{key}_{n}": "1" for key, count in keys.items() for n in range(1, count + 1)}


def test_sigkill_mid_session_loses_and_doubles_no_reply_or_rating(server, tmp_path):
    html = server.start().wait_for_turn(form=FORM)
    _post(server, html, _answers({"phq9": 9, "gad7": 7}))
    html = server.wait_for_turn(form='data-kind="client_turn"')
    sent, ratings = [], []
    # Killed right after a reply was posted (the counselor answering, or the reply not yet taken),
    # and killed while the course waits for the person.
    for number, delay in enumerate((0.0, 0.03, 0.15, None)):
        text = f"Reply {number + 1}: it got worse this week."
        rating = {"rate_empathy": str(1 + number), "rate_push": str(5 - number)}
        _post(server, html, {"text": text, "action": "send", **rating})
        sent.append(text)
        ratings.append(rating)
        if delay is None:
            server.wait_for_turn(form='data-kind="client_turn"')
        else:
            time.sleep(delay)
        server.kill()
        html = server.start().wait_for_turn(form='data-kind="client_turn"')
        turns = dialogue(html)
        assert [t for s, t in turns if s == "client"] == sent, turns
        assert [s for s, _ in turns] == ["counselor", "client"] * len(sent) + ["counselor"]
        assert form_value(html, "position") == f"1.{2 * len(sent) + 1}"
    # The fifth reply reaches max_turns: the counselor closes, the person rates the closing turn, then WAI-SR, PANAS.
    _post(server, html, {"text": "That is all for today.", "action": "send", "rate_empathy": "3"})
    html = server.wait_for_turn(form='data-kind="rate_turn"')
    server.kill()
    html = server.start().wait_for_turn(form='data-kind="rate_turn"')
    _post(server, html, {"rate_engagement": "4"})
    html = server.wait_for_turn(form='data-kind="questionnaires"')
    _post(server, html, _answers({"wai_sr": 12, "panas": 20}))
    html = server.wait_for_turn(form='data-kind="questionnaires"')  # the exit PHQ-9 and GAD-7
    _post(server, html, _answers({"phq9": 9, "gad7": 7}))
    deadline = time.monotonic() + 60
    while 'id="finished"' not in server.get() and time.monotonic() < deadline:
        time.sleep(0.1)

    (record,) = [json.loads(line) for line in (tmp_path / "runs" / f"practice-client-{CLIENT}" / "sessions.jsonl")
                 .read_text().splitlines()]
    assert [t["text"] for t in record["turns"] if t["speaker"] == "client"] == [*sent, "That is all for today."]
    given = {}
    for entry in record["turn_ratings"]:
        key = (entry["turn"], entry["item"])
        assert key not in given, f"recorded twice: {key}"
        given[key] = entry["rating"]
    counselor = [i for i, t in enumerate(record["turns"]) if t["speaker"] == "counselor"]
    assert sorted({turn for turn, _ in given}) == counselor and len(given) == 4 * len(counselor)
    for number, rating in enumerate(ratings):
        assert (given[(2 * number, "empathy")], given[(2 * number, "push")]) == (int(rating["rate_empathy"]),
                                                                                int(rating["rate_push"]))
        assert given[(2 * number, "relevance")] is None  # not rated: recorded as unrated
    assert given[(counselor[-1], "engagement")] == 4 and given[(counselor[-2], "empathy")] == 3
