"""Killing the practice server (SIGKILL) at any moment and starting it again continues the same session at the
same turn: no counselor turn is lost or doubled, and the client answers each one once."""

from __future__ import annotations

import signal
import time

import pytest

from tests.conftest import scripted_config
from tests.practice_helpers import PracticeServer, dialogue, form_value


@pytest.fixture
def server(tmp_path):
    config = scripted_config(tmp_path, scenarios=["gad-priya-38"], sessions=2)
    # testdouble/slow pauses on every call, so a kill can land while the client is answering.
    server = PracticeServer(config, tmp_path / "runs", max_turns=6, client_model="testdouble/slow")
    yield server
    server.kill()


def _send(server: PracticeServer, html: str, text: str) -> None:
    fields = {"text": text, "action": "send", "position": form_value(html, "position"), "token": form_value(html, "token")}
    assert server.post("/turn", fields) == 200  # 303 followed to the page


def test_sigkill_mid_session_continues_at_the_same_turn(server):
    sent = []
    html = server.start().wait_for_turn()
    # Killed right after a turn was posted (the client answering, or the turn not yet taken),
    # and killed while the course waits for the person.
    for number, delay in enumerate((0.0, 0.03, 0.15, None)):
        text = f"Counselor turn {number + 1}: what happened next?"
        _send(server, html, text)
        sent.append(text)
        if delay is None:
            server.wait_for_turn()
        else:
            time.sleep(delay)
        server.kill()
        html = server.start().wait_for_turn()
        turns = dialogue(html)
        assert [t for s, t in turns if s == "counselor"] == sent, turns
        assert [s for s, _ in turns] == ["counselor", "client"] * len(sent)
        assert form_value(html, "position") == f"1.{2 * len(sent)}"
        assert "Session 1 of 2" in html
    # SIGTERM: uvicorn shuts down gracefully, then ends the process with the signal, as it came.
    assert server.stop() in (0, -signal.SIGTERM)
