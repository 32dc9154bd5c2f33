"""data.preprocess: the project's data hook, applied wherever the library reads the dataset."""

from __future__ import annotations

import textwrap

import pytest
from factories import write_csv

from reprostack.core.errors import ConfigError
from reprostack.core.params import DataParams
from reprostack.data import hook

ROWS = [("a", "Kick Off At Noon", "sports"), ("b", "Crème Brûlée", "cooking"), ("c", "drop me", "spam")]


def data_params(preprocess=None) -> DataParams:
    return DataParams(
        name="d",
        raw_dir="raw",
        file="t.csv",
        id_column="id",
        text_column="text",
        label_column="label",
        test_size=0.2,
        link="copy",
        preprocess=preprocess,
    )


@pytest.fixture
def hooks(tmp_path, monkeypatch):
    """A module of hooks on sys.path, as a project's installed package would be."""
    (tmp_path / "myhooks.py").write_text(
        textwrap.dedent("""
        from reprostack.data import TextTable

        def lower_and_drop_spam(table):
            keep = [i for i, label in enumerate(table.labels) if label != "spam"]
            return TextTable([table.ids[i] for i in keep], [table.texts[i].lower() for i in keep],
                             [table.labels[i] for i in keep])

        def returns_a_list(table):
            return list(table.texts)

        def one_label(table):
            return TextTable(table.ids, table.texts, ["x"] * len(table.ids))

        def duplicate_ids(table):
            return TextTable(["a"] * len(table.ids), table.texts, table.labels)
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return write_csv(tmp_path / "t.csv", ROWS)


def test_null_reads_the_table_as_it_is(hooks):
    table = hook.read_dataset(hooks, data_params())
    assert table.texts == [text for _, text, _ in ROWS]


def test_the_hook_transforms_the_table(hooks):
    table = hook.read_dataset(hooks, data_params("myhooks:lower_and_drop_spam"))
    assert table.ids == ["a", "b"] and table.texts == ["kick off at noon", "crème brûlée"]


@pytest.mark.parametrize(
    "spec,phrase",
    [
        ("nosuchmodule_xyz:preprocess", "cannot import nosuchmodule_xyz"),
        ("myhooks:nothing_here", "myhooks has no function nothing_here"),
        ("myhooks:returns_a_list", "returned a list"),
        ("myhooks:one_label", "returned fewer than two labels"),
        ("myhooks:duplicate_ids", "returned duplicate ids"),
    ],
)
def test_a_bad_hook_is_one_config_error_naming_the_fix(hooks, spec, phrase):
    with pytest.raises(ConfigError) as err:
        hook.read_dataset(hooks, data_params(spec))
    message = str(err.value)
    assert message.startswith(f"data.preprocess {spec!r}: ") or message.startswith(f"data.preprocess {spec!r} ")
    assert phrase in message and "\n" not in message
    assert "conf/data/" in message or "return table" in message


@pytest.mark.parametrize("spec", ["my_project.data", "my project:f", "a:b:c", ":f", 3])
def test_a_malformed_spec_is_refused_by_the_params_schema(spec):
    from factories import REPO

    from reprostack.core import config

    raw = config.read_params_file(REPO / "params.yaml")
    raw["data"]["preprocess"] = spec
    with pytest.raises(ConfigError, match=r"data\.preprocess.*'<module>:<function>'"):
        config.validate(raw)


def test_this_repository_keeps_no_hook():
    from factories import REPO

    from reprostack.core import config

    assert config.load_params(REPO / "params.yaml").data.preprocess is None
