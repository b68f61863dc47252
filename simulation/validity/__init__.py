"""The validity harness: the simulated client replays real support conversations (ESConv format)
and its ratings are compared with the help-seekers' own (``run_sim.py validity esconv``).

Inside: ``harness`` -> ``replay`` -> ``esconv``; ``harness`` -> ``figures``.
"""
