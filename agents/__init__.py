"""Agents: the simulated client, the counselors, and the model layer they share."""
