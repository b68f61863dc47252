"""The simulated client."""

from muspsy_sim.agents.client.appraisal import (
    AppraisalContext,
    Appraiser,
    ModelAppraiser,
    RulesAppraiser,
    appraise,
    build_appraiser,
)
from muspsy_sim.agents.client.base import Client, ClientReply, PersonClient
from muspsy_sim.agents.client.dynamics import Appraisal, DynamicsParams, between_sessions
from muspsy_sim.agents.client.simulated_client import SimulatedClient
from muspsy_sim.agents.client.state import ClientState

__all__ = ["Appraisal", "AppraisalContext", "Appraiser", "Client", "ClientReply", "ClientState", "DynamicsParams",
           "ModelAppraiser", "PersonClient", "RulesAppraiser", "SimulatedClient", "appraise", "between_sessions", "build_appraiser"]
