"""The training config is declared once (engine TrainConfig and each field's Setting); the
API schemas, the CLI flags and the settings form's schema are generated from it and agree."""

import dataclasses
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from blockprop.api.openapi import openapi as build_openapi
from blockprop.api.schemas import RunUpdate, TrainConfig
from blockprop.cli import build_parser
from blockprop.cli.train import flag_of
from blockprop.engine.trainer import LIVE_SETTINGS
from blockprop.engine.trainer import TrainConfig as EngineConfig
from blockprop.engine.trainer.config import setting_fields

OPENAPI = build_openapi()  # built once: it creates an app


def openapi():
    return OPENAPI


FORM_SCHEMA = Path(__file__).resolve().parents[2] / "frontend/src/train/trainConfig.json"
FIELDS = setting_fields()


def test_the_api_schema_has_every_setting_with_its_default_and_doc():
    props = openapi()["components"]["schemas"]["TrainConfig"]["properties"]
    assert list(TrainConfig.model_fields) == [f.name for f in dataclasses.fields(EngineConfig)]
    for sf in FIELDS:
        assert props[sf.name]["description"] == sf.meta.doc
        assert props[sf.name].get("default") == sf.default
        assert props[sf.name]["x-live"] is sf.meta.live
    assert TrainConfig().model_dump() == EngineConfig().to_dict()


def test_run_update_has_exactly_the_live_settings():
    schema = openapi()["components"]["schemas"]["RunUpdate"]
    assert set(schema["properties"]) == set(RunUpdate.model_fields) == set(LIVE_SETTINGS)
    assert set(LIVE_SETTINGS) == {"lr", "momentum", "l1", "l1_start", "l2", "l2_start",
                                  "eval_every", "speed"}  # fmt: skip


def test_every_setting_with_a_flag_is_in_the_cli_help():
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    text = train.format_help()
    for sf in FIELDS:
        if sf.meta.flag is None:
            continue
        assert flag_of(sf) in text, sf.name
        assert sf.meta.doc.split(";")[0][:30] in " ".join(text.split()), sf.name


def test_the_forms_schema_is_the_api_schema():
    committed = json.loads(FORM_SCHEMA.read_text(encoding="utf-8"))
    current = json.loads(json.dumps(openapi()["components"]["schemas"]["TrainConfig"]))
    assert committed == current, (
        "frontend/src/train/trainConfig.json is stale: run `.venv/bin/python -m "
        "blockprop.api.openapi --train-config > frontend/src/train/trainConfig.json`"
    )


def _just_outside(sf):
    m = sf.meta
    for bound, step in ((m.ge, -1), (m.gt, 0), (m.le, 1), (m.lt, 0)):
        if bound is not None:
            v = bound + step * (1 if sf.type is int else 1e-3)
            return int(v) if sf.type is int else float(v)
    return None


@pytest.mark.parametrize(
    "sf", [f for f in FIELDS if _just_outside(f) is not None], ids=lambda f: f.name
)
def test_engine_and_api_refuse_the_same_out_of_bounds_values(sf):
    bad = _just_outside(sf)
    with pytest.raises(ValueError, match=sf.name):
        EngineConfig(**{sf.name: bad})
    with pytest.raises(ValidationError):
        TrainConfig(**{sf.name: bad})
    if sf.default is not None:  # and the default passes both
        assert getattr(TrainConfig(**{sf.name: sf.default}), sf.name) == sf.default
        assert getattr(EngineConfig(**{sf.name: sf.default}), sf.name) == sf.default
