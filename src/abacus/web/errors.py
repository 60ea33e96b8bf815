"""Errors a request can cause by itself (bad query parameters) — always a 400 naming the parameter."""

from __future__ import annotations


class BadParameter(Exception):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message
