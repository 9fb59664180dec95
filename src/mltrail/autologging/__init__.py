"""``mltrail.autolog()``: turn on every autologging integration whose library is installed.

Only scikit-learn is patched (``mltrail.sklearn.autolog``); PyTorch Lightning and Hugging Face
``transformers`` log through :mod:`mltrail.integrations` (a logger and a callback). Importing
this module imports no machine-learning library: scikit-learn is patched when it is imported.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any


def autolog(
    log_input_examples: bool = True,
    *,
    log_model_signatures: bool = True,
    log_models: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    silent: bool = False,
    extra_tags: Mapping[str, Any] | None = None,
    exclude_flavors: Sequence[str] | None = None,
) -> None:
    """Autolog every supported library that is installed (today: scikit-learn).

    Takes the options all integrations share (see ``mltrail.sklearn.autolog`` for what is
    logged); ``exclude_flavors=["sklearn"]`` leaves a library alone, ``disable=True`` turns
    everything off again. A library imported later is patched when it is imported.
    """
    excluded = set(exclude_flavors or ())
    if "sklearn" in excluded or importlib.util.find_spec("sklearn") is None:
        return
    from mltrail.autologging.sklearn import autolog as sklearn_autolog

    sklearn_autolog(
        log_input_examples,
        log_model_signatures=log_model_signatures,
        log_models=log_models,
        disable=disable,
        exclusive=exclusive,
        silent=silent,
        extra_tags=extra_tags,
    )
