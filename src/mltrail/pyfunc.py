"""``mltrail.pyfunc``: load any saved model as a ``PyFuncModel`` with ``predict``."""

from mltrail.models.pyfunc import PyFuncModel, load_model

__all__ = ["PyFuncModel", "load_model"]
