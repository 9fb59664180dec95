"""``requirements.txt`` and ``python_env.yaml`` pinned to what is installed at save time."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import yaml

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"


def pinned(distributions: Sequence[str]) -> list[str]:
    """``name==version`` for each installed distribution; unversioned if it is not installed."""
    lines = []
    for name in distributions:
        try:
            lines.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(name)
    return lines


def write_environment(model_dir: Path, *, requirements: Sequence[str]) -> None:
    reqs = list(requirements)
    (model_dir / REQUIREMENTS_FILE).write_text("\n".join(reqs) + "\n", encoding="utf-8")
    env = {
        "python": platform.python_version(),
        "build_dependencies": pinned(["pip", "setuptools", "wheel"]),
        "dependencies": [f"-r {REQUIREMENTS_FILE}"],
    }
    text = yaml.safe_dump(env, default_flow_style=False, sort_keys=False)
    (model_dir / PYTHON_ENV_FILE).write_text(text, encoding="utf-8")
