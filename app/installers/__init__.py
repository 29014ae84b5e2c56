"""Kiln's installer kinds, one package each (kiln.kinds.registry lists them).

Importing any of their code loads the registry first, so every kind's tools are declared (the "install X" hints)
whatever a program imports first.
"""

from kiln.kinds import registry as _registry  # noqa: F401
