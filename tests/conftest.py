"""Shared test configuration: pytester for the plugin's tests, and the whole-suite hygiene checks."""

import pytest

pytest_plugins = ["pytester", "tests._hygiene"]

# Helper modules that other folders import too: their asserts are rewritten wherever they load first.
pytest.register_assert_rewrite("tests.subscriptions.helpers")
