"""The README's compare table is what `compare` prints for configs/ablation.yaml on the test double
(issue 22: the model/scaffold split, with intervals that resample clients)."""

from __future__ import annotations

from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from tests.conftest import REPO

runner = CliRunner()
VARIANTS = ("muspsy", "muspsy-no-scaffold", "no-memory", "full-history")
DOUBLE = "testdouble/scripted"


def test_the_readme_table_is_the_compare_output_of_the_ablation_on_the_test_double(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the config's scenario_dir is relative to the repository
    result = runner.invoke(app, ["run", "--config", "configs/ablation.yaml", "--counselor-model", DOUBLE,
                                 "--client-model", DOUBLE, "--judge-model", DOUBLE, "--out", str(tmp_path),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    runs = [str(tmp_path / f"ablation-{variant}") for variant in VARIANTS]
    for run in runs:
        scored = runner.invoke(app, ["eval", run])
        assert scored.exit_code == 0, scored.output
    compared = runner.invoke(app, ["compare", *runs, "--out", str(tmp_path / "compare")])
    assert compared.exit_code == 0, compared.output
    printed = " ".join(compared.output.split())
    assert "resampling clients" in printed and "(model)" in printed and "scaffold" in printed
    written = (tmp_path / "compare" / "compare.md").read_text(encoding="utf-8").splitlines()
    rows = {line.split(" | ")[0]: line for line in written if line.startswith("| ")}
    follow_up = rows["| followed_up_assignment"]
    assert "0.00 [0.00, 0.00] (model)<br>scaffold 1.00 [1.00, 1.00]" in follow_up and "scaffold none" in follow_up
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| metric | ablation-muspsy | ablation-muspsy-no-scaffold"):].split("\n\n")[0]
    shown = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| metric")]
    assert len(shown) >= 5
    for line in shown:
        assert line == rows[line.split(" | ")[0]], line
