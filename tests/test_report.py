"""The HTML report (`run_sim.py report`): built from real test-double runs, checked as parsed HTML."""

from __future__ import annotations

import base64
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.core.errors import InputError
from muspsy_sim.simulation.evaluation.compare import cell_lines, compare_runs
from muspsy_sim.simulation.inspection.report import NOTE, build_report
from tests.conftest import scripted_config

CHARTS = ("distress", "phq9", "gad7", "alliance")
RUN_FILES = ("manifest.json", "sessions.jsonl", "metrics.jsonl", "summary.json")
PAYLOAD = '<script>alert("pwned")</script> & <img src=x onerror=alert(1)> see https://evil.example/x.png'


# --- building runs ---------------------------------------------------------------------------------


def make_runs(base: Path) -> tuple[Path, Path]:
    """Two scored runs of the same clients and seed: a (scripted counselor) and b (poor counselor)."""
    runner = CliRunner()
    runs = base / "runs"
    for name, counselor_model in (("a", "testdouble/scripted"), ("b", "testdouble/poor-counselor")):
        folder = base / f"config-{name}"
        folder.mkdir()
        models = {"counselor": {"model": counselor_model}, "client": {"model": "testdouble/scripted"},
                  "judge": {"model": "testdouble/json-only"}}
        config = scripted_config(folder, name=name, sessions=2, max_turns=2, models=models, output_dir=str(runs))
        result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
        assert result.exit_code == 0, result.output
        result = runner.invoke(app, ["eval", str(runs / name)])
        assert result.exit_code == 0, result.output
    return runs / "a", runs / "b"


def copy_run(source: Path, target: Path, files=RUN_FILES) -> Path:
    """The JSON files of a run directory (not its Chroma store or checkpoints), to edit safely."""
    target.mkdir(parents=True)
    for name in files:
        if (source / name).is_file():
            shutil.copy2(source / name, target / name)
    return target


def read_records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "sessions.jsonl").read_text(encoding="utf-8").splitlines() if line]


def write_records(run_dir: Path, records: list[dict]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    (run_dir / "sessions.jsonl").write_text(text, encoding="utf-8")


# --- reading the HTML ------------------------------------------------------------------------------


class Page(HTMLParser):
    """Tags with their attributes, plus the text of every transcript turn, grouped by transcript."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.transcripts: dict[tuple[int, str, int], list[dict]] = {}
        self._transcript: tuple[int, str, int] | None = None
        self._turn: dict | None = None
        self._text_depth = 0  # >0 while inside div.text
        self._div_depth = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        classes = (attributes.get("class") or "").split()
        if tag == "div":
            self._div_depth += 1
            if "transcript" in classes:
                self._transcript = (int(attributes["data-run"]), attributes["data-client"], int(attributes["data-session"]))
                self.transcripts[self._transcript] = []
            elif "turn" in classes and self._transcript is not None:
                self._turn = {"speaker": classes[1], "classes": classes, "text": ""}
                self.transcripts[self._transcript].append(self._turn)
            elif "text" in classes and self._turn is not None:
                self._text_depth = self._div_depth

    def handle_endtag(self, tag):
        if tag == "div":
            if self._text_depth == self._div_depth:
                self._text_depth = 0
            self._div_depth -= 1

    def handle_data(self, data):
        if self._text_depth and self._turn is not None:
            self._turn["text"] += data

    def find(self, tag: str, cls: str | None = None) -> list[dict]:
        return [a for t, a in self.tags if t == tag and (cls is None or cls in (a.get("class") or "").split())]


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    return make_runs(tmp_path_factory.mktemp("report-runs"))


@pytest.fixture(scope="module")
def two_run_report(runs, tmp_path_factory) -> str:
    out = build_report(list(runs), tmp_path_factory.mktemp("report-out") / "nested" / "report.html")
    return out.read_text(encoding="utf-8")


# --- tests -----------------------------------------------------------------------------------------


def test_overview_per_run(runs, two_run_report):
    page = Page(two_run_report)
    for run_dir in runs:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
        section = two_run_report.split(f'<h2>Run {manifest["name"]}</h2>', 1)[1].split('<div class="client"', 1)[0]
        assert NOTE in section
        assert "Campaign overview" in section
        assert manifest["config"]["counselor"] in section
        for role in ("counselor", "client", "judge"):
            assert manifest["config"]["models"][role]["model"] in section
        for client, course in manifest["courses"].items():
            assert client in section and course["status"] in section
        prompt = sum(u["prompt_tokens"] for u in manifest["usage"].values())
        assert f"{prompt} prompt +" in section
        assert "wall time" in section and "seed" in section
    assert len(page.find("section", "run")) == 2


def test_one_plot_per_client_per_chart(runs, two_run_report):
    page = Page(two_run_report)
    images = page.find("img", "plot")
    clients = [len({r["client_id"] for r in read_records(run_dir)}) for run_dir in runs]
    assert len(images) == sum(clients) * len(CHARTS)
    for chart in CHARTS:
        assert len(page.find("img", f"plot-{chart}")) == sum(clients)
    for image in images:
        assert image["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(image["src"].split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
        assert image["alt"] and "over sessions for client" in image["alt"]
    alts = " ".join(image["alt"] for image in images)
    for run_dir in runs:
        for record in read_records(run_dir):
            assert record["client_id"] in alts
    assert "WAI-SR" in alts and "PHQ-9" in alts and "GAD-7" in alts and "Distress" in alts


def test_every_session_transcript_is_shown(runs, two_run_report):
    page = Page(two_run_report)
    shown = 0
    for index, run_dir in enumerate(runs):
        for record in read_records(run_dir):
            candidates = page.transcripts[(index, record["client_id"], record["session_index"])]
            assert [t["text"] for t in candidates] == [t["text"] for t in record["turns"]]
            assert [t["speaker"] for t in candidates] == [t["speaker"] for t in record["turns"]]
            assert escape(record["goal"]) in two_run_report
            shown += 1
    assert len(page.transcripts) == shown
    assert len(page.find("div", "transcript")) == shown
    assert len(page.find("details", "session")) == shown


def test_memory_references_are_marked(runs, two_run_report):
    page = Page(two_run_report)
    record = next(r for r in read_records(runs[0]) if r["session_index"] == 2)
    turns = page.transcripts[(0, record["client_id"], 2)]
    opening = turns[0]
    assert record["turns"][0]["source"] == "template"
    assert "memref" in opening["classes"]
    assert "template check-in" in two_run_report
    assert "quotes last assignment" in two_run_report
    assert re.search(r"<mark>This week, try [^<]+</mark>", two_run_report)
    tags = [a for a in page.find("span", "tag") if "earlier" in a["class"].split() and "title" in a]
    assert tags and all(re.search(r" from session 1\b", a["title"]) for a in tags)  # 2 sessions: all from S1
    assert '<span class="tag earlier" title="' in two_run_report and ">S1 " in two_run_report


def test_session_parts_and_metrics(runs, two_run_report):
    records = [r for run_dir in runs for r in read_records(run_dir)]
    assert two_run_report.count('<details class="part week">') == len(records)
    assert two_run_report.count('<details class="part questionnaires">') == len(records)
    assert two_run_report.count('<details class="part memory">') == len(records)
    assert two_run_report.count('<details class="part metrics">') == len(records)
    assert "Questionnaires: PHQ-9" in two_run_report and "WAI-SR" in two_run_report
    assert "Exit PHQ-9" in two_run_report  # the exit questionnaire of each client's last session
    week = next(r["week_before"] for r in records if r["week_before"])
    for event in week["life_events"]:
        assert escape(event) in two_run_report
    assert "followed_up_assignment" in two_run_report and "judge_empathy" in two_run_report


def test_comparison_table_for_two_runs(runs, two_run_report):
    expected = compare_runs(list(runs))
    section = two_run_report.split('<section class="comparison" id="comparison">', 1)[1].split("</section>", 1)[0]
    assert "<th>a</th>" in section and "<th>b</th>" in section
    for metric in ("wai_total", "phq9", "judge_empathy"):
        assert f'<th scope="row">{metric}</th>' in section
        for run in expected.runs:
            assert "\n".join(cell_lines(expected, metric, run)) in section
    assert "Δ" in section and "resampling clients" in section


def test_single_run_has_no_comparison(runs, tmp_path):
    html = build_report([runs[0]], tmp_path / "one.html").read_text(encoding="utf-8")
    assert 'id="comparison"' not in html
    assert len(Page(html).find("img", "plot")) == 2 * len(CHARTS)


def test_comparison_needs_metrics_in_every_run(runs, tmp_path):
    unscored = copy_run(runs[1], tmp_path / "b-unscored", files=("manifest.json", "sessions.jsonl"))
    html = build_report([runs[0], unscored], tmp_path / "r.html").read_text(encoding="utf-8")
    assert "every run needs metrics.jsonl" in html and str(unscored) in html
    assert "comparison-table" not in html
    assert html.count('<details class="part metrics">') == len(read_records(runs[0]))


def test_run_text_is_escaped(runs, tmp_path):
    run = copy_run(runs[0], tmp_path / "evil")
    records = read_records(run)
    records[0]["turns"][0]["text"] = PAYLOAD
    records[0]["turns"][1]["text"] = "</div></details><b>bold</b>"
    records[0]["goal"] = '<a href="https://evil.example">goal</a>'
    records[0]["memory"]["summary"] = "</dd><script>alert(2)</script>"
    records[1]["week_before"] = {"life_events": ["<iframe src=https://evil.example>"], "homework_done": None}
    second = next(r for r in records if r["session_index"] == 2)
    second["turns"][0]["retrieved"][0]["text"] = "<style>body{background:url(https://evil.example/x)}</style>"
    write_records(run, records)
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    manifest["name"] = "<i>evil</i>"
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    html = build_report([run], tmp_path / "r.html").read_text(encoding="utf-8")
    lowered = html.lower()
    assert "<script" not in lowered and "<iframe" not in lowered and "<img src=x" not in lowered
    assert "<b>bold</b>" not in html and "<i>evil</i>" not in html and "<a href=\"https" not in lowered
    assert "&lt;script&gt;alert(" in html and "&lt;i&gt;evil&lt;/i&gt;" in html
    assert "&lt;style&gt;body" in html and "&lt;iframe" in html
    page = Page(html)
    assert page.transcripts[(0, records[0]["client_id"], records[0]["session_index"])][0]["text"] == PAYLOAD
    assert len(page.find("img", "plot")) == 2 * len(CHARTS)  # the page structure survived


def test_no_network_references(runs, two_run_report, tmp_path):
    page = Page(two_run_report)
    assert not page.find("script") and not page.find("link") and not page.find("iframe")
    for tag, attributes in page.tags:
        for name in ("src", "href", "srcset", "action", "poster", "data", "formaction", "background"):
            value = attributes.get(name)
            if value is not None:
                assert value.startswith(("#", "data:image/png;base64,")), (tag, name, value[:80])
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//""", two_run_report, re.IGNORECASE)
    assert not re.search(r"url\(|@import", two_run_report.split("</style>", 1)[0], re.IGNORECASE)
    policy = next(a for a in page.find("meta") if a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in policy["content"] and "img-src data:" in policy["content"]


def test_old_records_without_questionnaires(runs, tmp_path):
    run = copy_run(runs[0], tmp_path / "old", files=("manifest.json", "sessions.jsonl"))
    records = read_records(run)
    for record in records:
        for key in ("questionnaires", "memory", "week_before", "usage", "goal_source"):
            record.pop(key, None)
        for turn in record["turns"]:
            turn.pop("retrieved", None)
            turn.pop("state", None)
    write_records(run, records)
    html = build_report([run], tmp_path / "r.html").read_text(encoding="utf-8")
    page = Page(html)
    images = page.find("img", "plot")
    assert len(images) == 2 * len(CHARTS)
    alliance = [i["alt"] for i in page.find("img", "plot-alliance")]
    assert all("trust" in alt for alt in alliance)
    phq9 = [i["alt"] for i in page.find("img", "plot-phq9")]
    assert all("latent" in alt for alt in phq9)
    assert "No questionnaires in this record." in html and "No memory recorded." in html
    assert len(page.transcripts) == len(records)


def test_missing_values_do_not_break_the_report(tmp_path):
    run = tmp_path / "bare"
    run.mkdir()
    write_records(run, [{"client_id": "c1", "session_index": 1, "turns": [{"speaker": "client", "text": "hi"}]}])
    html = build_report([run], tmp_path / "r.html").read_text(encoding="utf-8")
    assert NOTE in html and "hi" in html and "c1" in html
    assert "no data recorded" in html  # charts without values are said so, not drawn empty


def test_written_atomically_and_bad_input(runs, tmp_path):
    out = tmp_path / "deep" / "dir" / "report.html"
    assert build_report([runs[0]], out) == out
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no staging file left behind
    with pytest.raises(InputError, match="not a run directory"):
        build_report([tmp_path / "deep"], tmp_path / "x.html")
    broken = copy_run(runs[0], tmp_path / "broken", files=("sessions.jsonl",))
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="manifest.json"):
        build_report([broken], tmp_path / "y.html")
    assert not (tmp_path / "y.html").exists()
