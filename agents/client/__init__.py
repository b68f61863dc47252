"""The simulated client."""

from muspsy_sim.agents.client.dynamics import Appraisal, DynamicsParams, appraise, between_sessions
from muspsy_sim.agents.client.simulated_client import ClientReply, SimulatedClient
from muspsy_sim.agents.client.state import ClientState

__all__ = ["Appraisal", "ClientReply", "ClientState", "DynamicsParams", "SimulatedClient", "appraise", "between_sessions"]
