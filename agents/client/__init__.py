"""The simulated client."""

from agents.client.dynamics import Appraisal, DynamicsParams, appraise, between_sessions
from agents.client.simulated_client import ClientReply, SimulatedClient
from agents.client.state import ClientState

__all__ = ["Appraisal", "ClientReply", "ClientState", "DynamicsParams", "SimulatedClient", "appraise", "between_sessions"]
