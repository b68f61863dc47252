"""The judge model that rates sessions (evaluation)."""

from muspsy_sim.agents.judge.judge import DEFAULT_VERSION, Judge, dimensions

__all__ = ["DEFAULT_VERSION", "Judge", "dimensions"]
