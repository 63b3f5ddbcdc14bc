"""Inbound mail's use case with fakes: parsing both encodings, what is stored, classification, lookup."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from cmc_webhooks.dal.credentials import StaticCredentials
from cmc_webhooks.errors import (
    InvalidEnvelope,
    MessageNotFound,
    PayloadTooLarge,
    StorageUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)
from cmc_webhooks.logic.auth import CredentialSet
from cmc_webhooks.logic.inbound import (
    InboundResult,
    classify_mail,
    inbound_id_of,
    lookup_inbound,
    receive_inbound,
)
from cmc_webhooks.logic.inbound_parse import Attachment, InboundPost, parse_inbound
from cmc_webhooks.logic.receive import WebhookRequest
from cmc_webhooks.models.inbound import InboundItem, MailObject
from tests.inbound_samples import (
    BINARY,
    JAPANESE_FILENAME,
    JAPANESE_SUBJECT,
    JAPANESE_TEXT,
    fields,
    json_mail,
    mail_headers,
    multipart,
)

OPEN = StaticCredentials(CredentialSet())
KEYED = StaticCredentials(CredentialSet(api_key="k-1"))
NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
OUR_MESSAGE = "031a32d4-06cd-b1ae-9526-011c0b9f1296@example.com"


class FakeStore:
    def __init__(self, *, events: Sequence[str] = ()) -> None:
        self.items: dict[str, InboundItem] = {}
        self.events = set(events)
        self.event_queries: list[str] = []

    def get_inbound(self, inbound_id: str) -> InboundItem | None:
        return self.items.get(inbound_id)

    def put_inbound(self, item: InboundItem) -> bool:
        if item["inbound_id"] in self.items:
            return False
        self.items[item["inbound_id"]] = item
        return True

    def has_events(self, message_id: str) -> bool:
        self.event_queries.append(message_id)
        return message_id in self.events


class FakeObjects:
    bucket = "inbound-bucket"

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.objects: dict[str, MailObject] = {}

    def put_objects(self, objects: Sequence[MailObject]) -> None:
        if self.fail:
            raise StorageUnavailable("down")
        self.objects.update((item.key, item) for item in objects)

    def presign(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        return f"https://signed.example/{key}?expires={expires_in}&name={filename or ''}"


def mail_post(**header_extra: str) -> tuple[bytes, str]:
    files = [
        (JAPANESE_FILENAME, JAPANESE_TEXT, "text/plain"),
        ("data.bin", BINARY, "application/octet-stream"),
    ]
    return multipart(fields(mail_headers(**header_extra)), files)


def receive(
    body: bytes,
    content_type: str,
    store: FakeStore,
    objects: FakeObjects,
    *,
    credentials: StaticCredentials = OPEN,
    max_body_bytes: int = 1_000_000,
    as_base64: bool = True,
) -> InboundResult:
    text = base64.b64encode(body).decode() if as_base64 else body.decode()
    return receive_inbound(
        WebhookRequest(body=text, is_base64=as_base64, content_type=content_type, authorization=None),
        store=store,
        objects=objects,
        credentials=credentials,
        max_body_bytes=max_body_bytes,
        retention=timedelta(days=30),
        received_at=NOW,
    )


@pytest.mark.parametrize("raw_filenames", [True, False], ids=["utf-8 names", "encoded-word names"])
def test_a_multipart_mail_keeps_its_japanese_and_its_bytes(raw_filenames: bool) -> None:
    body, content_type = multipart(
        fields(mail_headers()),
        [(JAPANESE_FILENAME, JAPANESE_TEXT, "text/plain"), ("data.bin", BINARY, "application/octet-stream")],
        raw_filenames=raw_filenames,
    )
    post = parse_inbound(base64.b64encode(body).decode(), is_base64=True, content_type=content_type)

    assert post.fields["subject"] == JAPANESE_SUBJECT
    assert post.header("message-id") == "<reply-0001@example.jp>"  # \u003C and \u003E decoded
    assert [(a.filename, a.content_type, a.data) for a in post.attachments] == [
        (JAPANESE_FILENAME, "text/plain", JAPANESE_TEXT),
        ("data.bin", "application/octet-stream", BINARY),
    ]


def test_the_json_form_has_no_attachments_and_the_same_fields() -> None:
    post = parse_inbound(json_mail(mail_headers()).decode(), is_base64=False, content_type="application/json")

    assert post.fields["subject"] == JAPANESE_SUBJECT
    assert post.fields["envelope-to"] == "support@example.com"
    assert post.attachments == []
    assert post.header("From") == "=?UTF-8?B?5bGx55Sw5aSq6YOO?= <taro@example.jp>"


@pytest.mark.parametrize(
    ("body", "content_type", "error", "names"),
    [
        (
            json_mail(mail_headers(), headers=None),
            "application/json",
            InvalidEnvelope,
            "`headers` is missing",
        ),
        (json_mail(mail_headers(), headers="[1]"), "application/json", InvalidEnvelope, "`headers`: entry 0"),
        (json_mail(mail_headers(), subject=5), "application/json", InvalidEnvelope, "`subject`"),
        (
            json_mail(mail_headers(), attachments=2),
            "application/json",
            InvalidEnvelope,
            "`attachments` says 2",
        ),
        (b"subject=x", "application/x-www-form-urlencoded", UnsupportedMediaType, "multipart/form-data"),
        (b"--nothing--", "multipart/form-data; boundary=other", InvalidEnvelope, "no parts"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    body: bytes, content_type: str, error: type[Exception], names: str
) -> None:
    store, objects = FakeStore(), FakeObjects()
    with pytest.raises(error, match=names):
        receive(body, content_type, store, objects)
    assert (store.items, objects.objects) == ({}, {})


def test_a_file_part_missing_from_the_count_is_refused() -> None:
    body, content_type = multipart(fields(mail_headers()) | {"attachments": "3"}, [])
    with pytest.raises(InvalidEnvelope, match="says 3 but 0"):
        receive(body, content_type, FakeStore(), FakeObjects())


def test_a_mail_is_stored_as_objects_and_one_item_of_pointers() -> None:
    store, objects = FakeStore(events=[OUR_MESSAGE]), FakeObjects()
    body, content_type = mail_post(In_Reply_To=f"<{OUR_MESSAGE}>")

    result = receive(body, content_type, store, objects)

    assert (result.duplicate, result.attachments, result.kind) == (False, 2, "reply")
    item = store.items[result.inbound_id]
    assert item["message_id"] == f"inbound#{result.inbound_id}"
    assert (item["mail_from"], item["subject"], item["header_message_id"]) == (
        "山田太郎 <taro@example.jp>",
        JAPANESE_SUBJECT,
        "reply-0001@example.jp",
    )
    assert item["related_message_id"] == OUR_MESSAGE
    assert store.event_queries == [OUR_MESSAGE]  # one query for a reply to our mail
    attachments = json.loads(item["attachments"])
    for attachment, data in zip(attachments, [JAPANESE_TEXT, BINARY], strict=True):
        stored = objects.objects[attachment["key"]]
        assert stored.data == data
        assert attachment["sha256"] == hashlib.sha256(data).hexdigest()
        assert attachment["size"] == len(data)
        assert attachment["filename"] not in attachment["key"]
    assert objects.objects[item["text_key"]].data == "お世話になっております。".encode()
    # No body or attachment bytes in the item.
    assert "お世話" not in json.dumps(item, ensure_ascii=False)


def test_a_repeat_post_stores_nothing_new() -> None:
    store, objects = FakeStore(), FakeObjects()
    body, content_type = mail_post()
    first = receive(body, content_type, store, objects)
    objects.objects.clear()

    again = receive(body, content_type, store, objects)

    assert (again.inbound_id, again.duplicate) == (first.inbound_id, True)
    assert objects.objects == {}
    assert len(store.items) == 1


def test_the_same_message_to_another_address_is_another_mail() -> None:
    headers = mail_headers()
    one = InboundPost(fields={"envelope-to": "a@example.com"}, headers=[("Message-ID", "<m@x>")])
    two = InboundPost(fields={"envelope-to": "b@example.com"}, headers=[("Message-ID", "<m@x>")])
    assert inbound_id_of(one) != inbound_id_of(two)
    # Without a Message-ID, the content decides.
    plain = InboundPost(fields={"text": "a"}, headers=[(h["name"], h["value"]) for h in headers[:2]])
    other = InboundPost(fields={"text": "b"}, headers=plain.headers)
    assert inbound_id_of(plain) == inbound_id_of(InboundPost(fields={"text": "a"}, headers=plain.headers))
    assert inbound_id_of(plain) != inbound_id_of(other)


def test_objects_that_fail_leave_no_item() -> None:
    store = FakeStore()
    body, content_type = mail_post()
    with pytest.raises(StorageUnavailable):
        receive(body, content_type, store, FakeObjects(fail=True))
    assert store.items == {}


def test_too_large_a_body_is_refused_before_anything_else() -> None:
    body, content_type = mail_post()
    with pytest.raises(PayloadTooLarge, match="base64 included"):
        receive(body, content_type, FakeStore(), FakeObjects(), max_body_bytes=len(body))  # base64 is larger


def test_a_wrong_or_missing_api_key_stores_nothing() -> None:
    store, objects = FakeStore(), FakeObjects()
    body, content_type = multipart(fields(mail_headers()) | {"api_key": "wrong"}, [])
    with pytest.raises(Unauthorized):
        receive(body, content_type, store, objects, credentials=KEYED)
    bad, bad_type = b"not multipart", "multipart/form-data; boundary=x"
    with pytest.raises(Unauthorized):  # a sender without credentials learns nothing of its body
        receive(bad, bad_type, store, objects, credentials=KEYED)
    assert (store.items, objects.objects) == ({}, {})
    good, good_type = multipart(fields(mail_headers()) | {"api_key": "k-1"}, [])
    assert not receive(good, good_type, store, objects, credentials=KEYED).duplicate


def post_of(subject: str = "hello", attachments: Sequence[Attachment] = (), **headers: str) -> InboundPost:
    return InboundPost(
        fields={"subject": subject, "envelope-from": headers.pop("envelope_from", "taro@example.jp")},
        headers=[(name.replace("_", "-"), value) for name, value in headers.items()],
        attachments=list(attachments),
    )


@pytest.mark.parametrize(
    ("post", "kind"),
    [
        (post_of(), "mail"),
        (post_of(In_Reply_To="<a@b>"), "reply"),
        (post_of("Re: 先日の件"), "reply"),
        (post_of("返信\uff1a見積もり"), "reply"),  # a full-width colon
        (post_of(In_Reply_To="<a@b>", Auto_Submitted="auto-replied"), "auto_reply"),
        (post_of(Auto_Submitted="no"), "mail"),
        (post_of(X_Autoreply="yes"), "auto_reply"),
        (post_of(Precedence="auto_reply"), "auto_reply"),
        (post_of("Out of Office: back Monday"), "auto_reply"),
        (post_of("Automatic reply: 見積もり"), "auto_reply"),
        (post_of("【自動返信】お問い合わせありがとうございます"), "auto_reply"),
        (post_of("[Auto-Reply] 受付しました"), "auto_reply"),
        (post_of("不在のお知らせ"), "auto_reply"),
        (post_of(Content_Type='multipart/report; report-type="delivery-status"'), "delivery_report"),
        (post_of("Undelivered Mail Returned to Sender", envelope_from=""), "delivery_report"),
        (
            post_of("Mail delivery failed", From="Mail Delivery System <MAILER-DAEMON@mx.example.jp>"),
            "delivery_report",
        ),
        (post_of("Undelivered: our plans", From="taro@example.jp"), "mail"),  # a person's subject, not a DSN
        (post_of(attachments=[Attachment("status", "message/delivery-status", b"")]), "delivery_report"),
    ],
)
def test_each_mail_gets_its_kind(post: InboundPost, kind: str) -> None:
    assert classify_mail(post) == kind


def test_related_lookups_try_references_newest_first_and_stop_at_a_hit() -> None:
    store, objects = FakeStore(events=["mid@ours"]), FakeObjects()
    body, content_type = mail_post(References="<old@ours> <mid@ours> <new@elsewhere>")
    result = receive(body, content_type, store, objects)
    assert store.items[result.inbound_id]["related_message_id"] == "mid@ours"
    assert store.event_queries == ["new@elsewhere", "mid@ours"]


def test_no_related_message_when_we_hold_no_events() -> None:
    store, objects = FakeStore(), FakeObjects()
    body, content_type = mail_post(In_Reply_To="<someone@else>")
    result = receive(body, content_type, store, objects)
    assert "related_message_id" not in store.items[result.inbound_id]


def test_the_lookup_gives_presigned_urls_named_after_the_files() -> None:
    store, objects = FakeStore(), FakeObjects()
    body, content_type = mail_post()
    inbound_id = receive(body, content_type, store, objects).inbound_id

    view = lookup_inbound(store, objects, inbound_id).model_dump(by_alias=True)

    assert view["from"] == "山田太郎 <taro@example.jp>"
    assert [a["filename"] for a in view["attachments"]] == [JAPANESE_FILENAME, "data.bin"]
    assert view["attachments"][0]["url"].endswith(f"name={JAPANESE_FILENAME}")
    assert view["text"]["url"].startswith("https://signed.example/inbound/")
    with pytest.raises(MessageNotFound):
        lookup_inbound(store, objects, "0" * 32)
    with pytest.raises(MessageNotFound, match="32 hexadecimal"):
        lookup_inbound(store, objects, "../etc")


def test_other_charsets_are_read_in_fields_and_headers() -> None:
    subject = "お問い合わせ"
    encoded = base64.b64encode(subject.encode("iso-2022-jp")).decode()
    headers = mail_headers()
    headers[2] = {"name": "Subject", "value": f"=?ISO-2022-JP?B?{encoded}?="}
    body, content_type = multipart(
        {"headers": json.dumps(headers), "envelope-to": "a@b.c"},
        [],
        charset_fields={"text": ("本文です".encode("shift_jis"), "shift_jis")},
    )
    store, objects = FakeStore(), FakeObjects()

    result = receive(body, content_type, store, objects)

    item = store.items[result.inbound_id]
    assert item["subject"] == subject  # no `subject` field: the header, decoded
    assert objects.objects[item["text_key"]].data.decode() == "本文です"
