"""The fluent API: module-level functions over an active run, as in ``mlflow``'s fluent API.

:mod:`~mltrail.client.fluent.state` holds the process's tracking URI, active experiment and
synchronous flag and the per-thread run stack; :mod:`~mltrail.client.fluent.runs` the run
lifecycle, :mod:`~mltrail.client.fluent.log_calls` metrics, params and tags,
:mod:`~mltrail.client.fluent.experiments`, :mod:`~mltrail.client.fluent.search` and
:mod:`~mltrail.client.fluent.artifacts` the rest. ``mltrail`` exports the public names.
"""
