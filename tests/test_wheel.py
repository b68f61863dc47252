"""The wheel installs under one namespace, beside other packages that import as `agents` or `memory`.

Builds the project's wheel, installs it with --no-deps into a fresh virtual environment next to two
stand-in distributions that import as `agents` and `memory` (and the real OpenAI Agents SDK when
PyPI can be reached), and imports all of them from that environment. The project's own dependencies
come from the development environment through a path entry, after the fresh environment's packages.
"""

from __future__ import annotations

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
