"""The supervisor and the parts it is made of.

``gate.py`` holds ``Supervisor``, the batch gate every mode runs through; beside it, each
in its own module, are the parts that act on the supervisor's state: ``recovery.py``
(a restart picks up where the dead process left), ``session_keeper.py`` (the session's
clock), ``command_handler.py`` (commands from a person), ``snapshots.py`` (what the
screen sees) and ``run_summary.py`` (the headless summary). They are one package
because they are one object's parts: they read the supervisor, and it builds them.
"""

from kitetui.supervisor.gate import Supervisor, config_hash

__all__ = ["Supervisor", "config_hash"]
