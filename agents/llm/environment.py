"""Process settings that keep the embedded default fully offline."""

from __future__ import annotations

import os

OFFLINE_ENVIRONMENT = {
    # litellm otherwise fetches its model cost map from the network at import.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
    # Model-loading bars would tear through the campaign's own progress display.
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}


def configure_offline_environment() -> None:
    """Set the offline defaults without overriding what the user set."""
    for name, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
