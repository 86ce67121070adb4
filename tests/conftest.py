"""Shared test configuration: pytester for the plugin's tests, and the whole-suite hygiene checks."""

pytest_plugins = ["pytester", "tests._hygiene"]
