"""Fixtures for tests/external; the helpers live in node_clients.py (importable, unlike conftest)."""

from tests.external.node_clients import compiled_fixtures, node_tools

__all__ = ["compiled_fixtures", "node_tools"]
