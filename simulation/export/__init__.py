"""Trajectories as training data: the three MusPsy tasks in muspsy, openai or sharegpt format."""

from muspsy_sim.simulation.export.examples import FORMATS, TASKS
from muspsy_sim.simulation.export.writer import ExportReport, export_dataset

__all__ = ["FORMATS", "TASKS", "ExportReport", "export_dataset"]
