"""Abacus: how a company's engineers use AI coding tools."""

__version__ = "0.1.0"
