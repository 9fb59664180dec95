"""``SqlRegistryStore``: registered models, their versions, tags, aliases and stages.

The methods live by concept: :mod:`~mltrail.store.sql.registry_models`,
:mod:`~mltrail.store.sql.registry_versions` and :mod:`~mltrail.store.sql.registry_labels`
(aliases and tags), over the lookups and loaders of :mod:`~mltrail.store.sql.registry_rows`.
"""

from __future__ import annotations

from sqlalchemy import Engine

from mltrail.store.sql.registry_labels import AliasesAndTagsSql
from mltrail.store.sql.registry_models import RegisteredModelsSql
from mltrail.store.sql.registry_versions import ModelVersionsSql


class SqlRegistryStore(RegisteredModelsSql, ModelVersionsSql, AliasesAndTagsSql):
    """The model registry on one SQL database. Thread-safe (one pooled engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
