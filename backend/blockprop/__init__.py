"""Blockprop: block-diagram computation graphs trained with backpropagation."""

__version__ = "0.1.0"
