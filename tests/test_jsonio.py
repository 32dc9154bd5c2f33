"""jsonio.Document: validation, migrate-on-read, one-line errors, atomic save."""

import json
from typing import ClassVar

import pytest
from pydantic import ValidationError

from reprostack.core import jsonio
from reprostack.core.errors import ReprostackError


class Card(jsonio.Document):
    SCHEMA_VERSION: ClassVar[int] = 2
    name: str
    size_bytes: int

    @classmethod
    def migrate(cls, data, found):
        data["size_bytes"] = data.pop("size")  # schema 1 called it `size`
        return data


def test_save_then_load_round_trips_with_sorted_keys(tmp_path):
    path = tmp_path / "card.json"
    jsonio.save(path, Card(schema_version=2, name="a", size_bytes=3))
    assert path.read_text() == '{\n  "name": "a",\n  "schema_version": 2,\n  "size_bytes": 3\n}\n'
    assert jsonio.load(path, Card) == Card(schema_version=2, name="a", size_bytes=3)


def test_an_older_schema_is_migrated_on_read_not_rejected(tmp_path):
    path = tmp_path / "card.json"
    path.write_text(json.dumps({"schema_version": 1, "name": "a", "size": 3}))
    card = jsonio.load(path, Card)
    assert (card.schema_version, card.size_bytes) == (2, 3)


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"schema_version": 2, "name": "a", "size_bytes": "x"}', r"size_bytes: Input should be a valid integer"),
        ('{"schema_version": 2, "name": "a", "size_bytes": 1, "extra": 1}', r"extra: Extra inputs are not permitted"),
        ('{"schema_version": 3, "name": "a", "size_bytes": 1}', r"schema_version 3; this reprostack reads 1\.\.2"),
        ('{"schema_version": 2, "name": "a"', r"not valid JSON \(line 1"),
        ("[1]", r"must hold a JSON object"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_key(tmp_path, content, message):
    path = tmp_path / "card.json"
    path.write_text(content)
    with pytest.raises(ReprostackError, match=message) as info:
        jsonio.load(path, Card, what="card")
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_save_refuses_a_mutated_invalid_document_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "card.json"
    jsonio.save(path, Card(schema_version=2, name="a", size_bytes=3))
    card = Card.model_construct(schema_version=2, name="a", size_bytes="big")  # bypasses validation
    with pytest.raises(ValidationError, match="size_bytes"):
        jsonio.save(path, card)
    assert jsonio.load(path, Card).size_bytes == 3
