"""Reading batch inputs as a stream of Arrow record batches, never the whole file.

An input is a Parquet, CSV or JSON Lines file, or a directory of them, on a
local path or an fsspec URL. It is cut into numbered *parts*, the unit of work
and of resumption, and the same input always gives the same parts:

* Parquet: a part is a run of whole row groups (about ``batch_size`` rows or one
  row group), read by the worker that scores it, so the data never passes
  through the coordinating process.
* CSV and JSON Lines cannot be entered in the middle, so the coordinator reads
  them in order and each ``batch_size`` rows form a part.

Unreadable inputs raise :class:`~modelport.errors.DataError` naming the file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from modelport.errors import DataError
from modelport.tabular import FORMATS

_READ_ERRORS = (pa.ArrowException, OSError, ValueError)


def detect_format(uri: str, explicit: str | None = None) -> str:
    """``parquet``, ``csv`` or ``json`` from ``explicit`` or the file suffix."""
    if explicit:
        fmt = {"jsonl": "json", "ndjson": "json", "pq": "parquet"}.get(explicit, explicit)
        if fmt not in ("parquet", "csv", "json"):
            raise DataError(f"unknown format {explicit!r}", hint="use parquet, csv or jsonl")
        return fmt
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix in FORMATS:
        return FORMATS[suffix]
    raise DataError(
        f"cannot tell the format of {uri}",
        hint="name it .parquet, .csv or .jsonl, or pass --format",
    )


@dataclass(frozen=True)
class ParquetPart:
    """Row groups ``(file, group)`` forming one part, in input order."""

    index: int
    groups: tuple[tuple[str, int], ...]
    rows: int


class Source:
    """An input: its files, format, schema and (for Parquet) its row count."""

    def __init__(self, uri: str, fmt: str | None = None) -> None:
        self.uri = uri
        try:
            self.fs, root = fsspec.core.url_to_fs(uri)
            exists = self.fs.exists(root)
        except (OSError, ValueError, ImportError) as exc:
            raise DataError(f"cannot open the input {uri}: {exc}", hint="check the URL") from exc
        if not exists:
            raise DataError(f"the input {uri} does not exist", hint="check the path")
        self.format = detect_format(uri, fmt) if fmt or not _is_dir(uri) else _dir_format(uri)
        self.files = _list_files(self.fs, root, self.format, uri)
        self.schema = self._read_schema()

    @property
    def local(self) -> bool:
        return "file" in _protocols(self.fs)

    def open(self, path: str) -> Any:
        """A file handle for ``path`` (a plain path for local files: Arrow reads those fastest)."""
        return path if self.local else self.fs.open(path, "rb")

    def _read_schema(self) -> pa.Schema:
        first = self.files[0]
        with self._reading(first):
            if self.format == "parquet":
                return pq.ParquetFile(self.open(first)).schema_arrow
            reader = self._stream(first, 1 << 16, column_types={})
            return reader.schema

    @contextlib.contextmanager
    def _reading(self, path: str) -> Iterator[None]:
        try:
            yield
        except DataError:
            raise
        except _READ_ERRORS as exc:
            raise DataError(
                f"cannot read {path} as {self.format}: {exc}",
                hint="check that the file is complete and in the format its name says",
            ) from exc

    # -- Parquet: parts of whole row groups ------------------------------------------------

    def total_rows(self) -> int | None:
        """Rows in the input when the footer says so (Parquet), else None."""
        if self.format != "parquet":
            return None
        total = 0
        for path in self.files:
            with self._reading(path):
                total += pq.ParquetFile(self.open(path)).metadata.num_rows
        return total

    def plan(self, batch_size: int) -> list[ParquetPart]:
        """Parquet parts: consecutive row groups up to ``batch_size`` rows (at least one group)."""
        parts: list[ParquetPart] = []
        groups: list[tuple[str, int]] = []
        rows = 0
        for path in self.files:
            with self._reading(path):
                meta = pq.ParquetFile(self.open(path)).metadata
            for group in range(meta.num_row_groups):
                n = meta.row_group(group).num_rows
                if groups and rows + n > batch_size:
                    parts.append(ParquetPart(len(parts), tuple(groups), rows))
                    groups, rows = [], 0
                groups.append((path, group))
                rows += n
        if groups:
            parts.append(ParquetPart(len(parts), tuple(groups), rows))
        return parts

    def read_part(
        self, part: ParquetPart, columns: list[str], batch_size: int
    ) -> Iterator[pa.RecordBatch]:
        """The part's rows in order, in batches of at most ``batch_size`` rows."""
        for path, group in part.groups:
            with self._reading(path):
                handle = pq.ParquetFile(self.open(path))
                yield from handle.iter_batches(
                    batch_size=batch_size, row_groups=[group], columns=columns
                )

    # -- CSV and JSON Lines: a stream cut into parts of batch_size rows ----------------------

    def stream(
        self, columns: list[str], batch_size: int, text_columns: list[str]
    ) -> Iterator[pa.RecordBatch]:
        """Every row, in order, as batches of exactly ``batch_size`` rows (the last may be short).

        ``text_columns`` (CSV) are read as text and left to validation to coerce, so a bad
        value becomes a rejected row instead of a failed read.
        """
        pending: list[pa.RecordBatch] = []
        size = 0
        for path in self.files:
            types = {c: pa.string() for c in text_columns}
            with self._reading(path):
                reader = self._stream(path, 1 << 22, column_types=types)
                for batch in _batches(reader):
                    batch = batch.select([c for c in columns if c in batch.schema.names])
                    pending.append(batch)
                    size += batch.num_rows
                    while size >= batch_size:
                        table = pa.Table.from_batches(pending)
                        yield from table.slice(0, batch_size).combine_chunks().to_batches()
                        rest = table.slice(batch_size)
                        pending, size = rest.to_batches(), rest.num_rows
        if size:
            yield from pa.Table.from_batches(pending).combine_chunks().to_batches()

    def _stream(self, path: str, block_size: int, column_types: dict[str, pa.DataType]) -> Any:
        if self.format == "csv":
            return pacsv.open_csv(
                self.open(path),
                read_options=pacsv.ReadOptions(block_size=block_size),
                convert_options=pacsv.ConvertOptions(
                    column_types=column_types, strings_can_be_null=True
                ),
            )
        return pajson.open_json(
            self.open(path), read_options=pajson.ReadOptions(block_size=block_size)
        )


def _batches(reader: Any) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        if batch.num_rows:
            yield batch


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _is_dir(uri: str) -> bool:
    try:
        fs, path = fsspec.core.url_to_fs(uri)
        return bool(fs.isdir(path))
    except (OSError, ValueError):
        return False


def _dir_format(uri: str) -> str:
    fs, path = fsspec.core.url_to_fs(uri)
    for name in sorted(fs.ls(path, detail=False)):
        base = name.rstrip("/").rsplit("/", 1)[-1]
        if not base.startswith(("_", ".")):
            with contextlib.suppress(DataError):
                return detect_format(base)
    raise DataError(
        f"cannot tell the format of the files in {uri}",
        hint="name them .parquet, .csv or .jsonl, or pass --format",
    )


def _list_files(fs: Any, root: str, fmt: str, uri: str) -> list[str]:
    """The input files in name order; hidden files (``_SUCCESS``, ``.crc``) are skipped."""
    try:
        if not fs.isdir(root):
            return [root]
        names = sorted(fs.find(root))
    except OSError as exc:
        raise DataError(f"cannot list the input {uri}: {exc}", hint="check the path") from exc
    files = [
        n
        for n in names
        if not any(p.startswith(("_", ".")) for p in n[len(root.rstrip("/")) + 1 :].split("/"))
    ]
    if not files:
        raise DataError(f"the input directory {uri} has no data files", hint="check the path")
    return files
