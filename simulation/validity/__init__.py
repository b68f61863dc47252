"""The validity harness: the simulated client replays real support conversations (ESConv format)
and its ratings are compared with the help-seekers' own (``run_sim.py validity esconv``), and it
replays the sessions people played as the client and is compared with their ratings
(``run_sim.py validity human``).

Inside: ``harness`` -> ``replay`` -> ``esconv``; ``harness`` -> ``figures``, ``judge_check``;
``human_harness`` -> ``human_replay``, ``agreement`` -> ``figures``.
"""
