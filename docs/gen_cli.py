"""Render docs/cli.md from the click command tree, so the reference never drifts.

python docs/gen_cli.py           # rewrite docs/cli.md
python docs/gen_cli.py --check   # exit 1 if docs/cli.md is out of date
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from mltrail.cli.main import cli

OUT = Path(__file__).resolve().parent / "cli.md"
WIDTH = 100

HEADER = """\
# Command-line reference

Generated from the code by `python docs/gen_cli.py`; do not edit by hand.

Every command takes the global options of `mltrail` before the command name, e.g.
`mltrail --tracking-uri sqlite:///team.db runs list --experiment churn`. The tracking URI
defaults to `$MLTRAIL_TRACKING_URI`, else the folder `./mltrail` in the current directory.
Errors print one `Error: ...` message on stderr (no traceback; `--debug` shows one) and
exit with status 2 for bad input (malformed filter, invalid value or URI) and 1 for
everything else (missing experiment or run, database unavailable, ...).
`--output json` prints machine-readable output; NaN and infinite metric values appear as
the strings `"NaN"`, `"Infinity"` and `"-Infinity"`.
"""


def _walk(
    command: click.Command, ctx: click.Context, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], click.Context]]:
    yield path, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            sub_ctx = click.Context(
                sub, info_name=name, parent=ctx, terminal_width=WIDTH, max_content_width=WIDTH
            )
            yield from _walk(sub, sub_ctx, (*path, name))


def render() -> str:
    root = click.Context(
        cli,
        info_name="mltrail",
        terminal_width=WIDTH,
        max_content_width=WIDTH,
        **cli.context_settings,
    )
    parts = [HEADER]
    for path, ctx in _walk(cli, root, ("mltrail",)):
        level = "#" * min(len(path) + 1, 4)
        parts.append(f"{level} `{' '.join(path)}`\n\n```text\n{ctx.get_help()}\n```\n")
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description="Render docs/cli.md from the click commands.")
    parser.add_argument("--check", action="store_true", help="fail if docs/cli.md is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not OUT.is_file() or OUT.read_text() != text:
            print(f"{OUT.name} is out of date: run python docs/gen_cli.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
