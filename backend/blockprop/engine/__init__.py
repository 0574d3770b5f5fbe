"""The Blockprop engine: graphs of blocks in plain NumPy, forward and backward.

>>> from blockprop.engine import compile_graph, validate, gradcheck, registry
"""

from . import registry
from .executor import Plan, compile_graph
from .gradcheck import gradcheck
from .graph import GraphError, Issue, ValidationResult, validate

__all__ = [
    "GraphError",
    "Issue",
    "Plan",
    "ValidationResult",
    "compile_graph",
    "gradcheck",
    "registry",
    "validate",
]
