"""The command line: ``python run_sim.py COMMAND`` (also installed as ``muspsy-sim``).

One root app (``app.py``, with the one handler that turns an ``InputError`` into
``error: <file>: <field>: <message>`` and exit code 2) gathers the commands of
each area:

* ``runs.py``: run, resume, fork (commands that simulate);
* ``scenarios.py``: scenarios list, show, validate, import muspsy;
* ``analysis.py``: eval, compare, report, inspect, graph;
* ``data.py``: export, train;
* ``bench.py``: bench.

``--help`` must answer at once: an area module imports at its top only what is
light (typer, rich, the config and profile loaders); the modules that run the
engine, the models or the report are imported inside their command, each with
its ``# lazy:`` reason (tests/test_cli_basics.py checks nothing heavy loads).
"""

from .app import app, main

__all__ = ["app", "main"]
