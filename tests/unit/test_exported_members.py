"""The public surface: ``__all__`` of colonies_sync and colonies_fake (STYLE.md, 'public surface').

Modules are private; each package re-exports a sorted ``__all__`` and this
test checks that list.
"""

from __future__ import annotations

import inspect
import sys
from types import ModuleType

import pytest

import colonies_fake
import colonies_sync
from colonies_sync import ColoniesError

PACKAGES = [pytest.param(colonies_sync, id="colonies_sync"), pytest.param(colonies_fake, id="colonies_fake")]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted(package: ModuleType) -> None:
    """__all__ is in Python's (case-sensitive) sort order."""
    assert list(package.__all__) == sorted(package.__all__)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_has_no_duplicates(package: ModuleType) -> None:
    """No name is exported twice."""
    assert len(package.__all__) == len(set(package.__all__))


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_resolves(package: ModuleType) -> None:
    """Every name in __all__ is an attribute of the package."""
    missing = [name for name in package.__all__ if not hasattr(package, name)]
    assert missing == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_private_names_exported(package: ModuleType) -> None:
    """Only __version__ may start with an underscore."""
    assert [n for n in package.__all__ if n.startswith("_") and n != "__version__"] == []


@pytest.mark.parametrize("package", PACKAGES)
def test_exported_classes_and_functions_have_docstrings(package: ModuleType) -> None:
    """Every exported class and function has its own non-empty docstring (not an inherited one)."""
    undocumented = []
    for name in package.__all__:
        obj = getattr(package, name)
        if inspect.isclass(obj):
            doc = obj.__dict__.get("__doc__")
        elif inspect.isfunction(obj):
            doc = obj.__doc__
        else:
            continue
        if not (isinstance(doc, str) and doc.strip()):
            undocumented.append(name)
    assert undocumented == []


@pytest.mark.parametrize("package", PACKAGES)
def test_exported_objects_come_from_the_package(package: ModuleType) -> None:
    """Exported classes and functions are defined in this project, not re-exported from a library."""
    foreign = []
    for name in package.__all__:
        obj = getattr(package, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            if obj.__module__.split(".")[0] not in {"colonies_sync", "colonies_fake"}:
                foreign.append((name, obj.__module__))
    assert foreign == []


@pytest.mark.parametrize("package", PACKAGES)
def test_private_modules_are_documented(package: ModuleType) -> None:
    """The package and each module behind the exports say what they are for."""
    modules = {package.__name__} | {
        getattr(package, n).__module__
        for n in package.__all__
        if inspect.isclass(getattr(package, n)) or inspect.isfunction(getattr(package, n))
    }
    undocumented = [m for m in sorted(modules) if not (sys.modules[m].__doc__ or "").strip()]
    assert undocumented == []


def test_every_exported_exception_derives_from_colonies_error() -> None:
    """Every exception class colonies_sync exports is a ColoniesError."""
    exceptions = [
        getattr(colonies_sync, n)
        for n in colonies_sync.__all__
        if inspect.isclass(getattr(colonies_sync, n)) and issubclass(getattr(colonies_sync, n), BaseException)
    ]
    assert len(exceptions) >= 20
    assert [e.__name__ for e in exceptions if not issubclass(e, ColoniesError)] == []


def test_every_exception_in_the_exceptions_module_is_exported() -> None:
    """No exception class of colonies_sync._exceptions is left out of __all__."""
    from colonies_sync import _exceptions

    defined = {
        name
        for name, obj in vars(_exceptions).items()
        if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == _exceptions.__name__
    }
    assert defined - set(colonies_sync.__all__) == set()


def test_version_is_a_string() -> None:
    """__version__ is exported and is a dotted version string."""
    assert "__version__" in colonies_sync.__all__
    assert isinstance(colonies_sync.__version__, str)
    assert all(part.isdigit() for part in colonies_sync.__version__.split("."))


def test_documented_public_names_are_exported() -> None:
    """The names DESIGN.md promises from colonies_sync and colonies_fake are exported."""
    promised_sync = {
        "ColoniesClient", "Crypto", "Colony", "Executor", "User", "FunctionSpec", "Conditions",
        "Process", "ProcessState", "MsgEntry", "Log", "Attribute", "ColoniesError",
        "ColoniesConnectionError", "ProtocolError", "ServerError", "BadRequest", "Forbidden",
        "NotFound", "ProcessNotFound", "ChannelNotFound", "RequestTimeout", "InternalServerError",
        "RateLimitExceeded", "ChannelFull", "PayloadTooLarge", "NoProcessAvailable", "WaitTimeout",
        "StreamError",
    }  # fmt: skip
    assert promised_sync - set(colonies_sync.__all__) == set()
    assert {"FakeColonies", "FakeClock"} - set(colonies_fake.__all__) == set()
