from __future__ import annotations

import base64
import json
from urllib.parse import quote, urlencode

import pytest

from cmc_webhooks.errors import InvalidEnvelope, UnsupportedMediaType
from cmc_webhooks.logic.decode import parse_content_type
from cmc_webhooks.logic.decode import webhook_document as decode_webhook_body
from tests.conftest import SEED_FIXTURES, fixture_text, load_fixture


def form_body(document: dict[str, object], **overrides: str) -> str:
    fields = {
        "event_type": str(document["event_type"]),
        "server_composition": str(document["server_composition"]),
        "event": json.dumps(document["event"], ensure_ascii=False),
        **overrides,
    }
    return urlencode(fields)


@pytest.mark.parametrize("name", SEED_FIXTURES)
def test_json_and_form_encodings_of_a_seed_payload_decode_to_the_same_document(name: str) -> None:
    document = load_fixture(name)

    from_json = decode_webhook_body(fixture_text(name), is_base64=False, content_type="application/json")
    from_form = decode_webhook_body(
        form_body(document), is_base64=False, content_type="application/x-www-form-urlencoded"
    )

    assert from_json == document
    assert from_form == document


def test_form_keeps_the_api_key_field() -> None:
    body = form_body(load_fixture("seed_deliveries_queued"), api_key="k-123")
    document = decode_webhook_body(body, is_base64=False, content_type="application/x-www-form-urlencoded")
    assert document["api_key"] == "k-123"


def test_form_whose_event_holds_the_whole_document_is_unwrapped() -> None:
    document = load_fixture("seed_bounces_user_unknown")
    body = urlencode({"event": json.dumps(document)})
    assert decode_webhook_body(body, is_base64=False, content_type="application/x-www-form-urlencoded") == (
        document
    )


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "application/json; charset=UTF-8"]
)
def test_base64_flagged_bodies_are_decoded(content_type: str) -> None:
    document = load_fixture("seed_deliveries_succeeded")
    text = form_body(document) if "form" in content_type else json.dumps(document, ensure_ascii=False)
    body = base64.b64encode(text.encode("utf-8")).decode("ascii")

    assert decode_webhook_body(body, is_base64=True, content_type=content_type) == document


def test_charset_parameter_decides_how_percent_escapes_are_read() -> None:
    document = load_fixture("seed_deliveries_queued")
    event = json.dumps(document["event"], ensure_ascii=False)
    body = f"event_type=deliveries&server_composition=pro&event={quote(event, encoding='shift_jis')}"

    decoded = decode_webhook_body(
        body, is_base64=False, content_type="application/x-www-form-urlencoded; charset=Shift_JIS"
    )

    assert decoded["event"]["deliveries"][0]["subject"] == "メールマガジンのテスト"


def test_json_in_a_declared_legacy_charset_is_decoded_with_it() -> None:
    text = json.dumps(load_fixture("seed_deliveries_queued"), ensure_ascii=False)
    body = base64.b64encode(text.encode("euc_jp")).decode("ascii")
    decoded = decode_webhook_body(body, is_base64=True, content_type="application/json; charset=EUC-JP")
    assert decoded["event"]["deliveries"][0]["subject"] == "メールマガジンのテスト"


def test_escaped_angle_brackets_in_json_are_read_as_brackets() -> None:
    body = (
        fixture_text("seed_deliveries_queued").replace("<031a", "\\u003C031a").replace(".com>", ".com\\u003E")
    )
    assert "\\u003C" in body
    decoded = decode_webhook_body(body, is_base64=False, content_type="application/json")
    assert decoded["event"]["deliveries"][0]["messageId"].startswith("<031a")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"event_type": "deliveries"', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ("", "empty"),
    ],
)
def test_a_broken_json_body_is_refused_with_the_reason(body: str, expected: str) -> None:
    with pytest.raises(InvalidEnvelope, match=expected):
        decode_webhook_body(body, is_base64=False, content_type="application/json")


def test_a_form_without_event_or_with_broken_event_is_refused() -> None:
    form = "application/x-www-form-urlencoded"
    with pytest.raises(InvalidEnvelope, match="no `event` field"):
        decode_webhook_body("event_type=deliveries", is_base64=False, content_type=form)
    with pytest.raises(InvalidEnvelope, match="`event` is not valid JSON"):
        decode_webhook_body("event_type=deliveries&event=%7Bnope", is_base64=False, content_type=form)


def test_bad_base64_and_bad_charset_bytes_are_refused() -> None:
    with pytest.raises(InvalidEnvelope, match="not valid base64"):
        decode_webhook_body("%%%", is_base64=True, content_type="application/json")
    latin = base64.b64encode(b'{"event": "\xff"}').decode("ascii")
    with pytest.raises(InvalidEnvelope, match="not valid utf-8"):
        decode_webhook_body(latin, is_base64=True, content_type="application/json")


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_json_nested_too_deeply_is_refused_not_a_crash(content_type: str) -> None:
    nested = '{"event": ' + "[" * 100_000
    body = nested if content_type == "application/json" else "event=" + quote(nested)
    with pytest.raises(InvalidEnvelope, match="too deeply"):
        decode_webhook_body(body, is_base64=False, content_type=content_type)


def test_an_integer_longer_than_python_reads_is_refused_not_a_crash() -> None:
    body = '{"event_type": "deliveries", "event": {"deliveries": [{"n": ' + "9" * 5000 + "}]}}"
    with pytest.raises(InvalidEnvelope, match="not JSON this receiver reads"):
        decode_webhook_body(body, is_base64=False, content_type="application/json")


def test_a_text_body_with_a_lone_surrogate_is_refused_as_not_utf8() -> None:
    body = '{"event_type": "deliveries", "event": {"deliveries": [{"subject": "\ud800"}]}}'
    with pytest.raises(InvalidEnvelope, match="not valid utf-8"):
        decode_webhook_body(body, is_base64=False, content_type="application/json")


def test_unsupported_media_types_and_charsets_are_415() -> None:
    with pytest.raises(UnsupportedMediaType, match="text/plain"):
        decode_webhook_body("hello", is_base64=False, content_type="text/plain")
    with pytest.raises(UnsupportedMediaType, match="klingon"):
        decode_webhook_body("{}", is_base64=False, content_type="application/json; charset=klingon")


def test_without_a_content_type_the_body_is_sniffed() -> None:
    document = load_fixture("seed_deliveries_queued")
    assert decode_webhook_body(
        fixture_text("seed_deliveries_queued"), is_base64=False, content_type=None
    ) == (document)
    assert decode_webhook_body(form_body(document), is_base64=False, content_type="") == document


def test_content_type_parsing() -> None:
    assert parse_content_type('Application/JSON; Charset="Shift_JIS"') == ("application/json", "shift_jis")
    assert parse_content_type(None) == ("", "utf-8")


def multipart_body(fields: list[tuple[str, str]], boundary: str, *, part_charset: str | None) -> str:
    header = f"Content-Type: text/plain; charset={part_charset}\r\n" if part_charset else ""
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n{header}\r\n{value}\r\n'
        for name, value in fields
    )
    return parts + f"--{boundary}--\r\n"


@pytest.mark.parametrize("part_charset", [None, "UTF-8"])
def test_multipart_form_data_carries_the_same_fields(part_charset: str | None) -> None:
    document = load_fixture("seed_deliveries_queued")
    fields = [
        ("event_type", "deliveries"),
        ("server_composition", "pro"),
        ("event", json.dumps(document["event"], ensure_ascii=False)),
    ]
    body = multipart_body(fields, "b0undary", part_charset=part_charset)

    decoded = decode_webhook_body(
        body, is_base64=False, content_type="multipart/form-data; boundary=b0undary"
    )

    assert decoded == document  # the Japanese subject survives either way


def test_a_multipart_body_that_does_not_match_its_boundary_is_refused() -> None:
    with pytest.raises(InvalidEnvelope, match="boundary"):
        decode_webhook_body("no parts here", is_base64=False, content_type="multipart/form-data; boundary=zz")


@pytest.mark.parametrize(
    "body",
    [
        '{"event_type": "deliveries", "event": {"deliveries": []}, "event": {"bounces": []}}',
        '{"event_type": "deliveries", "event": {"deliveries": [{"to": "a@x", "to": "b@x"}]}}',
    ],
)
def test_a_json_key_that_appears_twice_is_refused_not_guessed(body: str) -> None:
    with pytest.raises(InvalidEnvelope, match="appears twice"):
        decode_webhook_body(body, is_base64=False, content_type="application/json")


def test_a_form_field_that_appears_twice_is_refused() -> None:
    body = urlencode([("event", '{"deliveries": []}'), ("event", '{"bounces": []}')])
    with pytest.raises(InvalidEnvelope, match="`event` appears twice"):
        decode_webhook_body(body, is_base64=False, content_type="application/x-www-form-urlencoded")
    body = urlencode([("api_key", "right"), ("api_key", "wrong"), ("event", "{}")])
    with pytest.raises(InvalidEnvelope, match="`api_key` appears twice"):
        decode_webhook_body(body, is_base64=False, content_type="application/x-www-form-urlencoded")


def test_a_wrapped_document_that_disagrees_with_its_form_is_refused() -> None:
    document = {**load_fixture("seed_bounces_user_unknown"), "api_key": "right"}
    body = urlencode({"api_key": "wrong", "event": json.dumps(document)})
    with pytest.raises(InvalidEnvelope, match="disagree on \\['api_key'\\]"):
        decode_webhook_body(body, is_base64=False, content_type="application/x-www-form-urlencoded")


def test_numbers_json_cannot_carry_as_floats_are_kept_as_their_text() -> None:
    body = '{"event_type": "deliveries", "event": {"deliveries": [{"big": 1E400, "nan": NaN, "n": 1.5}]}}'
    record = decode_webhook_body(body, is_base64=False, content_type="application/json")["event"][
        "deliveries"
    ][0]
    assert record == {"big": "1E400", "nan": "NaN", "n": 1.5}
    json.dumps(record, allow_nan=False)  # strict JSON again


def test_a_json_body_with_a_byte_order_mark_is_read() -> None:
    document = load_fixture("seed_deliveries_queued")
    body = base64.b64encode(b"\xef\xbb\xbf" + json.dumps(document).encode()).decode("ascii")
    assert decode_webhook_body(body, is_base64=True, content_type="application/json") == document


def test_a_compressed_body_is_refused_naming_the_encoding() -> None:
    with pytest.raises(UnsupportedMediaType, match="Content-Encoding 'gzip'"):
        decode_webhook_body("x", is_base64=True, content_type="application/json", content_encoding="gzip")
