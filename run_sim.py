#!/usr/bin/env python3
"""muspsy-sim command line; see `python run_sim.py --help`."""

from muspsy_sim.simulation.cli import main

if __name__ == "__main__":
    main()
