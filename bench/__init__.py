"""Benchmarks: scripts that print figures (run them with `run_sim.py bench NAME`); never timed tests."""
