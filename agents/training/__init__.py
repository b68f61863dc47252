"""LoRA supervised fine-tuning of counselor models on recorded counselor turns."""

from muspsy_sim.agents.training.data import load_training_data
from muspsy_sim.agents.training.trainer import TrainingResult, train_counselor

__all__ = ["TrainingResult", "load_training_data", "train_counselor"]
