"""Importing a generated model.py in a test, as a module of its own (dataclasses and pickling
look classes up in sys.modules while it executes)."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from typing import Any


def import_file(path: pathlib.Path, module_name: str) -> Any:
    found = importlib.util.spec_from_file_location(module_name, path)
    assert found is not None
    assert found.loader is not None
    module = importlib.util.module_from_spec(found)
    sys.modules[module_name] = module
    try:
        found.loader.exec_module(module)
    finally:
        del sys.modules[module_name]
    return module
