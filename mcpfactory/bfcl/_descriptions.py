"""BFCL's wording of the tools, as its harness shows them to a function-calling model, for `harness.descriptions`.

BFCL describes each function with its doc's description plus a note on the
language the functions are written in (added by `bfcl_eval.utils` for every
multi-turn category), and each parameter with its doc's description. Both
are read from the installed package and written to a file that
`mcpfactory rollout --tool-descriptions FILE` applies; the environments keep
their own descriptions otherwise.
"""

from __future__ import annotations

import copy
import importlib
from typing import Any

from ._errors import BFCLError
from ._source import CLASS_ENVS, BFCLSource

__all__ = ["tool_descriptions"]


def tool_descriptions(source: BFCLSource | None = None) -> dict[str, dict[str, Any]]:
    """`{tool: {"description": ..., "parameters": {name: description}}}` for every tool of the eight classes.

    Raises `BFCLError` when bfcl-eval's preprocessing cannot be imported or a
    function doc lacks the fields it needs.
    """
    source = source or BFCLSource()
    try:
        utils = importlib.import_module("bfcl_eval.utils")
        preprocess = utils._func_doc_language_specific_pre_processing
    except (ImportError, AttributeError) as exc:
        raise BFCLError(f"cannot use bfcl_eval.utils to word the function docs as BFCL does: {exc}") from None
    texts: dict[str, dict[str, Any]] = {}
    for cls in CLASS_ENVS:
        for doc in preprocess(copy.deepcopy(source.function_docs(cls)), "multi_turn_base"):
            properties = (doc.get("parameters") or {}).get("properties") or {}
            if not isinstance(properties, dict):
                raise BFCLError("parameters.properties is not an object", where=f"{cls}.{doc['name']}")
            texts[doc["name"]] = {
                "description": doc["description"],
                "parameters": {
                    name: prop["description"]
                    for name, prop in properties.items()
                    if isinstance(prop, dict) and isinstance(prop.get("description"), str)
                },
            }
    return texts
