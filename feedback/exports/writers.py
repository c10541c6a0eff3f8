"""File writers of the exports: CSV in chunks, XLSX row by row (xlsxwriter), Parquet, Stata, JSON.

Every writer takes a table and a binary file object opened for writing and never holds the
whole file in memory (Stata and JSON excepted: their tables are small). ``progress``, when
given, is called as ``progress(rows_done, rows_total)`` once per chunk and last with
``rows_done == rows_total``.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

__all__ = [
    "CHUNK_ROWS",
    "MIMETYPES",
    "XLSX_MAX_ROWS",
    "Progress",
    "write_csv",
    "write_dta",
    "write_json",
    "write_parquet",
    "write_xlsx",
]

#: ``progress(rows_done, rows_total)``, or None.
Progress = Callable[[int, int], None] | None
#: Rows per chunk: CSV text, Parquet row group, progress step.
CHUNK_ROWS = 20_000
#: Data rows an XLSX sheet holds below its header row (Excel: 1,048,576 rows in all).
XLSX_MAX_ROWS = 1_048_575
MIMETYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    "dta": "application/x-stata-dta",
    "parquet": "application/vnd.apache.parquet",
}


def _report(progress: Progress, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def write_csv(table: pd.DataFrame, out: BinaryIO, *, progress: Progress = None) -> None:
    """UTF-8 CSV with a byte-order mark (so Excel shows Vietnamese right), written chunk by chunk.

    Tables of text, categorical, integer and date columns (the response export) are written
    from per-column field texts, each distinct value quoted once by the csv module as
    ``DataFrame.to_csv`` would quote it; tables with floats or timestamps go through pandas.
    """
    out.write(codecs.BOM_UTF8)
    total = len(table)
    out.write(table.iloc[:0].to_csv(index=False, lineterminator="\n").encode("utf-8"))
    fields = _csv_fields(table) if len(table.columns) > 1 else None
    for start in range(0, total, CHUNK_ROWS):
        if fields is None:
            chunk = table.iloc[start : start + CHUNK_ROWS]
            text = chunk.to_csv(index=False, header=False, lineterminator="\n")
        else:
            rows = zip(*(f[start : start + CHUNK_ROWS] for f in fields), strict=False)
            text = "\n".join(map(",".join, rows)) + "\n"
        out.write(text.encode("utf-8"))
        _report(progress, min(start + CHUNK_ROWS, total), total)
    if total == 0:
        _report(progress, 0, 0)


def _csv_quoted(values: list[Any]) -> list[str]:
    """Each value as one CSV field, quoted as ``csv.writer`` (and so ``to_csv``) quotes it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    quoted = []
    for value in values:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([value, ""])  # a second field: a lone empty field would be written as ""
        quoted.append(buffer.getvalue()[:-2])
    return quoted


def _csv_fields(table: pd.DataFrame) -> list[np.ndarray] | None:
    """Per column, an object array of its CSV field texts; None if a column needs pandas' formatting."""
    fields = []
    for name in table.columns:
        column = table[name]
        dtype = column.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            codes, labels = column.cat.codes.to_numpy(), list(column.cat.categories)
        elif pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_extension_array_dtype(dtype):
            fields.append(column.to_numpy().astype(str).astype(object))
            continue
        elif (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)) and pd.api.types.infer_dtype(
            column, skipna=True
        ) in ("string", "date", "empty"):
            codes, uniques = pd.factorize(column, use_na_sentinel=True)
            labels = list(uniques)
        else:
            return None
        # ``to_csv`` writes missing as "" and other values as str(value), quoted when needed.
        texts = np.array(_csv_quoted([v if isinstance(v, str) else str(v) for v in labels]) + [""], dtype=object)
        fields.append(texts[codes])
    return fields


def _cells(column: pd.Series) -> list[Any]:
    """A column as plain Python values, missing ones (NaN, NA, None) as None."""
    return column.astype(object).where(column.notna(), None).tolist()


def _sheet_rows(book: Any, sheet: Any, table: pd.DataFrame, progress: Progress) -> None:
    """Write a table's header (bold, frozen) and rows in order; the cells' writers chosen per column."""
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, [str(c) for c in table.columns], bold)
    sheet.freeze_panes(1, 0)
    writers = []
    for index, name in enumerate(table.columns):
        dtype = table[name].dtype
        if isinstance(dtype, pd.CategoricalDtype) and pd.api.types.infer_dtype(dtype.categories) in ("string", "empty"):
            write = sheet.write_string
        elif pd.api.types.is_bool_dtype(dtype):
            write = sheet.write_boolean
        elif pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
            write = sheet.write_number
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            write = sheet.write_datetime
        elif pd.api.types.infer_dtype(table[name], skipna=True) in ("string", "empty"):
            write = sheet.write_string  # skips xlsxwriter's per-value type dispatch
        else:  # Python objects (dates, mixed): xlsxwriter picks per value
            write = sheet.write
        writers.append((index, _cells(table[name]), write))
    # constant_memory writes each row when the next begins: rows strictly in order, cells of a
    # row any order; missing cells are simply not written.
    for r in range(len(table)):
        row = r + 1
        for index, values, write in writers:
            value = values[r]
            if value is not None:
                write(row, index, value)
        if row % CHUNK_ROWS == 0:
            _report(progress, row, len(table))


def write_xlsx(
    sheets: list[tuple[str, pd.DataFrame | list[list[Any]]]], out: BinaryIO, *, progress: Progress = None
) -> None:
    """A workbook with one sheet per (title, table or list of rows), through xlsxwriter.

    xlsxwriter's ``constant_memory`` mode keeps one row in memory, so rows are written here
    one by one in order (``DataFrame.to_excel`` with that mode silently drops cells:
    ../shared/docs/traps.md). Strings are never turned into formulas, numbers or links.
    Progress counts the rows of the first table, the data: not those of the sheets after it
    (a codebook, notes), so that it says the same as the CSV or Parquet file of the same data.

    Raises
    ------
    ValueError
        When a table has more rows than a sheet holds (:data:`XLSX_MAX_ROWS`).
    """
    import xlsxwriter

    tables = [c for _, c in sheets if isinstance(c, pd.DataFrame)]
    for table in tables:
        if len(table) > XLSX_MAX_ROWS:
            raise ValueError(
                f"an XLSX sheet holds at most {XLSX_MAX_ROWS:,} rows, this table has {len(table):,}; use CSV or Parquet"
            )
    data = tables[0] if tables else None
    total = 0 if data is None else len(data)
    book = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
            "default_date_format": "yyyy-mm-dd",
        },
    )
    for title, content in sheets:
        sheet = book.add_worksheet(title)
        if isinstance(content, pd.DataFrame):
            _sheet_rows(book, sheet, content, progress if content is data else None)
        else:
            bold = book.add_format({"bold": True})
            for r, row in enumerate(content):
                for c, value in enumerate(row):
                    value = _plain(value)
                    if value is not None:
                        sheet.write(r, c, value, bold if (r, c) == (0, 0) else None)
    book.close()
    _report(progress, total, total)


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _arrow_column(column: pd.Series, kind: str | None = None):
    """A column as an Arrow array: categoricals and text as plain strings, dates as date32.

    ``kind`` ``"dictionary"`` keeps a categorical's categories as an Arrow dictionary (read
    back as a categorical); ``"integer"`` turns a categorical of integer texts into int64,
    or leaves it a dictionary if a category is not an integer.
    """
    import pyarrow as pa

    if kind is not None and isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        missing = codes < 0
        categories = column.cat.categories.astype(object)
        if kind == "integer":
            numbers = pd.to_numeric(pd.Series(categories, dtype=object), errors="coerce")
            texts = pd.Series(categories, dtype=object)
            if numbers.notna().all() and (numbers.astype("int64").astype(str) == texts).all():
                values = np.append(numbers.to_numpy(dtype=np.int64), 0)[codes]  # codes -1: masked
                return pa.array(values, type=pa.int64(), mask=missing)
        indices = pa.array(codes.astype(np.int32), type=pa.int32(), mask=missing)
        return pa.DictionaryArray.from_arrays(indices, pa.array(list(categories), type=pa.string()))
    if isinstance(column.dtype, pd.CategoricalDtype):
        return pa.array(column, from_pandas=True).cast(pa.string())
    if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
        array = pa.array(column, from_pandas=True)  # pandas' str columns come as large_string
        return array.cast(pa.string()) if array.type in (pa.null(), pa.large_string()) else array
    return pa.array(column, from_pandas=True)


def write_parquet(
    table: pd.DataFrame,
    out: BinaryIO,
    *,
    progress: Progress = None,
    metadata: dict[str, str] | None = None,
    kinds: dict[str, str] | None = None,
) -> None:
    """Parquet (zstd) in row groups of :data:`CHUNK_ROWS`; codes such as ``02647`` stay text.

    ``metadata`` is stored as key/value metadata of the file (e.g. the period, the method);
    ``kinds`` maps categorical columns to ``"dictionary"`` or ``"integer"`` (see :func:`_arrow_column`).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    kinds = kinds or {}
    arrow = pa.table({str(name): _arrow_column(table[name], kinds.get(name)) for name in table.columns})
    if metadata:
        arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), **metadata})
    total = len(arrow)
    with pq.ParquetWriter(out, arrow.schema, compression="zstd") as writer:
        for start in range(0, total, CHUNK_ROWS):
            writer.write_table(arrow.slice(start, CHUNK_ROWS))
            _report(progress, min(start + CHUNK_ROWS, total), total)
        if total == 0:
            writer.write_table(arrow)
    if total == 0:
        _report(progress, 0, 0)


def write_dta(
    table: pd.DataFrame,
    out: BinaryIO,
    *,
    labels: dict[str, str],
    value_labels: dict | None = None,
    title: str = "",
    progress: Progress = None,
) -> None:
    """Stata 14+ (.dta 118, Unicode) with variable labels (≤ 80 characters)."""
    frame = table.copy()
    dates = {}
    for column in frame.columns:
        dtype = frame[column].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            dates[column] = "td"
        elif pd.api.types.is_bool_dtype(dtype):
            frame[column] = frame[column].astype("int8")
        elif (
            pd.api.types.is_object_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)
            or pd.api.types.is_string_dtype(dtype)
        ):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), "").astype(str).astype(object)
    buffer = io.BytesIO()
    frame.to_stata(
        buffer,
        write_index=False,
        version=118,
        data_label=title[:80],
        convert_dates=dates or None,
        variable_labels={c: text[:80] for c, text in labels.items() if c in frame.columns},
        value_labels=value_labels,
    )
    out.write(buffer.getbuffer())
    _report(progress, len(table), len(table))


def write_json(document: dict[str, Any], out: BinaryIO, *, rows: int, progress: Progress = None) -> None:
    """A JSON document (UTF-8, Vietnamese unescaped)."""
    out.write(json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8"))
    _report(progress, rows, rows)
