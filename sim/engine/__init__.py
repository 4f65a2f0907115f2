"""The engine: the Mesa model, its state agents, the instruments acting on missions,
and the counter-based random streams.

Layers (imports run only downward): ``sim.spec`` (plain scenario data) → ``sim.engine``
→ ``sim.scenario`` (reading and validation, which ask the engine's registries) and
``sim.analysis`` → ``sim.cli`` / ``sim.api``.
"""
