"""Trajectories as training data: the three MusPsy tasks in muspsy, openai or sharegpt format."""

from .examples import FORMATS, TASKS
from .writer import ExportReport, export_dataset

__all__ = ["FORMATS", "TASKS", "ExportReport", "export_dataset"]
