"""``mltrail.sklearn``: log, save and load scikit-learn models."""

from mltrail.autologging.sklearn import autolog
from mltrail.models.model import ModelInfo
from mltrail.models.signature import ModelSignature, infer_signature
from mltrail.models.sklearn import load_model, log_model, save_model

__all__ = [
    "ModelInfo",
    "ModelSignature",
    "autolog",
    "infer_signature",
    "load_model",
    "log_model",
    "save_model",
]
