"""arshjul: the patient-safety annual cycle (årshjul) for Swedish health-care regions."""

__version__ = "0.1.0"
