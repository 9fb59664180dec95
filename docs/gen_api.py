"""Render docs/api.md (the Python API reference) from the signatures and docstrings.

python docs/gen_api.py           # rewrite docs/api.md
python docs/gen_api.py --check   # exit 1 if docs/api.md is out of date
"""

from __future__ import annotations

import argparse
import enum
import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "api.md"

HEADER = """\
# Python API reference

Generated from the code by `python docs/gen_api.py`; do not edit by hand.

`import mltrail` gives the *fluent* API: module-level functions that work on an active
experiment and run, with the names and behaviour of MLflow's fluent API. Metric, param and
tag logging is queued and sent by a background thread in batches (`flush()`, `end_run()`
and interpreter exit drain the queue); `set_synchronous(True)` or `synchronous=True` on
a call sends immediately and raises errors at the call site. `mltrail.TrackingClient` is the
explicit client, with `MlflowClient`'s method names. `mltrail.sklearn` and `mltrail.pyfunc`
save, log and load models.

Where data goes: `set_tracking_uri()`, else `$MLTRAIL_TRACKING_URI`, else the folder
`./mltrail` (see [the quickstart](quickstart.md#5-where-the-data-goes)). Errors are
subclasses of `mltrail.MltrailError` with a stable `code`.
"""

# (title, intro, names) of the fluent API's sections; any name of mltrail.__all__ missing
# here lands in "Other" so that nothing public goes undocumented.
FLUENT_SECTIONS: list[tuple[str, list[str]]] = [
    ("Tracking URI", ["set_tracking_uri", "get_tracking_uri", "is_tracking_uri_set"]),
    (
        "Experiments",
        [
            "set_experiment",
            "create_experiment",
            "get_experiment",
            "get_experiment_by_name",
            "search_experiments",
            "delete_experiment",
            "set_experiment_tag",
            "set_experiment_tags",
        ],
    ),
    (
        "Runs",
        ["start_run", "end_run", "active_run", "last_active_run", "get_run", "delete_run"],
    ),
    (
        "Logging",
        [
            "log_metric",
            "log_metrics",
            "log_param",
            "log_params",
            "set_tag",
            "set_tags",
            "delete_tag",
            "flush",
            "run_stats",
            "set_synchronous",
        ],
    ),
    (
        "Artifacts",
        [
            "log_artifact",
            "log_artifacts",
            "log_text",
            "log_dict",
            "log_figure",
            "log_image",
            "get_artifact_uri",
        ],
    ),
    ("Search", ["search_runs"]),
    (
        "Autologging and system metrics",
        [
            "autolog",
            "enable_system_metrics_logging",
            "disable_system_metrics_logging",
            "set_system_metrics_sampling_interval",
            "set_system_metrics_samples_before_logging",
            "set_system_metrics_node_id",
        ],
    ),
    ("Model registry", ["register_model"]),
]


def _annotation(value: Any) -> str:
    text = value if isinstance(value, str) else inspect.formatannotation(value)
    # Drop module prefixes so signatures read like the source.
    return re.sub(r"\b(?:mltrail\.\w+\.|collections\.abc\.|typing\.)", "", text)


def _default(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if repr(value).startswith("<"):
        return "..."
    return repr(value)


def _signature(obj: Any, name: str) -> str:
    if inspect.isclass(obj) and issubclass(obj, enum.Enum):
        return f"{name}: " + " | ".join(member.name for member in obj)
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return name
    params = []
    seen_kw_only = False
    for param in sig.parameters.values():
        if param.name == "self":
            continue
        if param.kind is param.KEYWORD_ONLY and not seen_kw_only:
            params.append("*")
            seen_kw_only = True
        prefix = {param.VAR_POSITIONAL: "*", param.VAR_KEYWORD: "**"}.get(param.kind, "")
        seen_kw_only = seen_kw_only or param.kind is param.VAR_POSITIONAL
        text = prefix + param.name
        if param.annotation is not param.empty:
            text += f": {_annotation(param.annotation)}"
        if param.default is not param.empty:
            text += f" = {_default(param.default)}"
        params.append(text)
    text = f"{name}({', '.join(params)})"
    if not inspect.isclass(obj) and sig.return_annotation is not sig.empty:
        text += f" -> {_annotation(sig.return_annotation)}"
    return text


def _doc(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    # A dataclass's generated docstring only repeats its signature.
    if not doc or doc.startswith((f"{getattr(obj, '__name__', '')}(", "str(object=")):
        return ""
    return doc.split("\n\n", 1)[0].replace("\n", " ")


def _entry(obj: Any, name: str) -> str:
    doc = _doc(obj)
    return f"- `{_signature(obj, name)}`" + (f"\n  {doc}" if doc else "")


def _is_public_method(name: str, member: Any) -> bool:
    return not name.startswith("_") and inspect.isfunction(member)


def render() -> str:
    mltrail = importlib.import_module("mltrail")
    parts = [HEADER, "## Fluent API (`mltrail.*`)\n"]
    documented: set[str] = set()
    for title, names in FLUENT_SECTIONS:
        parts.append(f"### {title}\n")
        parts.extend(_entry(getattr(mltrail, n), f"mltrail.{n}") for n in names)
        parts.append("")
        documented.update(names)
    functions = [
        n
        for n in mltrail.__all__
        if n not in documented and inspect.isfunction(getattr(mltrail, n))
    ]
    if functions:
        parts.append("### Other\n")
        parts.extend(_entry(getattr(mltrail, n), f"mltrail.{n}") for n in functions)
        parts.append("")

    client_cls = mltrail.TrackingClient
    parts.append("## `mltrail.TrackingClient`\n")
    parts.append(_entry(client_cls, "TrackingClient") + "\n")
    for name, member in inspect.getmembers(client_cls):
        if _is_public_method(name, member):
            sig = _signature(member, name)
            doc = _doc(member)
            parts.append(f"- `client.{sig}`" + (f"\n  {doc}" if doc else ""))
    parts.append("")

    for module_name in ("mltrail.sklearn", "mltrail.pyfunc"):
        module = importlib.import_module(module_name)
        parts.append(f"## `{module_name}`\n")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                parts.append(_entry(obj, f"{module_name}.{name}"))
        parts.append("")

    parts.append("## Values and errors\n")
    for name in mltrail.__all__:
        obj = getattr(mltrail, name)
        if inspect.isclass(obj) and name not in ("TrackingClient",):
            parts.append(_entry(obj, f"mltrail.{name}"))
    parts.append("")
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description="Render docs/api.md from the code.")
    parser.add_argument("--check", action="store_true", help="fail if docs/api.md is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not OUT.is_file() or OUT.read_text() != text:
            print(f"{OUT.name} is out of date: run python docs/gen_api.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
