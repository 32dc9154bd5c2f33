"""The project's data hook: `data.preprocess: "<module>:<function>"` in conf/data/ names a
function that takes the dataset's TextTable and returns one (cleaned, filtered, relabelled).

A rendered project owns this code (src/<package>/data.py) while the library owns every stage,
so the library calls it wherever it reads the dataset's text table (the snapshot stage checks it,
the embed stage embeds what it returns). null: the table as read. The hook's result is checked
as strictly as the CSV itself, since a bad table would otherwise surface stages later.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from reprostack.core.errors import ConfigError
from reprostack.data.dataset import TextTable, read_text_table

Hook = Callable[[TextTable], TextTable]


def load(spec: str) -> Hook:
    """The function `spec` ("package.module:function") names, imported; ConfigError if not."""
    module_name, _, attr = spec.partition(":")
    fix = (
        "install the project's package into the environment (`make env`, i.e. `pip install --no-deps -e .`) "
        "or fix data.preprocess in conf/data/"
    )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # ModuleNotFoundError included
        raise ConfigError(f"data.preprocess {spec!r}: cannot import {module_name} ({exc}); {fix}") from None
    function = getattr(module, attr, None)
    if not callable(function):
        raise ConfigError(
            f"data.preprocess {spec!r}: {module_name} has no function {attr}; "
            f"define `def {attr}(table): return table` there or fix data.preprocess in conf/data/"
        )
    return function


def check(result: object, spec: str) -> TextTable:
    """The hook's result, if it is a table the pipeline can use; else one ConfigError line."""

    def wrong(what: str) -> ConfigError:
        return ConfigError(
            f"data.preprocess {spec!r} returned {what}; it must return a "
            "reprostack.data.TextTable(ids, texts, labels) of equal-length lists of strings, "
            "unique ids, non-empty texts and at least two labels (`return table` keeps it as read)"
        )

    if not isinstance(result, TextTable):
        raise wrong(f"a {type(result).__name__}")
    columns = (result.ids, result.texts, result.labels)
    if not all(isinstance(c, list) and all(isinstance(v, str) for v in c) for c in columns):
        raise wrong("columns that are not lists of strings")
    if len({len(c) for c in columns}) != 1:
        raise wrong(f"columns of different lengths ({', '.join(str(len(c)) for c in columns)})")
    if not result.ids:
        raise wrong("no rows")
    if len(set(result.ids)) != len(result.ids):
        raise wrong("duplicate ids")
    if not all(t.strip() for t in result.texts) or not all(i.strip() for i in result.ids):
        raise wrong("an empty id or text")
    if len(set(result.labels)) < 2:
        raise wrong("fewer than two labels")
    return result


def read_dataset(path: str | Path, data) -> TextTable:
    """The dataset's text table as the pipeline uses it: `path` read with the columns of `data`
    (params' data section), then passed through `data.preprocess` when one is set."""
    table = read_text_table(path, data.id_column, data.text_column, data.label_column)
    if data.preprocess is None:
        return table
    return check(load(data.preprocess)(table), data.preprocess)
