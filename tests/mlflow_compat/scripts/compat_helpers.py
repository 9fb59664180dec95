"""Helpers imported by the scripts the compatibility tests run with the real mlflow client."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

__all__ = ["MlflowClient", "MlflowException", "emit", "error_of", "mlflow"]


def emit(value: Any) -> None:
    """Print the script's result as the last line of stdout."""
    sys.stdout.write(json.dumps(value, default=str) + "\n")


def error_of(fn: Callable[[], Any]) -> dict[str, Any] | None:
    """The MLflow error ``fn`` raises, as {"code", "message"}; None if it returned normally."""
    try:
        fn()
    except MlflowException as exc:
        return {"code": exc.error_code, "message": exc.message}
    return None
