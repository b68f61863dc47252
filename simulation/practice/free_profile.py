"""`practice --as client --scenario free`: the person plays themselves, from a minimal profile they fill in.

The page asks who they are in the role-play (a name to be called by, age, and what they want to talk
about; gender, occupation and a few words of background if they like). That becomes a case profile
with one course-plan entry that leaves their feelings and thoughts to them, kept in the run directory
(``profile/free.yaml``) so that `eval`, `report` and `validity human` find it like any other. Its
initial state is a neutral placeholder for the simulation's bookkeeping of the weeks; no number of it
is shown, and nothing is inferred about the person from it.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from muspsy_sim.scenarios.loader import load_profile
from muspsy_sim.scenarios.profile import CaseProfile, InitialState, SessionPlan

FREE_ID = "free"
NOT_GIVEN = "not given"
# The form's fields: (name, label, required, longest).
FIELDS = (
    ("pseudonym", "The name the counselor should call you", True, 80),
    ("age", "Your age", True, 3),
    ("presenting_problem", "What you would like to talk about", True, 1000),
    ("gender", "Gender (optional)", False, 40),
    ("occupation", "Occupation (optional)", False, 200),
    ("background", "A few words of background (optional)", False, 3000),
)


class ProfileRefused(ValueError):
    """A profile form that cannot make a profile; the message says what to change."""


def profile_path(run_dir: Path) -> Path:
    return run_dir / "profile" / f"{FREE_ID}.yaml"


def free_profile(form: dict[str, str]) -> CaseProfile:
    """The case profile of the filled-in form; ProfileRefused with a message for the person otherwise."""
    values = {name: " ".join(str(form.get(name, "")).split()) for name, *_ in FIELDS}
    for name, label, required, longest in FIELDS:
        if required and not values[name]:
            raise ProfileRefused(f"Please fill in: {label}.")
        if len(values[name]) > longest:
            raise ProfileRefused(f"{label}: at most {longest:,} characters.")
    if not values["age"].isdigit() or not 10 <= int(values["age"]) <= 110:
        raise ProfileRefused("Your age: a whole number from 10 to 110.")
    problem = values["presenting_problem"]
    try:
        return CaseProfile(
            id=FREE_ID, pseudonym=values["pseudonym"], age=int(values["age"]),
            gender=values["gender"] or NOT_GIVEN, occupation=values["occupation"] or NOT_GIVEN,
            presenting_problem=problem, background=values["background"] or problem,
            personality="played by the person themselves", speaking_style="their own words",
            tags=["free-role-play"],
            initial_state=InitialState(distress=5.0, trust=4.0),
            course_plan=[SessionPlan(emotional_state="As you feel it yourself.",
                                     cognitive_state="Your own thoughts about it.",
                                     goal=f"Talk about: {problem}"[:1000])],
        )
    except ValidationError as error:
        raise ProfileRefused(f"The profile cannot be used: {error.errors()[0]['msg']}.") from None


def save_free_profile(run_dir: Path, profile: CaseProfile) -> CaseProfile:
    """Write the profile once, whole or not at all (a second submission keeps the first); returns the one on disk."""
    path = profile_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False, allow_unicode=True),
                       encoding="utf-8")
    try:
        with open(staging, "rb") as written:
            os.fsync(written.fileno())
        os.link(staging, path)  # fails if a profile is there already: the first one stays
    except FileExistsError:
        return load_profile(path)
    finally:
        staging.unlink(missing_ok=True)
    return profile
