"""Saving an input example beside the model, in MLflow's ``input_example.json`` layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mltrail.models.signature import as_frame_or_array

INPUT_EXAMPLE_FILE = "input_example.json"


def save_input_example(model_dir: Path, example: Any) -> dict[str, Any]:
    """Write the example; returns the ``saved_input_example_info`` entry of the MLmodel."""
    value = as_frame_or_array(example)
    if isinstance(value, pd.DataFrame):
        # pandas' own JSON writer handles timestamps, NaN and numpy scalars.
        text = value.to_json(orient="split", index=False, date_format="iso")
        info = {"artifact_path": INPUT_EXAMPLE_FILE, "type": "dataframe", "pandas_orient": "split"}
    else:
        text = json.dumps({"inputs": np.asarray(value).tolist()})
        info = {"artifact_path": INPUT_EXAMPLE_FILE, "type": "ndarray", "format": "tf-serving"}
    (model_dir / INPUT_EXAMPLE_FILE).write_text(text, encoding="utf-8")
    return info
