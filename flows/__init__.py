"""Prefect flows for arshjul: thin wrappers that call the arshjul library step by step."""

from flows.runtime import configure_environment, log_to_runs

configure_environment()
log_to_runs()
