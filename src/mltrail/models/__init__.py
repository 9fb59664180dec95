"""Model folders (``MLmodel`` + files), signatures and flavors (scikit-learn, python_function)."""

from mltrail.models.model import Model, ModelInfo
from mltrail.models.signature import ModelSignature, infer_signature

__all__ = ["Model", "ModelInfo", "ModelSignature", "infer_signature"]
