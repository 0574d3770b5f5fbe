"""The training config on the wire, generated from its one declaration
(`blockprop.engine.trainer.config.TrainConfig` and each field's `Setting`): `TrainConfig`
(`RunCreate.train`, a graph document's `train`) and `RunUpdate` (the live settings).

Each property of the `TrainConfig` schema carries the form's metadata as OpenAPI extensions:
`x-live` (may change while a run trains), `x-group`, `x-when` ({setting: [values]}: applies
only then), `x-step`, `x-form` (false: not offered by the form), `x-form-default`, `x-order`.
The dock's settings form is built from this schema (`frontend/src/train/trainConfig.json`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, create_model

from blockprop.api.schemas.common import Request
from blockprop.engine.trainer.config import SettingField, setting_fields


def _extra(sf: SettingField) -> dict[str, Any]:
    m = sf.meta
    extra: dict[str, Any] = {"x-live": m.live, "x-group": m.group, "x-form": m.form}
    extra["x-order"] = _ORDER[sf.name]  # JSON objects have no order once keys are sorted
    if m.when is not None:
        extra["x-when"] = {m.when[0]: list(m.when[1])}
    if m.step is not None:
        extra["x-step"] = m.step
    if m.form_default is not None:
        extra["x-form-default"] = m.form_default
    return extra


_ORDER = {sf.name: i for i, sf in enumerate(setting_fields())}


def _annotation(sf: SettingField) -> Any:
    from typing import Literal

    base: Any = sf.type
    if sf.meta.choices is not None:
        base = Literal[sf.meta.choices]
    return base | None if sf.nullable else base


def _field(sf: SettingField, *, optional: bool) -> tuple[Any, Any]:
    m = sf.meta
    bounds = {k: getattr(m, k) for k in ("ge", "gt", "le", "lt") if getattr(m, k) is not None}
    if sf.type is int:
        bounds = {k: int(v) for k, v in bounds.items()}
    if sf.type is str and m.choices is None:
        bounds = {"min_length": 1, "max_length": 64}  # a node id
    annotation = _annotation(sf)
    if optional and not sf.nullable:
        annotation = annotation | None
    return annotation, Field(
        default=None if optional else sf.default,
        title=m.label or sf.name,
        description=m.doc,
        json_schema_extra=_extra(sf),
        **bounds,
    )


TrainConfig = create_model(
    "TrainConfig",
    __base__=Request,
    __doc__="The training config: every setting with its type, bounds and default "
    "(left out: the default). Unknown settings are refused (422 `bad_config`).",
    **{sf.name: _field(sf, optional=False) for sf in setting_fields()},  # type: ignore[call-overload]
)

RunUpdate = create_model(
    "RunUpdate",
    __base__=Request,
    __doc__="Settings that can change while a run trains (`x-live` in TrainConfig); give "
    "at least one.",
    **{  # type: ignore[call-overload]
        sf.name: _field(sf, optional=True) for sf in setting_fields() if sf.meta.live
    },
)
