"""The YAML reference of `PortaBillingComponent`, generated from its models (docs/component.md).

`python -m connector.dagster_defs.reference` prints it; a test keeps the docs equal to it.
"""

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from connector.dagster_defs.component import (
    Connection,
    DateFilterSpec,
    PortaBillingComponent,
    Schedules,
    Table,
    Tuning,
)

# Where each model sits in a `defs.yaml`.
SECTIONS: dict[str, type[BaseModel]] = {
    "attributes": PortaBillingComponent,
    "attributes.connection": Connection,
    "attributes.tables[i]": Table,
    "attributes.tables[i].date_filter": DateFilterSpec,
    "attributes.tuning": Tuning,
    "attributes.schedules": Schedules,
}
SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def yaml_reference() -> str:
    """One Markdown table per section: attribute, YAML type, default, meaning."""
    return "\n\n".join(_section(title, model) for title, model in SECTIONS.items()) + "\n"


def _section(title: str, model: type[BaseModel]) -> str:
    yaml_fields = model.model().model_fields  # type: ignore[attr-defined]
    rows = [
        f"| `{name}` | {_type(yaml_fields[name].annotation)} | {_default(field.default)} "
        f"| {field.description or ''} |"
        for name, field in model.model_fields.items()
    ]
    head = f"### `{model.__name__}`: `{title}`\n\n{(model.__doc__ or '').strip()}\n\n"
    return (
        head
        + "| attribute | type | default | meaning |\n| --- | --- | --- | --- |\n"
        + ("\n".join(rows))
    )


def _type(annotation: Any) -> str:
    """The YAML type; templated strings (`{{ ... }}`), allowed everywhere, go unsaid."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _type(args[0])
    if origin in (Union, types.UnionType):
        named = [_type(a) for a in args if a is not type(None)]
        kept = [n for n in named if n != "string"] or ["string"]
        return " or ".join(dict.fromkeys(kept))
    if origin in (list, tuple):
        return f"list of {_type(args[0])}"
    if origin is dict:
        return f"map of {_type(args[1])}"
    if origin is Literal:
        return " / ".join(f"`{value}`" for value in args)
    if annotation in SCALARS:
        return SCALARS[annotation]
    return f"`{annotation.__name__.removesuffix('Model')}`"


def _default(value: Any) -> str:
    if value is PydanticUndefined:
        return "required"
    if value is None or isinstance(value, BaseModel):
        return ""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`" if value not in ([], {}) else ""


if __name__ == "__main__":
    print(yaml_reference(), end="")
