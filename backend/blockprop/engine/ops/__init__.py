"""Op declarations, one module per family. Each module holds a flat list ``OPS``.

Importing this package registers every op in :data:`blockprop.engine.registry.REGISTRY`.
To add an op, declare it in the family module where it belongs (with samples for the
tests): nothing else needs to change.
"""

from .. import registry
from . import activations, arith, costs, linear, marks, shape, variables

FAMILIES = (variables, linear, arith, activations, shape, costs, marks)

for _family in FAMILIES:
    for _op in _family.OPS:
        registry.REGISTRY.register(_op)
