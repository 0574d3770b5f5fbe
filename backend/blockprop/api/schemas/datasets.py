"""Datasets: the built-in catalogue, a preview sample, and CSV uploads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from blockprop.api.schemas.common import Reply, Request


class DatasetParam(Reply):
    name: str
    type: Literal["int", "float"]
    default: float | int | None = None
    min: float | None = None
    max: float | None = None
    doc: str = ""


class DatasetInfo(Reply):
    name: str
    title: str
    task: Literal["classification", "regression"]
    features: int
    classes: int | None = None
    params: dict[str, Any] = Field(default_factory=dict, description="parameter defaults")
    param_spec: list[DatasetParam] = Field(default_factory=list)
    description: str = ""
    input_shape: list[int] = Field(default_factory=list, description="per-sample shape of x")
    source: str | None = None


class Normalization(Reply):
    active: bool
    mean: list[float]
    std: list[float]


class DatasetSample(Reply):
    """A preview of a dataset as the model sees it (inputs normalised)."""

    name: str
    title: str = ""
    task: Literal["classification", "regression"]
    features: int
    input_shape: list[int] = Field(default_factory=list)
    classes: int | None = None
    class_names: list[str] | None = None
    outputs: int = 1
    feature_names: list[str] = Field(default_factory=list)
    target_names: list[str] | None = None
    n_train: int
    n_test: int
    normalizer: Normalization | None = None
    info: dict[str, Any] = Field(default_factory=dict)
    x: list[list[float]]
    y: list[Any] = Field(description="class labels (int) or targets (float, or a list each)")
    split: list[Literal["train", "test"]]


class DatasetUpload(Request):
    name: str = Field(default="upload", max_length=200)
    csv: str = Field(description="the CSV text; the first line may be a header")
    target: str | int | None = Field(
        default=None, description="target column name or index (default: the last column)"
    )
    task: Literal["classification", "regression"] | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "my data", "csv": "a,b,label\n0.1,0.2,0\n0.5,0.1,1\n"}]
        }
    )


class DatasetCreated(Reply):
    id: str = Field(description="use it as a dataset name in runs and GET /api/datasets/{name}")
    name: str
    task: str
    features: int
    classes: int | None = None
    rows: int


class DatasetSpec(BaseModel):
    """Which data to train on: a built-in dataset or an upload id, with its parameters.

    Besides the fields below, the dataset's own parameters (listed by GET /api/datasets,
    e.g. `turns` for spiral, `classes` for blobs) may be given as numbers; the dataset
    refuses ones it does not have. This is the `dataset` object of the examples as is.
    """

    model_config = ConfigDict(
        extra="allow",
        strict=True,  # as Request: exactly the JSON types the schema says
        json_schema_extra={"examples": [{"name": "spiral", "n": 400, "noise": 0.05}]},
    )

    name: str = Field(max_length=100, examples=["spiral"])
    n: int | None = Field(default=None, ge=2)
    noise: float | None = Field(default=None, ge=0)
    seed: int = Field(default=0, ge=0)
    test_fraction: float = Field(default=0.2, ge=0, lt=1)
    normalize: bool = True

    @model_validator(mode="after")
    def _numeric_extras(self) -> DatasetSpec:
        for key, value in (self.model_extra or {}).items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"dataset parameter {key!r} must be a number")
        return self


class InputNormalization(Request):
    """How a run normalised an input's feed: `(x - mean) / std` per feature (flattened), with
    training-split statistics."""

    mean: list[float]
    std: list[float]
