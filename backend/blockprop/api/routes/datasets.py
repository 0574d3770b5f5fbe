"""Datasets: the built-in ones, a sample of one, and CSV uploads (stored in the database)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from blockprop.api.deps import SettingsDep, StoreDep
from blockprop.api.errors import ApiError
from blockprop.api.schemas import (
    DatasetCreated,
    DatasetInfo,
    DatasetSample,
    DatasetUpload,
    errors,
)
from blockprop.api.schemas.common import INT64_MAX, LOCATION, locate
from blockprop.service.errors import from_data_error
from blockprop.service.runs import UPLOAD_PREFIX
from blockprop.service.tokens import new_id

router = APIRouter(tags=["datasets"])

_RESERVED = {"n", "noise", "seed", "limit", "test_fraction", "normalize", "token"}


@router.get("/datasets", response_model=list[DatasetInfo])
def list_datasets() -> list[dict[str, Any]]:
    """The built-in datasets: name, title, task, features, classes, parameters."""
    from blockprop.engine.data import list_datasets as _list

    return _list()


@router.get(
    "/datasets/{name}",
    response_model=DatasetSample,
    responses=errors(404, 422),
)
def sample_dataset(
    name: str,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    n: int | None = Query(
        None, ge=2, le=INT64_MAX, description="samples to generate (train + test)"
    ),
    noise: float | None = Query(None, ge=0),
    seed: int = Query(0, ge=0, le=INT64_MAX),
    test_fraction: float = Query(0.2, ge=0, lt=1),
    normalize: bool = True,
    limit: int = Query(
        500, ge=1, le=INT64_MAX, description="rows returned at most (capped by the server)"
    ),
) -> dict[str, Any]:
    """A sample of a dataset as the model sees it (normalised): rows `x`, labels or targets
    `y` and the `split` of each row. Other query parameters are the dataset's own (e.g.
    `turns` for spiral). `name` may also be the id of an uploaded dataset."""
    from blockprop.engine.data import DataError, load_csv, load_dataset

    extra: dict[str, float] = {}
    for key, value in request.query_params.items():
        if key in _RESERVED:
            continue
        try:
            extra[key] = float(value) if not value.lstrip("-").isdigit() else int(value)
        except ValueError:
            message = f"dataset parameter {key!r} must be a number"
            raise ApiError(422, "bad_param", message) from None
    try:
        if name.startswith(UPLOAD_PREFIX):
            row = store.get_dataset(name)
            if row is None:
                raise ApiError(404, "not_found", f"no uploaded dataset {name!r}")
            ds = load_csv(
                row.csv,
                row.info.get("target"),
                task=row.info.get("task"),
                name=row.name,
                seed=seed,
                test_fraction=test_fraction,
                normalize=normalize,
                max_rows=settings.max_upload_rows,
            )
        else:
            ds = load_dataset(
                name,
                n=n,
                noise=noise,
                seed=seed,
                test_fraction=test_fraction,
                normalize=normalize,
                **extra,
            )
    except DataError as e:
        raise from_data_error(e, 404 if e.code == "unknown_dataset" else 422) from None
    out = ds.sample(min(limit, settings.max_sample))
    out["name"] = name
    return out


@router.post(
    "/datasets",
    status_code=201,
    response_model=DatasetCreated,
    responses={**errors(413, 415, 422), 201: {"headers": LOCATION}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/DatasetUpload"},
                },
                # the CSV file's bytes; sent as text/csv (or text/plain) it is taken alike.
                # Documented as octet-stream, which every client generator can send.
                "application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"},
                    "example": "a,b,label\n0.1,0.2,0\n0.5,0.1,1\n",
                },
            },
        }
    },
)
async def upload_dataset(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    response: Response,
    name: str | None = Query(None, max_length=200, description="with a text/csv body"),
    target: str | None = Query(None, description="with a text/csv body: the target column"),
    task: str | None = Query(None, description="with a text/csv body: force the task"),
) -> dict[str, Any]:
    """Upload a CSV (as `text/csv`, or JSON `{name, csv, target?, task?}`). It is checked
    (a non-numeric cell, a ragged row, a missing target or a NaN is named by row and column)
    and stored; the returned `id` works as a dataset name in runs and samples."""
    import asyncio

    body = await request.body()
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        try:
            upload = DatasetUpload.model_validate(orjson.loads(body))
        except orjson.JSONDecodeError:
            raise ApiError(422, "invalid_request", "the body is not valid JSON") from None
        except Exception as e:  # pydantic ValidationError
            first = e.errors()[0] if hasattr(e, "errors") else {}
            field = ".".join(str(p) for p in first.get("loc", ())) or "body"
            raise ApiError(422, "invalid_request", f"{field}: {first.get('msg', e)}") from None
        csv = upload.csv.encode()
        name_, target_, task_ = upload.name, upload.target, upload.task
    elif ctype in ("text/csv", "text/plain", "application/octet-stream", ""):
        csv, name_, target_, task_ = body, name or "upload", target, task
    else:
        raise ApiError(
            415, "unsupported_media_type", f"send the CSV as text/csv or JSON, not {ctype}"
        )
    if task_ not in (None, "classification", "regression"):
        raise ApiError(422, "bad_param", "task must be classification or regression")
    created = await asyncio.to_thread(_store_upload, store, settings, csv, name_, target_, task_)
    locate(response, f"/api/datasets/{created['id']}")
    return created


def _store_upload(store, settings, csv: bytes, name: str, target, task) -> dict[str, Any]:
    from blockprop.engine.data import DataError, load_csv

    if isinstance(target, str) and target.lstrip("-").isdigit():
        target = int(target)
    try:
        ds = load_csv(
            csv,
            target,
            task=task,
            name=name,
            max_bytes=settings.max_body_bytes,
            max_rows=settings.max_upload_rows,
        )
    except DataError as e:
        raise from_data_error(e) from None
    info = {
        "task": ds.task,
        "features": ds.n_features,
        "classes": ds.n_classes,
        "rows": ds.n_train + ds.n_test,
        "target": target,
    }
    dataset_id = UPLOAD_PREFIX + new_id()
    store.create_dataset(dataset_id, name, csv, None if target is None else str(target), info)
    return {"id": dataset_id, "name": name, **info}  # target is echoed as given
