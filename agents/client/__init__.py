"""The simulated client."""

from muspsy_sim.agents.client.base import Client, ClientReply
from muspsy_sim.agents.client.dynamics import Appraisal, DynamicsParams, appraise, between_sessions
from muspsy_sim.agents.client.simulated_client import SimulatedClient
from muspsy_sim.agents.client.state import ClientState

__all__ = ["Appraisal", "Client", "ClientReply", "ClientState", "DynamicsParams", "SimulatedClient", "appraise", "between_sessions"]
