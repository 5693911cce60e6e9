"""Benchmark cases: each module has ``run(report, rounds)``."""

import importlib
import pkgutil


def all_cases():
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        yield info.name, importlib.import_module(f"{__name__}.{info.name}")
