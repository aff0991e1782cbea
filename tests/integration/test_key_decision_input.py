"""A malformed key decision is refused with a sentence in the reader's language, nothing English inside."""

from __future__ import annotations

import pytest

from exam_engine.domain.roles import Role
from tests.factories import make_user, new_api, open_client

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    "language, expected",
    [
        ("kk", "«options» өрісі ең көбі 12 нұсқа нөмірінің тізімі болуы керек, әр нөмір 0-ден 11-ге дейін."),
        ("ru", "Поле «options» должно быть списком не более чем из 12 номеров вариантов, каждый от 0 до 11."),
    ],
)
async def test_options_that_are_not_option_numbers_are_refused_in_kk_and_ru(services, language, expected):
    await make_user(services, "quality1", Role.QUALITY, language=language)
    client = await open_client(services)
    try:
        api = await new_api(client)
        await api.login("quality1")
        for options in (["B"], [1, 12], [True], list(range(13))):
            status, body = await api.call(
                "POST",
                "/api/v1/quality/holds/1/decisions",
                {"item": "item:1", "action": "accept", "options": options, "reason": "x"},
            )
            assert status == 422 and body["error"]["code"] == "invalid_field", (options, body)
            assert body["error"]["message"] == expected
            assert "list" not in body["error"]["message"]
        await api.client.close()
    finally:
        await client.close()
