"""The runs table's state (read from the URL) and its rows: columns, sort, filter, nesting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mltrail.entities import Run, ViewType
from mltrail.errors import InvalidParameterValue
from mltrail.server.ui.formatting import format_duration, format_number, format_time

PARENT_TAG = "mlflow.parentRunId"
SOURCE_TAG = "mlflow.source.name"
PAGE_SIZES = (25, 50, 100, 200, 500)
DEFAULT_PAGE_SIZE = 50
VIEWS = {"active": ViewType.ACTIVE_ONLY, "deleted": ViewType.DELETED_ONLY, "all": ViewType.ALL}
KINDS = ("params", "metrics", "tags")

# Fixed columns: id -> (header, search-grammar attribute to sort by)
FIXED_COLUMNS = {
    "run_name": ("Run", "run_name"),
    "status": ("Status", "status"),
    "start_time": ("Started", "start_time"),
    "duration": ("Duration", "duration"),
    "user_id": ("User", "user_id"),
    "source": ("Source", None),
}


@dataclass(frozen=True)
class Column:
    kind: str  # "params", "metrics" or "tags"
    key: str

    @property
    def id(self) -> str:
        return f"{self.kind}.{self.key}"

    @classmethod
    def parse(cls, text: str) -> Column | None:
        kind, _, key = text.partition(".")
        if kind not in KINDS or not key:
            return None
        return cls(kind, key)

    def value(self, run: Run) -> str | float | None:
        data: Mapping[str, str | float] = getattr(run.data, self.kind)
        return data.get(self.key)


def quote_key(key: str) -> str:
    if "`" in key:
        raise InvalidParameterValue(f"Cannot sort by {key!r}: the name contains a backtick")
    return f"`{key}`"


@dataclass
class TableState:
    filter: str = ""
    q: str = ""
    sort: str = "start_time"
    desc: bool = True
    view: str = "active"
    size: int = DEFAULT_PAGE_SIZE
    page: str | None = None
    columns: list[Column] = field(default_factory=list)
    columns_chosen: bool = False

    @classmethod
    def from_query(cls, params: Mapping[str, str], columns: list[str]) -> TableState:
        state = cls()
        state.filter = params.get("filter", "").strip()
        state.q = params.get("q", "").strip()
        sort = params.get("sort", "start_time")
        state.sort = sort if sort in FIXED_COLUMNS or Column.parse(sort) else "start_time"
        state.desc = params.get("dir", "desc" if state.sort == "start_time" else "asc") == "desc"
        view = params.get("view", "active")
        state.view = view if view in VIEWS else "active"
        try:
            size = int(params.get("size", DEFAULT_PAGE_SIZE))
        except ValueError:
            size = DEFAULT_PAGE_SIZE
        state.size = size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE
        state.page = params.get("page") or None
        state.columns_chosen = bool(columns)
        seen: set[str] = set()
        for text in columns:
            col = Column.parse(text)
            if col and col.id not in seen:
                seen.add(col.id)
                state.columns.append(col)
        return state

    def filter_string(self) -> str:
        parts = []
        if self.filter:
            parts.append(self.filter)
        if self.q:
            escaped = (
                self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            ).replace("'", "''")
            parts.append(f"attributes.run_name ILIKE '%{escaped}%'")
        return " and ".join(parts)

    def order_by(self) -> list[str]:
        direction = "DESC" if self.desc else "ASC"
        if self.sort in FIXED_COLUMNS:
            attribute = FIXED_COLUMNS[self.sort][1]
            if attribute is None:
                return [f"tags.{quote_key(SOURCE_TAG)} {direction}"]
            return [f"attributes.{attribute} {direction}"]
        col = Column.parse(self.sort)
        assert col is not None
        return [f"{col.kind}.{quote_key(col.key)} {direction}"]

    def query(self, **changes: object) -> dict[str, object]:
        """The URL parameters of this state with some changed (for links)."""
        params: dict[str, object] = {
            "filter": self.filter,
            "q": self.q,
            "sort": self.sort,
            "dir": "desc" if self.desc else "asc",
            "view": self.view if self.view != "active" else None,
            "size": self.size if self.size != DEFAULT_PAGE_SIZE else None,
            "page": self.page,
        }
        params.update(changes)
        return params


@dataclass(frozen=True)
class Row:
    run: Run
    depth: int
    has_children: bool
    parent_id: str | None


def nest(runs: list[Run]) -> list[Row]:
    """Runs in their order, children right after their parent when both are on the page."""
    on_page = {r.info.run_id for r in runs}
    children: dict[str, list[Run]] = {}
    roots: list[Run] = []
    for run in runs:
        parent = run.data.tags.get(PARENT_TAG)
        if parent and parent in on_page and parent != run.info.run_id:
            children.setdefault(parent, []).append(run)
        else:
            roots.append(run)
    rows: list[Row] = []
    placed: set[str] = set()

    def place(run: Run, depth: int, parent: str | None) -> None:
        if run.info.run_id in placed:
            return
        placed.add(run.info.run_id)
        kids = children.get(run.info.run_id, [])
        rows.append(Row(run, depth, bool(kids), parent))
        for kid in kids:
            place(kid, min(depth + 1, 4), run.info.run_id)

    for run in roots:
        place(run, 0, None)
    for run in runs:  # cycles in parent tags: still show every run once
        place(run, 0, None)
    return rows


def csv_header(columns: list[Column]) -> list[str]:
    return [
        "run_id",
        "run_name",
        "status",
        "start_time",
        "end_time",
        "duration",
        "user",
        "source",
        "parent_run_id",
        *[c.id for c in columns],
    ]


def _cell(text: str) -> str:
    # Spreadsheet programs run cells that start with these as formulas.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_row(run: Run, columns: list[Column]) -> list[str]:
    info = run.info
    values: list[str] = []
    for col in columns:
        value = col.value(run)
        if isinstance(value, float):
            values.append(repr(value))
        else:
            values.append(_cell(value or ""))
    return [
        info.run_id,
        _cell(info.run_name),
        info.status,
        format_time(info.start_time),
        format_time(info.end_time),
        format_duration(info.start_time, info.end_time),
        _cell(info.user_id),
        _cell(run.data.tags.get(SOURCE_TAG, "")),
        run.data.tags.get(PARENT_TAG, ""),
        *values,
    ]


def display(value: str | float | None) -> str:
    if isinstance(value, float):
        return format_number(value)
    return value or ""
