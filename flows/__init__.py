"""Prefect flows for arshjul: thin wrappers that call the arshjul library step by step.

Importing them leaves the environment alone: the entry points (``arshjul``'s main, the tests'
conftest, the benchmarks) call :func:`flows.runtime.configure_environment` before Prefect is
imported. The one thing done here is to route arshjul's log lines to the flow run's log: a
work pool's worker runs a flow in a process that imports only the flow's module, so this is
the one place every run passes through.
"""

from flows.runtime import log_to_runs

log_to_runs()
