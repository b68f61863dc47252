"""The simulated client."""

from .appraisal import (
    AppraisalContext,
    Appraiser,
    ModelAppraiser,
    RulesAppraiser,
    appraise,
    build_appraiser,
)
from .base import Client, ClientReply, PersonClient
from .dynamics import DynamicsParams, between_sessions
from .simulated_client import SimulatedClient
from .state import ClientState

__all__ = ["AppraisalContext", "Appraiser", "Client", "ClientReply", "ClientState", "DynamicsParams",
           "ModelAppraiser", "PersonClient", "RulesAppraiser", "SimulatedClient", "appraise", "between_sessions",
           "build_appraiser"]
