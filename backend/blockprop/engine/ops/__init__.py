"""Op declarations, one module per family. Each module holds a flat list ``OPS``.

Importing this package registers every op in :data:`blockprop.engine.registry.REGISTRY`.
To add an op, declare it in the family module where it belongs (with samples for the
tests): nothing else needs to change.
"""

from .. import registry
from . import (
    activations,
    arith,
    conv,
    costs,
    embedding,
    layout,
    linear,
    marks,
    more_math,
    norm,
    pooling,
    shape,
    variables,
)

FAMILIES = (
    variables,
    linear,
    arith,
    more_math,
    activations,
    shape,
    layout,
    costs,
    marks,
    conv,
    pooling,
    norm,
    embedding,
)

for _family in FAMILIES:
    for _op in _family.OPS:
        registry.REGISTRY.register(_op)
