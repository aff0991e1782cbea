"""The document the server hands to client generators is the committed docs/openapi.json."""

from __future__ import annotations

import json
from pathlib import Path

from tests.factories import open_client


async def test_the_served_openapi_document_is_docs_openapi_json(services):
    client = await open_client(services)
    try:
        resp = await client.get("/api/v1/openapi.json")
        served = await resp.json()
    finally:
        await client.close()
    committed = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text("utf-8"))
    assert resp.status == 200 and served == committed
