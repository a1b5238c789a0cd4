"""The verifiers taskset plugin of mcpfactory, under the flat module name verifiers' loader imports.

verifiers resolves a taskset id to a top-level module (`--env.taskset.id
mcpfactory-verifiers`); the taskset itself lives in `harness.adapters.verifiers`.
"""

from harness.adapters.verifiers import MCPFactoryTaskset, load_environment

__all__ = ["MCPFactoryTaskset", "load_environment"]
