"""An empty flow and task with arshjul's Prefect settings: Prefect's fixed cost per process
(import, the ephemeral API server's start, one flow run and one task run) without any work.

``python -m bench.prefect_noop`` in a clean environment, timed by bench.run.
"""

from __future__ import annotations

import os


def main() -> None:
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    from flows.runtime import configure_environment

    configure_environment()  # arshjul's Prefect settings, before Prefect is imported
    from prefect import flow, task

    @task
    def nothing() -> int:
        return 0

    @flow(name="bench-noop")
    def noop() -> int:
        return nothing()

    noop()


if __name__ == "__main__":
    main()
