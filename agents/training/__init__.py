"""LoRA supervised fine-tuning of counselor models on recorded counselor turns."""

from .data import load_training_data
from .trainer import TrainingResult, train_counselor

__all__ = ["TrainingResult", "load_training_data", "train_counselor"]
