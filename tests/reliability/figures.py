"""Figures the reliability suite measured, printed as a table at the end of the test run."""

FIGURES: dict[str, str] = {}
