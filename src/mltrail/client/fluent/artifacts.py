"""The fluent API's artifact calls, on the active run."""

from __future__ import annotations

import os
from typing import Any

from mltrail.client.fluent.runs import target_run
from mltrail.client.fluent.state import current_client


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The artifact URI of the active run, or of ``artifact_path`` inside it."""
    from mltrail.client.artifact_ops import clean_path

    backend, rid = target_run(None)
    root = backend.get_run(rid).info.artifact_uri
    rel = clean_path(artifact_path)
    return f"{root.rstrip('/')}/{rel}" if rel else root


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    current_client().log_artifact(target_run(None)[1], local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    current_client().log_artifacts(target_run(None)[1], local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    current_client().log_text(target_run(None)[1], text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str) -> None:
    current_client().log_dict(target_run(None)[1], dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    current_client().log_figure(target_run(None)[1], figure, artifact_file)


def log_image(image: Any, artifact_file: str) -> None:
    current_client().log_image(target_run(None)[1], image, artifact_file)
