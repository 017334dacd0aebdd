"""Writing batch outputs: numbered parts, a journal of finished parts, and the final step.

Layout, for ``OUTPUT`` a directory (no file suffix, or an existing directory)::

    OUTPUT/part-00000.parquet ...   one file per finished part, in input order
    OUTPUT/_journal.json            the job's fingerprint and the parts finished so far
    OUTPUT/_rejects.jsonl           rejected rows with their reason (when there are any)
    OUTPUT/_SUCCESS                 written last: the output is complete

and for ``OUTPUT`` a file (``scores.parquet``, ``scores.csv``, ``scores.jsonl``) the parts
and journal live in ``OUTPUT.parts/`` until every part is done; they are then merged into
``OUTPUT`` (written beside it and renamed) and the staging directory is removed. Rejects go
to ``scores.rejects.jsonl``. A part file appears only complete (written, then renamed), and
the journal records it only after, so a rerun after a crash redoes only unfinished parts.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from modelport.batch.sources import detect_format
from modelport.errors import ConflictError, DataError, InvalidArgument

_SUFFIX = {"parquet": "parquet", "csv": "csv", "json": "jsonl"}
JOURNAL = "_journal.json"
SUCCESS = "_SUCCESS"


class Output:
    """Where a job writes: part files, journal, rejects and the final output."""

    def __init__(self, uri: str, fmt: str | None = None) -> None:
        self.uri = uri.rstrip("/") if len(uri) > 1 else uri
        self.fs, self.path = fsspec.core.url_to_fs(self.uri)
        name = self.path.rsplit("/", 1)[-1]
        has_suffix = "." in name and name.rsplit(".", 1)[-1].lower() in (
            "parquet",
            "pq",
            "csv",
            "jsonl",
            "ndjson",
            "json",
        )
        self.is_file = has_suffix and not uri.endswith("/") and not self.fs.isdir(self.path)
        self.format = detect_format(self.uri, fmt) if (fmt or has_suffix) else "parquet"
        self.staging = f"{self.path}.parts" if self.is_file else self.path
        stem = self.path.rsplit(".", 1)[0] if self.is_file else None
        self.rejects_path = f"{stem}.rejects.jsonl" if stem else f"{self.staging}/_rejects.jsonl"

    # -- naming ---------------------------------------------------------------------------

    def part_path(self, index: int) -> str:
        return f"{self.staging}/part-{index:05d}.{_SUFFIX[self.format]}"

    def reject_part_path(self, index: int) -> str:
        return f"{self.staging}/_rejects/part-{index:05d}.jsonl"

    @property
    def journal_path(self) -> str:
        return f"{self.staging}/{JOURNAL}"

    def complete(self) -> bool:
        if self.is_file:
            return bool(self.fs.exists(self.path))
        return bool(self.fs.exists(f"{self.path}/{SUCCESS}"))

    # -- starting: fresh, resumed or refused ----------------------------------------------

    def start(self, fingerprint: dict[str, Any], *, overwrite: bool) -> dict[int, dict[str, int]]:
        """Prepare the staging area; return the parts a previous run of this job finished."""
        journal = self._read_journal()
        if journal is not None and journal.get("job") == fingerprint and not overwrite:
            return {int(k): v for k, v in journal.get("parts", {}).items()}
        exists = self.complete() or journal is not None or self._has_foreign_files()
        if exists and not overwrite:
            what = "a different job's unfinished output" if journal else "output"
            raise ConflictError(
                f"{self.uri} already holds {what}",
                hint="pass overwrite=True (--overwrite) to replace it, or choose another output",
            )
        self.discard()
        self.fs.makedirs(self.staging, exist_ok=True)
        self._write_journal({"job": fingerprint, "parts": {}})
        return {}

    def _has_foreign_files(self) -> bool:
        return bool(self.fs.exists(self.staging) and self.fs.ls(self.staging, detail=False))

    def _read_journal(self) -> dict[str, Any] | None:
        try:
            with self.fs.open(self.journal_path, "rb") as handle:
                return dict(json.loads(handle.read()))
        except (FileNotFoundError, ValueError):
            return None

    def _write_journal(self, journal: dict[str, Any]) -> None:
        _atomic_write(self.fs, self.journal_path, json.dumps(journal, indent=1).encode())

    def commit(self, done: dict[int, dict[str, int]], fingerprint: dict[str, Any]) -> None:
        """Record finished parts (called after their files are in place)."""
        self._write_journal(
            {"job": fingerprint, "parts": {str(k): v for k, v in sorted(done.items())}}
        )

    # -- writing parts ----------------------------------------------------------------------

    @contextlib.contextmanager
    def part_writer(self, index: int) -> Iterator[PartWriter]:
        """Write part ``index``; it appears under its name only once fully written."""
        path = self.part_path(index)
        writer = PartWriter(self.fs, f"{path}.tmp", self.format)
        try:
            yield writer
            writer.close()
        except BaseException:
            writer.abort()
            raise
        self.fs.mv(f"{path}.tmp", path)

    def write_rejects(self, index: int, rejected: pd.DataFrame) -> None:
        path = self.reject_part_path(index)
        if rejected.empty:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(path)
            return
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        _atomic_write(self.fs, path, _jsonl(rejected))

    # -- finishing ----------------------------------------------------------------------------

    def finalize(self, parts: list[str], reject_parts: list[str], summary: dict[str, Any]) -> None:
        """Make the output final: merge or mark it complete; collect rejects."""
        if reject_parts:
            _concat(self.fs, reject_parts, self.rejects_path, skip_header=False)
        else:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(self.rejects_path)
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(f"{self.staging}/_rejects", recursive=True)
        if self.is_file:
            tmp = f"{self.path}.tmp"
            try:
                if self.format == "parquet":
                    _merge_parquet(self.fs, parts, tmp)
                else:
                    _concat(self.fs, parts, tmp, skip_header=self.format == "csv")
            except BaseException:
                _remove(self.fs, tmp)  # a half-merged file is nobody's output
                raise
            self.fs.mv(tmp, self.path)
            self.fs.rm(self.staging, recursive=True)
        else:
            _atomic_write(self.fs, f"{self.path}/{SUCCESS}", json.dumps(summary).encode())

    def check_directory(self) -> None:
        """Refuse an output whose directory does not exist, naming it.

        Creating it would turn a typo in the path into a job that runs for an hour and
        writes somewhere nobody looks. Object stores have no directories to check.
        """
        if "file" not in _protocols(self.fs):
            return
        parent = self.path.rstrip("/").rsplit("/", 1)[0] if "/" in self.path else "."
        if parent and not self.fs.isdir(parent):
            raise InvalidArgument(
                f"the output's directory {parent} does not exist",
                hint=f"create it first (mkdir -p {parent}) or choose another output path",
            )

    def discard(self) -> None:
        """Remove everything a job writes here (fresh start, or input that cannot be read)."""
        targets = [self.staging, self.rejects_path]
        if self.is_file:
            targets.append(self.path)
        for target in targets:
            with contextlib.suppress(FileNotFoundError):
                if self.fs.exists(target):
                    self.fs.rm(target, recursive=True)

    def finished_parts(self) -> list[str]:
        suffix = f".{_SUFFIX[self.format]}"
        names = self.fs.ls(self.staging, detail=False)
        return sorted(
            n for n in names if n.rsplit("/", 1)[-1].startswith("part-") and n.endswith(suffix)
        )

    def finished_reject_parts(self) -> list[str]:
        folder = f"{self.staging}/_rejects"
        if not self.fs.exists(folder):
            return []
        return sorted(n for n in self.fs.ls(folder, detail=False) if n.endswith(".jsonl"))


class PartWriter:
    """Appends DataFrames to one Parquet, CSV or JSON Lines file."""

    def __init__(self, fs: Any, path: str, fmt: str) -> None:
        self.fs = fs
        self.path = path
        self.format = fmt
        self.rows = 0
        self._handle = fs.open(path, "wb")
        self._writer: Any = None
        self._schema: pa.Schema | None = None

    def write(self, frame: pd.DataFrame) -> None:
        self.rows += len(frame)
        if self.format == "json":
            self._handle.write(_jsonl(frame))
            return
        table = pa.Table.from_pandas(frame, preserve_index=False, schema=self._schema)
        if self._writer is None:
            self._schema = table.schema.remove_metadata()
            table = table.replace_schema_metadata(None)
            if self.format == "parquet":
                self._writer = pq.ParquetWriter(self._handle, self._schema)
            else:
                self._writer = pacsv.CSVWriter(self._handle, self._schema)
        self._writer.write_table(table.replace_schema_metadata(None))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._handle.close()

    def abort(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        with contextlib.suppress(Exception):
            self._handle.close()
        with contextlib.suppress(Exception):
            self.fs.rm(self.path)


def _jsonl(frame: pd.DataFrame) -> bytes:
    if frame.empty:
        return b""
    text = frame.to_json(orient="records", lines=True, date_format="iso")
    return (text if text.endswith("\n") else text + "\n").encode()


def _atomic_write(fs: Any, path: str, data: bytes) -> None:
    with fs.open(f"{path}.tmp", "wb") as handle:
        handle.write(data)
    fs.mv(f"{path}.tmp", path)


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _remove(fs: Any, path: str) -> None:
    with contextlib.suppress(FileNotFoundError, OSError):
        if fs.exists(path):
            fs.rm(path, recursive=True)


def _concat(fs: Any, sources: list[str], target: str, *, skip_header: bool) -> None:
    """Byte-concatenate text parts (CSV parts each carry a header; keep the first)."""
    try:
        with fs.open(f"{target}.tmp", "wb") as out:
            for i, source in enumerate(sources):
                with fs.open(source, "rb") as handle:
                    if skip_header and i:
                        handle.readline()
                    while chunk := handle.read(1 << 22):
                        out.write(chunk)
    except BaseException:
        _remove(fs, f"{target}.tmp")
        raise
    fs.mv(f"{target}.tmp", target)


def _merge_parquet(fs: Any, sources: list[str], target: str) -> None:
    """Stream parts into one Parquet file, one row group at a time.

    The file's schema is the parts' schemas unified: a part without a value in a column
    (all its rows rejected, say) may have typed it null, and must not decide the type.
    """
    try:
        schemas = []
        for source in sources:
            with fs.open(source, "rb") as handle:
                schemas.append(pq.ParquetFile(handle).schema_arrow.remove_metadata())
        schema = pa.unify_schemas(schemas, promote_options="permissive") if schemas else None
        with fs.open(target, "wb") as out:
            if schema is None:  # no parts at all: still a valid Parquet file
                pq.write_table(pa.table({}), out)
                return
            with pq.ParquetWriter(out, schema) as writer:
                for source in sources:
                    with fs.open(source, "rb") as handle:
                        part = pq.ParquetFile(handle)
                        for group in range(part.num_row_groups):
                            table = part.read_row_group(group).replace_schema_metadata(None)
                            writer.write_table(table.cast(schema))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot merge the output parts: {exc}", hint="rerun the job") from exc
