"""Prefect flows for arshjul: thin wrappers that call the arshjul library step by step."""

from flows.runtime import configure_environment

configure_environment()
