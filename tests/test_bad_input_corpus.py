"""The bad-input corpus (tests/bad_inputs/): one line naming file and field, exit 2, nothing written."""

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.core.files import MAX_INPUT_BYTES
from tests.conftest import LIBRARY, REPO

runner = CliRunner()
CORPUS = Path(__file__).resolve().parent / "bad_inputs"
EXPECTED = yaml.safe_load((CORPUS / "expected.yaml").read_text())
PWNED = Path("/tmp/muspsy-pwned")


def test_every_corpus_file_has_an_expectation():
    for kind in ("configs", "profiles"):
        assert sorted(p.name for p in (CORPUS / kind).iterdir()) == sorted(EXPECTED[kind])


def _one_line_error(result, source: Path, field: str, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {source}: {field}: "), lines[0]
    assert fragment in lines[0], lines[0]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working directory where the library is reachable as scenarios/library."""
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "library").symlink_to(LIBRARY)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _written(workdir: Path) -> list[str]:
    return sorted(str(p.relative_to(workdir)) for p in workdir.rglob("*") if "scenarios" not in p.parts)


@pytest.mark.parametrize("name", sorted(EXPECTED["configs"]))
def test_bad_config(workdir, name):
    field, fragment = EXPECTED["configs"][name]
    source = workdir / name
    shutil.copyfile(CORPUS / "configs" / name, source)
    PWNED.unlink(missing_ok=True)
    result = runner.invoke(app, ["run", "--config", str(source), "--no-progress"])
    _one_line_error(result, source, field, fragment)
    assert _written(workdir) == [name]
    assert not PWNED.exists()


@pytest.mark.parametrize("name", sorted(EXPECTED["profiles"]))
def test_bad_profile_validate_and_run(workdir, name):
    field, fragment = EXPECTED["profiles"][name]
    library = workdir / "library"
    library.mkdir()
    source = library / name
    shutil.copyfile(CORPUS / "profiles" / name, source)
    PWNED.unlink(missing_ok=True)
    _one_line_error(runner.invoke(app, ["scenarios", "validate", str(source)]), source, field, fragment)
    config = workdir / "campaign.yaml"
    config.write_text(yaml.safe_dump({"scenarios": ["*"], "scenario_dir": str(library)}))
    _one_line_error(runner.invoke(app, ["run", "--config", str(config), "--no-progress"]), source, field, fragment)
    assert _written(workdir) == ["campaign.yaml", "library", f"library/{name}"]
    assert not PWNED.exists()


@pytest.mark.parametrize(("content", "field", "fragment"), [
    (b"scenarios: [gad-priya-38]\n" + b"# padding\n" * (MAX_INPUT_BYTES // 10), "(file)", "larger than"),
    (("scenarios: [" + ", ".join(["gad-priya-38"] * 20_000) + "]\n").encode(), "scenarios", "at most 10000 items"),
])
def test_oversized_configs(workdir, content, field, fragment):
    source = workdir / "big.yaml"
    source.write_bytes(content)
    _one_line_error(runner.invoke(app, ["run", "--config", str(source), "--no-progress"]), source, field, fragment)
    assert _written(workdir) == ["big.yaml"]


def test_the_library_itself_is_clean():
    assert runner.invoke(app, ["scenarios", "validate", str(REPO / "scenarios" / "library")]).exit_code == 0
