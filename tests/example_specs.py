"""The example specs in specs/ (not the zoo): those of one network, and those of several
(`networks:`), which the one-network checks (build directories, graphs, the schema of a
one-network spec) leave to their own tests."""

from __future__ import annotations

import pathlib

import yaml

ROOT = pathlib.Path(__file__).parent.parent
ALL = sorted((ROOT / "specs").glob("*.yaml"))


def _several(path: pathlib.Path) -> bool:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return isinstance(data, dict) and "networks" in data


ONE_NETWORK = [p for p in ALL if not _several(p)]
SEVERAL = [p for p in ALL if _several(p)]
