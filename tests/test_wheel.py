"""The wheel installs under one namespace, beside other packages that import as `agents` or `memory`.

Builds the project's wheel, installs it with --no-deps into a fresh virtual environment next to two
stand-in distributions that import as `agents` and `memory` (and the real OpenAI Agents SDK when
PyPI can be reached), and imports all of them from that environment. The project's own dependencies
come from the development environment through a path entry, after the fresh environment's packages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CARD_FOLDERS = ("agents", "memory", "scenarios", "simulation", "bench")


def _run(*command: str | Path, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    # A PYTHONPATH of the caller's would put another copy of the project in front of the installed wheel.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, command))} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result


def _stand_in(folder: Path, name: str) -> Path:
    """A tiny distribution `standin-<name>` whose package imports as ``name``."""
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text(f"WHO = 'stand-in {name}'\n")
    (folder / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=77"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "standin-{name}"
        version = "1.0"
        [tool.setuptools]
        packages = ["{name}"]
    """))
    return folder


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", out, REPO)
    (built,) = out.glob("muspsy_sim-*.whl")
    return built


def test_wheel_holds_one_top_level_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"muspsy_sim"}
    for folder in CARD_FOLDERS:
        assert f"muspsy_sim/{folder}/__init__.py" in names
    # Templates and data travel with the code.
    assert "muspsy_sim/agents/counselor/prompts/counseling.txt" in names
    assert any(n.startswith("muspsy_sim/scenarios/library/") and n.endswith(".yaml") for n in names)


def test_wheel_installs_beside_packages_named_agents_and_memory(wheel, tmp_path):
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    built = tmp_path / "built"
    for name in ("agents", "memory"):
        _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", built,
             _stand_in(tmp_path / f"standin-{name}", name))
    _run(python, "-m", "pip", "install", "-q", "--no-deps", *built.glob("*.whl"), wheel)
    # The project's dependencies, from the development environment, after everything installed here.
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    check = textwrap.dedent("""
        import agents, memory
        assert agents.WHO == "stand-in agents" and memory.WHO == "stand-in memory"
        from muspsy_sim.agents.counselor import Counselor
        from muspsy_sim.memory import MemoryStore
        from muspsy_sim.simulation.cli import app
        import muspsy_sim.agents, muspsy_sim.memory
        assert "site-packages/muspsy_sim/" in muspsy_sim.agents.__file__
        print("ok")
    """)
    assert _run(python, "-c", check, cwd=tmp_path).stdout.strip() == "ok"
    assert "muspsy-sim" in _run(env_dir / "bin" / "muspsy-sim", "--help", cwd=tmp_path).stdout


def test_wheel_installs_beside_the_openai_agents_sdk(wheel, tmp_path):
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    fetched = _run(python, "-m", "pip", "install", "-q", "openai-agents", check=False)
    if fetched.returncode != 0:
        pytest.skip(f"openai-agents could not be installed here: {fetched.stderr.strip().splitlines()[-1:]}")
    _run(python, "-m", "pip", "install", "-q", "--no-deps", wheel)
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    check = textwrap.dedent("""
        from agents import Agent, Runner
        from muspsy_sim.agents.counselor import Counselor
        from muspsy_sim.simulation.cli import app
        print("ok")
    """)
    assert _run(python, "-c", check, cwd=tmp_path).stdout.strip() == "ok"


# A plugged-in counselor in a package the fresh environment does not install: Ray ships it to the workers
# (py_modules), and from inside a worker it records what that worker can import.
_WHERE_PLUGIN = '''
import importlib.util, json, os
from pathlib import Path

import muspsy_sim
from muspsy_sim.agents.counselor.muspsy import MusPsyCounselor


class WhereCounselor(MusPsyCounselor):
    name = "where"

    def __init__(self, *args, log: str, **kwargs):
        super().__init__(*args, **kwargs)
        seen = {"pid": os.getpid(), "top_level_agents": importlib.util.find_spec("agents") is not None,
                "muspsy_sim": [str(Path(p).resolve()) for p in muspsy_sim.__path__]}
        with open(log, "a") as out:
            out.write(json.dumps(seen) + "\\n")
'''


def test_a_ray_campaign_runs_from_the_installed_wheel_with_nothing_of_the_checkout(wheel, tmp_path, chroma_server):
    pytest.importorskip("ray")
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    _run(python, "-m", "pip", "install", "-q", "--no-deps", wheel)
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "work"
    (work / "whereplugin").mkdir(parents=True)
    (work / "whereplugin" / "__init__.py").write_text(_WHERE_PLUGIN)
    log = tmp_path / "where.jsonl"
    config = {
        "name": "ray-wheel", "scenarios": ["gad-priya-38", "insomnia-david-47"],
        "scenario_dir": str(REPO / "scenarios" / "library"), "sessions": 2, "max_turns": 2,
        "counselor": "whereplugin:WhereCounselor", "counselor_options": {"log": str(log)},
        "models": {role: {"model": "testdouble/scripted"} for role in ("counselor", "client", "judge")},
        "memory": {"chroma_url": chroma_server}, "executor": "ray", "workers": 2, "seed": 3,
        "output_dir": str(tmp_path / "runs"),
    }
    (work / "campaign.json").write_text(json.dumps(config))
    # The driver runs from a folder of its own: the checkout is on no path of this environment.
    result = _run(python, "-m", "muspsy_sim.simulation.cli", "run", "--config", "campaign.json", "--no-progress",
                  cwd=work)
    assert "Results:" in result.stdout, result.stdout + result.stderr
    lines = (tmp_path / "runs" / "ray-wheel" / "sessions.jsonl").read_text().splitlines()
    assert sorted((json.loads(l)["client_id"], json.loads(l)["session_index"]) for l in lines) == \
        [(c, s) for c in ("gad-priya-38", "insomnia-david-47") for s in (1, 2)]
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    driver_pid = None
    workers = [entry for entry in seen if entry["pid"] != driver_pid]
    assert workers, "the Ray workers built the counselor"
    for entry in workers:
        assert entry["top_level_agents"] is False
        assert all(str(site.resolve()) in path for path in entry["muspsy_sim"]), entry
