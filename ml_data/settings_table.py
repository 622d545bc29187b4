"""Settings tables: a frozen dataclass whose fields say which environment variables they are read from.

Each field of a settings class is one row, written once: its name and type, the variables (the first
one set wins, so aliases follow the main name), the parser of their text, the default and a line
saying what it means. Reading the environment is then one loop over the rows (:func:`read_fields`),
and the list of variables a class depends on is derived (:func:`variable_names`), never kept by hand.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Example:
...     retries: int = setting("EXAMPLE_RETRIES", "EXAMPLE_TRIES", parse=int, default=3, doc="retries")
>>> Example(**read_fields(Example, {"EXAMPLE_TRIES": "5"})).retries, Example().retries
(5, 3)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, TypeVar, overload

from ml_data.errors import ConfigurationError


class InvalidValue(ConfigurationError):
    """A parser's refusal, saying what the value must be ("must be a number of seconds");
    :func:`read_fields` names the variable and the value it refused."""


_T = TypeVar("_T")
_SOURCE = "ml_data.setting"  # the key of a row's variables in its dataclass field's metadata


@dataclass(frozen=True)
class _Source:
    variables: tuple[str, ...]
    parse: Callable[[str], object]
    doc: str


@overload
def setting(*names: str, parse: Callable[[str], _T], default: _T, doc: str, secret: bool = False) -> _T: ...
@overload
def setting(
    *names: str, parse: Callable[[str], _T], factory: Callable[[], _T], doc: str, secret: bool = False
) -> _T: ...
def setting(
    *names: str,
    parse: Callable[[str], Any],
    doc: str,
    default: Any = MISSING,
    factory: Any = MISSING,
    secret: bool = False,
) -> Any:
    """One row of a settings table, written as a dataclass field: the environment variables it is
    read from (the first one set wins), the parser of their text, the default and what it means.

    ``secret`` keeps the value out of the repr. The default is written here only: a field whose
    variables are all unset is not passed to the class, so the dataclass default applies.
    """
    metadata = {_SOURCE: _Source(names, parse, doc)}
    if factory is MISSING:
        return field(default=default, repr=not secret, metadata=metadata)
    return field(default_factory=factory, repr=not secret, metadata=metadata)


@dataclass(frozen=True)
class Row:
    """A settings field as the environment sees it (see :func:`table`)."""

    #: the field's name
    name: str
    #: the environment variables it is read from, the first one set wins
    variables: tuple[str, ...]
    parse: Callable[[str], object]
    #: the value when no variable is set (a callable when the default is computed, e.g. the cache folder)
    default: object
    doc: str


@functools.cache
def table(cls: type) -> tuple[Row, ...]:
    """The rows of a settings class: its fields declared with :func:`setting`, in order."""
    rows = []
    for item in fields(cls):
        source = item.metadata.get(_SOURCE)
        if isinstance(source, _Source):
            default = item.default if item.default is not MISSING else item.default_factory
            rows.append(Row(item.name, source.variables, source.parse, default, source.doc))
    return tuple(rows)


def variable_names(cls: type) -> tuple[str, ...]:
    """Every variable the table of ``cls`` reads, in row order."""
    return tuple(name for row in table(cls) for name in row.variables)


def read_fields(cls: type, environ: Mapping[str, str]) -> dict[str, Any]:
    """The fields of the settings class ``cls`` whose variables are set in ``environ``, parsed.

    In each row the first variable set to a non-empty value wins: an empty one counts as unset
    (a compose file passes an optional variable through as ``FOO: ${FOO:-}``). Fields left out keep
    the class's default. A value a parser refuses is a ConfigurationError naming the variable.
    """
    values: dict[str, Any] = {}
    for row in table(cls):
        for name in row.variables:
            text = environ.get(name)
            if text:
                try:
                    values[row.name] = row.parse(text)
                except InvalidValue as exc:
                    raise ConfigurationError(f"{name} {exc}, got {text!r}") from None
                except ConfigurationError as exc:
                    if name in exc.message:
                        raise
                    # parse_size, parse_duration and the like do not know which variable they read
                    raise ConfigurationError(f"{name}: {exc.message}") from None
                break
    return values
