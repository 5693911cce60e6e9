"""Signal receivers, connected from ``AppConfig.ready()``.

Each feature module registers its receivers here so that importing a model
never has side effects.
"""


def connect():
    """Connect the app's signal receivers (called once from ``AppConfig.ready``)."""
