"""Loading and validating case profiles from YAML files."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from muspsy_sim.simulation.core.errors import InputError, from_validation_error
from muspsy_sim.simulation.core.files import read_yaml_mapping

from .profile import CaseProfile

LIBRARY_DIR = Path(__file__).resolve().parent / "library"


def load_profile(path: Path) -> CaseProfile:
    data = read_yaml_mapping(path)
    try:
        profile = CaseProfile.model_validate(data)
    except ValidationError as error:
        raise from_validation_error(path, error) from None
    if profile.id != path.stem:
        raise InputError(path, "id", f"'{profile.id}' does not match the file name '{path.stem}'")
    return profile


def profile_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.is_file())


def load_library(directory: Path = LIBRARY_DIR) -> dict[str, CaseProfile]:
    """Every profile in ``directory`` by id; raises on the first invalid file."""
    return {profile.id: profile for profile in map(load_profile, profile_files(directory))}


def find_profiles(ids: list[str], directory: Path, source: str, field: str = "scenarios") -> list[CaseProfile]:
    """The profiles named by ``ids`` in ``directory``; an unknown id is an input error."""
    profiles = []
    for position, profile_id in enumerate(ids):
        path = directory / f"{profile_id}.yaml"
        if "/" in profile_id or "\\" in profile_id or not path.is_file():
            raise InputError(source, f"{field}.{position}", f"unknown scenario '{profile_id}' in {directory}")
        profiles.append(load_profile(path))
    return profiles


def validate_paths(paths: list[Path]) -> list[InputError]:
    """Every problem in every profile file below ``paths`` (one per file)."""
    problems = []
    for path in paths:
        files = profile_files(path) if path.is_dir() else [path]
        if path.is_dir() and not files:
            problems.append(InputError(path, "", "no .yaml profiles here"))
        for file in files:
            try:
                load_profile(file)
            except InputError as error:
                problems.append(error)
    return problems
