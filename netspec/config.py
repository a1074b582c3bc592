"""The strict base model of layer arguments and data-source options: strict about unknown
keys and types, immutable, YAML lists taken as tuples; the spec loader's diagnostics
(did-you-mean over every alias) read it. The spec's sections have their own base with the
same rules (``netspec.spec.sections.Strict``), and their diagnostics name fields only."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, model_validator


class StrictConfig(BaseModel):
    """Strict about unknown fields and types, immutable.

    Strict types: `units: true` or `units: "10"` is a mistake to report, not a 1 or a 10.
    YAML lists arrive as lists and are taken as tuples.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, strict=True, allow_inf_nan=False
    )

    @model_validator(mode="before")
    @classmethod
    def _lists_as_tuples(cls, value: Any) -> Any:
        return lists_as_tuples(value)


def lists_as_tuples(value: Any) -> Any:
    """Top-level list values of a mapping become tuples (strict mode wants tuples)."""
    if isinstance(value, dict):
        return {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
    return value


def field_names(config: type[BaseModel]) -> dict[str, str]:
    """Every accepted spelling of every field, mapped to the field name."""
    names: dict[str, str] = {}
    for fname, finfo in config.model_fields.items():
        names[fname] = fname
        alias = finfo.validation_alias
        if isinstance(alias, AliasChoices):
            for choice in alias.choices:
                if isinstance(choice, str):
                    names[choice] = fname
        elif isinstance(alias, str):
            names[alias] = fname
        if finfo.alias:
            names[finfo.alias] = fname
    return names
