"""Documents from the shared corpus of real API descriptions import, and the report accounts for each operation.

The corpus (1,035 documents crawled from SwaggerHub) lives beside the
checkout in ../shared/reference/openapi-corpus; `benchmarks/openapi_import.py`
measures the whole of it. Here a fixed handful of documents of different
shapes is imported.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from mcpfactory.openapi import Imported, import_openapi
from mcpfactory.openapi._document import METHODS, load
from tests.openapi.conftest import CORPUS

SAMPLE = [
    "0001_1DOC3-In-App-Webview-1.1.7-swagger.json",
    "0011_7657647645476578-Eurowing-1.0.0-swagger.json",
    "0047_Admedia9-admedia-api-1.0.0-oas3-swagger.json",
    "0083_Alanca-FoodTrans-1.0.0-swagger.json",
    "0203_avoka-SimpleCore-1-swagger.json",
]


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the OpenAPI corpus is not beside the checkout ({CORPUS} is missing)")
    return CORPUS


def _import(path: Path) -> Imported:
    async def run() -> Imported:
        with anyio.fail_after(300):
            return await import_openapi(path)

    return anyio.run(run)


@pytest.mark.parametrize("document", SAMPLE)
def test_a_corpus_document_imports_and_reports_each_of_its_operations(corpus: Path, document: str) -> None:
    path = corpus / document
    data = load(path)
    operations = [
        (method.upper(), str(p))
        for p, item in data["paths"].items()
        if isinstance(item, dict)
        for method in METHODS
        if method in item
    ]
    report = _import(path).report
    assert sorted((o.method, o.path) for o in report.operations) == sorted(operations)
    assert all((o.tool is None) == (o.kind is None) for o in report.operations)
    assert all(o.tool is not None or o.reason for o in report.operations)
