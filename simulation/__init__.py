"""Simulation engine: campaign config, LangGraph session and course graphs, run directories."""
