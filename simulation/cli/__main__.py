"""``python -m muspsy_sim.simulation.cli``: the same command line as run_sim.py."""

from .app import main

main()
