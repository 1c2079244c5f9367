"""Demo data that composition apps add to ``seed_demo`` without the chart app importing them.

An app registers ``seed(*, password)`` in its ``AppConfig.ready()``; ``seed_demo`` runs the
registered seeders after its own, in the order they were registered. Each must be idempotent.
"""

from __future__ import annotations

from collections.abc import Callable

DemoSeeder = Callable[..., None]
EXTRA_SEEDERS: list[DemoSeeder] = []


def register_demo_seeder(seed: DemoSeeder) -> None:
    if seed not in EXTRA_SEEDERS:
        EXTRA_SEEDERS.append(seed)
