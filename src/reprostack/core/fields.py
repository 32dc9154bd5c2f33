"""Constrained field types shared by params.yaml's sections and the JSON documents we own.

Each type carries the phrase a user reads when a value breaks it (`expect`), so a bad value is
one line naming the key and what it must be (config.validate and jsonio.explain render it).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, Strict, ValidationError, WrapValidator
from pydantic_core import PydanticCustomError

from reprostack.core import names


def expect(phrase: str) -> WrapValidator:
    """Replace pydantic's wording for a failed value by `phrase` (error type 'expected')."""

    def check(value: Any, handler):
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("expected", "must be {expected}", {"expected": phrase}) from None

    return WrapValidator(check)


def problem(message: str) -> PydanticCustomError:
    """A rule across keys, worded in full by the caller (error type 'params')."""
    return PydanticCustomError("params", message)


Text = Annotated[str, Strict(), Field(min_length=1, pattern=r"\S"), expect("a non-empty string")]
Flag = Annotated[bool, Strict(), expect("true or false")]
PositiveInt = Annotated[int, Strict(), Field(gt=0), expect("a positive integer")]
NonNegativeInt = Annotated[int, Strict(), Field(ge=0), expect("a non-negative integer")]
PositiveFloat = Annotated[float, Strict(), Field(gt=0), expect("a positive number")]
NonNegative = Annotated[float, Strict(), Field(ge=0), expect("a non-negative number")]
Fraction = Annotated[float, Strict(), Field(gt=0, lt=1), expect("a number between 0 and 1")]
ModelName = Annotated[
    str,
    Strict(),
    Field(pattern=names.MODEL_NAME_RE.pattern),
    expect("1-64 lowercase letters, digits, '-' or '_', starting and ending with a letter or digit"),
]
StringMap = Annotated[
    dict[str, Annotated[str, Strict()]], Strict(), expect("a mapping of strings to strings (quote numbers)")
]
Sha256 = Annotated[str, Strict(), Field(pattern=r"^[0-9a-f]{64}$"), expect("64 lowercase hex digits (a sha256)")]
