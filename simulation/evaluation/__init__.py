"""Evaluation of simulated counseling runs: metrics, statistics and run comparison."""
