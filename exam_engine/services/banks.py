"""Question-bank use cases: upload with checks, versions, publishing, diff and export (Q1, Q2, Q5).

The quality department (and the academic admin) upload banks; nobody else reads them.
An upload is all-or-nothing: a file with any error stores nothing, only an audit row
saying it was refused. An accepted upload becomes a new *draft* version (or a
published one with ``publish``); a published version is never changed again.

Two ways to upload, because ``parse_bank(existing=...)`` means "items this upload is
added to":

* **replace** (the default): the file is the whole bank. The new version holds exactly
  its questions, duplicates are checked inside the file, and the report shows the
  diff (added / removed / changed) against the latest version. Passing the previous
  version as ``existing`` here would flag every unchanged question as a duplicate.
* **append**: the file adds questions to the latest version. The new version is the
  latest version's items followed by the file's, and a question already in the
  latest version is a ``duplicate_of_existing`` error.

The caller owns the transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from question_bank import api as bank_api
from question_bank.diff import BankDiff, diff_items
from question_bank.export import UnexportableItem, export_gift, export_platonus
from question_bank.formats.detect import ALIASES
from question_bank.formats.qti import export_qti
from question_bank.formats.xlsx import xlsx_template
from question_bank.isolated import ParseJob, parse_isolated, parse_isolated_sync
from question_bank.limits import DEFAULT_LIMITS, ParseLimits
from question_bank.model import Item
from question_bank.parse import ParseReport, UnknownFormatError, parse_bank
from question_bank.text import clean_label, forbidden_characters

from ..domain.actors import Actor
from ..domain.roles import Permission
from ..errors import Conflict, DomainError, InvalidInput, NotFound, TooManyRequests
from ..i18n import LANGUAGES, N_, gettext
from ..tables import disciplines
from .audit import record

MAX_BANK_BYTES = 10 * 1024 * 1024
EXPORT_FORMATS = ("gift", "platonus", "qti")
# Parses running at once in one server process (each a child process of up to
# ParseLimits.memory_bytes); an upload waits for a turn at most ParseLimits.wall_seconds.
MAX_CONCURRENT_PARSES = 2
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


class BankTooLarge(DomainError):
    """An upload over :data:`MAX_BANK_BYTES` (HTTP 413)."""

    status = 413


@dataclass(frozen=True, slots=True)
class UploadRequest:
    discipline_code: str
    language: str
    filename: str | None = None
    format: str | None = None
    topic: str | None = None
    difficulty: int | None = None
    dry_run: bool = False
    publish: bool = False
    append: bool = False
    # Twin keys "#1", "#2" … by position, for a kk and a ru file with the same questions in the same order.
    twins_by_position: bool = False
    # A replace that removes questions or breaks kk/ru twins is stored only when confirmed (409 otherwise).
    confirm: bool = False


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    report: ParseReport
    stored: bank_api.VersionInfo | None  # the new version, when stored
    previous: bank_api.VersionInfo | None  # the latest version before this upload
    diff: BankDiff | None  # previous → what this upload makes (also on a dry run)
    # What the new version takes away: removed questions and broken twins, as problem-like details
    # (msgid, params, item ids) — listed on a dry run, refused without ``confirm`` otherwise.
    losses: tuple[dict[str, object], ...] = ()

    @property
    def accepted(self) -> bool:
        return self.report.accepted


def too_large(size: int) -> BankTooLarge:
    return BankTooLarge(
        "bank_too_large",
        N_("The file is {size} bytes; a bank may be at most {limit} bytes."),
        size=size,
        limit=MAX_BANK_BYTES,
    )


def validate_request(req: UploadRequest, size: int) -> None:
    """Usage errors, before any parsing: they are the caller's mistake, not the file's."""
    if size > MAX_BANK_BYTES:
        raise too_large(size)
    if req.language not in LANGUAGES:
        raise InvalidInput("unsupported_language", N_("Language must be kk or ru."))
    if not req.discipline_code.strip() or len(req.discipline_code) > 64 or forbidden_characters(req.discipline_code):
        raise InvalidInput("invalid_code", N_("A code must have 1 to 64 characters."))
    if req.difficulty is not None and not 1 <= req.difficulty <= 100:
        raise InvalidInput("invalid_difficulty", N_("The difficulty must be a whole number from 1 to 100."))
    if req.format is not None and req.format.strip().lower() not in ALIASES:
        error = UnknownFormatError(req.format)
        raise InvalidInput(error.code, error.msgid, **error.params)


def safe_filename(name: str | None) -> str | None:
    """The upload's file name as it may be stored: no control or direction characters, 255 at most."""
    if name is None:
        return None
    cleaned = "".join(ch for ch in name if not forbidden_characters(ch))
    return (clean_label(cleaned) or "")[:255] or None


def check_file(
    data: bytes, req: UploadRequest, existing: Sequence[Item] = (), limits: ParseLimits = DEFAULT_LIMITS
) -> ParseReport:
    """Parse and check a bank file in this process (pure: no database, no child). For tests and tools."""
    validate_request(req, len(data))
    try:
        return parse_bank(
            data,
            filename=req.filename,
            format=req.format,
            language=req.language,
            default_topic=req.topic,
            default_difficulty=req.difficulty,
            existing=existing,
            limits=limits,
        )
    except UnknownFormatError as error:
        raise InvalidInput(error.code, error.msgid, **error.params) from None


def _job(req: UploadRequest, existing: Sequence[Item]) -> ParseJob:
    return ParseJob(
        filename=req.filename,
        format=req.format,
        language=req.language,
        default_topic=req.topic,
        default_difficulty=req.difficulty,
        existing_texts=tuple(it.text for it in existing),
    )


def check_file_isolated(
    data: bytes, req: UploadRequest, existing: Sequence[Item] = (), limits: ParseLimits = DEFAULT_LIMITS
) -> ParseReport:
    """:func:`check_file` in a child process with CPU, memory and wall-clock limits (the CLI's path)."""
    validate_request(req, len(data))
    return parse_isolated_sync(data, _job(req, existing), limits)


async def parse_upload(
    data: bytes, req: UploadRequest, existing: Sequence[Item] = (), limits: ParseLimits = DEFAULT_LIMITS
) -> ParseReport:
    """The server's parse: in a child process (question_bank.isolated), at most
    :data:`MAX_CONCURRENT_PARSES` at a time, so no file can stall the event loop or other requests."""
    validate_request(req, len(data))
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(MAX_CONCURRENT_PARSES)
    try:
        await asyncio.wait_for(gate.acquire(), limits.wall_seconds)
    except TimeoutError:
        raise TooManyRequests(
            "bank_parser_busy",
            N_("Other banks are being checked right now; try again in a minute."),
            retry_after=int(limits.wall_seconds),
        ) from None
    try:
        return await parse_isolated(data, _job(req, existing), limits)
    finally:
        gate.release()


def _with_twins_by_position(items: Sequence[Item]) -> tuple[Item, ...]:
    return tuple(dataclasses.replace(it, twin_key=it.twin_key or f"#{n}") for n, it in enumerate(items, start=1))


async def _require_discipline(conn: AsyncConnection, code: str) -> None:
    if (await conn.execute(select(disciplines.c.id).where(disciplines.c.code == code))).first() is None:
        raise NotFound(
            "discipline_not_found", N_("No discipline with code {code}; add it before uploading its bank."), code=code
        )


async def _items_of(conn: AsyncConnection, info: bank_api.VersionInfo | None) -> list[Item]:
    return [] if info is None else [bank_api.as_item(s) for s in await bank_api.load_items(conn, info.id)]


async def _before_parse(
    conn: AsyncConnection,
    req: UploadRequest,
) -> tuple[bank_api.VersionInfo | None, list[Item]]:
    if not req.dry_run:
        await _require_discipline(conn, req.discipline_code)
    previous = await bank_api.latest_version(conn, req.discipline_code, req.language)
    return previous, await _items_of(conn, previous)


def _prepared(actor: Actor, data: bytes, req: UploadRequest) -> UploadRequest:
    actor.require(Permission.MANAGE_BANKS)
    validate_request(req, len(data))
    return dataclasses.replace(req, filename=safe_filename(req.filename))


async def upload(
    conn: AsyncConnection,
    actor: Actor,
    data: bytes,
    req: UploadRequest,
    *,
    now: datetime,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> UploadOutcome:
    """Check a file and, unless it is a dry run or refused, store it as the next version (one transaction)."""
    req = _prepared(actor, data, req)
    previous, old_items = await _before_parse(conn, req)
    # Parsing is CPU work on hostile input: in a child process with limits, never on the event loop.
    report = await parse_upload(data, req, old_items if req.append else (), limits)
    return await _after_parse(conn, actor, req, report, previous, old_items, now)


async def upload_unlocked(
    engine: AsyncEngine,
    actor: Actor,
    data: bytes,
    req: UploadRequest,
    *,
    now: datetime,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> UploadOutcome:
    """The server's upload: no database connection is held while the file is parsed.

    A parse may take up to ``limits.wall_seconds``; on SQLite the pool has one connection, so
    holding it would stall every other request for that long. The latest version is read in
    a short transaction, the file parsed, and the result stored in a second one — refused with
    ``409 bank_changed`` if another version of the bank was stored in between (its diff, and
    in append mode its items, would otherwise be computed against a version that is no longer
    the latest).
    """
    req = _prepared(actor, data, req)
    async with engine.connect() as conn:
        previous, old_items = await _before_parse(conn, req)
    report = await parse_upload(data, req, old_items if req.append else (), limits)
    async with engine.begin() as conn:
        latest = await bank_api.latest_version(conn, req.discipline_code, req.language)
        if report.accepted and not req.dry_run and (latest and latest.id) != (previous and previous.id):
            raise Conflict(
                "bank_changed",
                N_("Another version of this bank was stored while the file was being checked; upload the file again."),
            )
        return await _after_parse(conn, actor, req, report, previous, old_items, now)


async def _after_parse(
    conn: AsyncConnection,
    actor: Actor,
    req: UploadRequest,
    report: ParseReport,
    previous: bank_api.VersionInfo | None,
    old_items: list[Item],
    now: datetime,
) -> UploadOutcome:
    if not report.accepted:
        if not req.dry_run:
            await record(
                conn,
                now,
                actor,
                "bank.upload_refused",
                f"bank:{req.discipline_code}/{req.language}",
                None,
                _audit_counts(req, report),
            )
        return UploadOutcome(report, None, previous, None)
    items = (*old_items, *report.items) if req.append else report.items
    if req.twins_by_position:
        items = _with_twins_by_position(items)
    diff = diff_items(old_items, items)
    losses = await replace_losses(conn, req.discipline_code, req.language, previous, items)
    if req.dry_run:
        return UploadOutcome(report, None, previous, diff, losses)
    if losses and not req.confirm:
        removed = sum(1 for d in losses if d["kind"] == "removed")
        raise Conflict(
            "bank_replace_unconfirmed",
            N_(
                "This version removes {removed} questions and breaks {broken} twin pairs; check the list "
                "and send the upload again with confirmation."
            ),
            removed=removed,
            broken=len(losses) - removed,
        ).with_details(list(losses))
    stored = await bank_api.add_version(
        conn,
        discipline_code=req.discipline_code,
        language=req.language,
        items=items,
        source_name=req.filename,
        created_by=actor.label,
        now=now,
        publish=req.publish,
    )
    after = {
        **_audit_counts(req, report),
        "version_id": stored.id,
        "version": stored.version,
        "status": stored.status,
        "item_count": stored.item_count,
        "added": len(diff.added),
        "removed": len(diff.removed),
        "changed": len(diff.changed),
    }
    if losses:
        after["confirmed_losses"] = [{k: v for k, v in d.items() if k not in ("msgid", "params")} for d in losses]
    await record(conn, now, actor, "bank.uploaded", f"bank_version:{stored.id}", None, after)
    if req.publish:
        await record(
            conn,
            now,
            actor,
            "bank.published",
            f"bank_version:{stored.id}",
            None,
            {"version": stored.version, "status": "published", "item_count": stored.item_count},
        )
    return UploadOutcome(report, stored, previous, diff, losses)


TWIN_LANGUAGE = {"kk": "ru", "ru": "kk"}
_REMOVED = N_("Question {number} is removed: “{text}”")
# One message per twin language: a language code is no word for a page.
_BROKEN_TWIN = {
    "ru": N_(
        "Question {number} loses its twin: question {twin_number} of the Russian bank (twin key {twin_key}) "
        "is left without a pair"
    ),
    "kk": N_(
        "Question {number} loses its twin: question {twin_number} of the Kazakh bank (twin key {twin_key}) "
        "is left without a pair"
    ),
}


async def replace_losses(
    conn: AsyncConnection,
    discipline_code: str,
    language: str,
    previous: bank_api.VersionInfo | None,
    new_items: Sequence[Item],
) -> tuple[dict[str, object], ...]:
    """What replacing ``previous`` by ``new_items`` takes away, with the stored item ids.

    A question is removed when no new question has its text (the diff's matching); a twin is
    broken when a twin key of the old version pairs with the other language's latest version
    and no new question carries it any more.
    """
    if previous is None:
        return ()
    old = await bank_api.load_items(conn, previous.id)
    removed_items = diff_items([bank_api.as_item(s) for s in old], new_items).removed
    removed_numbers = {it.number for it in removed_items}
    losses: list[dict[str, object]] = [
        {
            "kind": "removed",
            "item_id": s.id,
            "number": s.number,
            "msgid": _REMOVED,
            "params": {"number": s.number, "text": s.text[:80]},
        }
        for s in old
        if s.number in removed_numbers
    ]
    other_language = TWIN_LANGUAGE.get(language)
    other = await bank_api.latest_version(conn, discipline_code, other_language) if other_language else None
    if other is not None:
        twins = {s.twin_key: s for s in await bank_api.load_items(conn, other.id) if s.twin_key}
        kept = {it.twin_key for it in new_items if it.twin_key}
        for s in old:
            twin = twins.get(s.twin_key) if s.twin_key else None
            if twin is not None and s.twin_key not in kept:
                losses.append(
                    {
                        "kind": "broken_twin",
                        "item_id": s.id,
                        "number": s.number,
                        "twin_key": s.twin_key,
                        "twin_item_id": twin.id,
                        "twin_language": other_language,
                        "msgid": _BROKEN_TWIN[other_language],
                        "params": {"number": s.number, "twin_key": s.twin_key, "twin_number": twin.number},
                    }
                )
    return tuple(losses)


def _audit_counts(req: UploadRequest, report: ParseReport) -> dict[str, object]:
    return {
        "discipline": req.discipline_code,
        "language": req.language,
        "source_name": req.filename,
        "format": report.format.value if report.format else None,
        "append": req.append,
        "questions": report.questions_found,
        "valid": len(report.items),
        "errors": len(report.errors),
        "warnings": len(report.warnings),
    }


def _version_not_found(version_id: int) -> NotFound:
    return NotFound("bank_version_not_found", N_("No bank version {id}."), id=version_id)


async def version(conn: AsyncConnection, actor: Actor, version_id: int) -> bank_api.VersionInfo:
    actor.require(Permission.READ_BANK_CONTENT)
    try:
        return await bank_api.get_version(conn, version_id)
    except bank_api.BankVersionNotFound:
        raise _version_not_found(version_id) from None


async def publish(
    conn: AsyncConnection, actor: Actor, version_id: int, *, now: datetime, confirm: bool = False
) -> bank_api.VersionInfo:
    """Publish a draft; from then on the version is immutable and exams may pin it.

    Against the latest *published* version of the bank, a draft that removes questions or breaks
    kk/ru twins is ``409 bank_publish_unconfirmed`` with the list, unless ``confirm``.
    """
    actor.require(Permission.MANAGE_BANKS)
    if not confirm:
        try:
            draft = await bank_api.get_version(conn, version_id)
        except bank_api.BankVersionNotFound:
            raise _version_not_found(version_id) from None
        if draft.status == "draft":
            published = [
                v
                for v in await bank_api.list_versions(conn, draft.discipline_code)
                if v.language == draft.language and v.status == "published" and v.version < draft.version
            ]
            before = max(published, key=lambda v: v.version) if published else None
            losses = await replace_losses(
                conn, draft.discipline_code, draft.language, before, await _items_of(conn, draft)
            )
            if losses:
                removed = sum(1 for d in losses if d["kind"] == "removed")
                raise Conflict(
                    "bank_publish_unconfirmed",
                    N_(
                        "Publishing this version removes {removed} questions of the published one and "
                        "breaks {broken} twin pairs; check the list and publish again with confirmation."
                    ),
                    removed=removed,
                    broken=len(losses) - removed,
                ).with_details(list(losses))
    try:
        info = await bank_api.publish_version(conn, version_id, by=actor.label, now=now)
    except bank_api.BankVersionNotFound:
        raise _version_not_found(version_id) from None
    except bank_api.BankVersionPublished:
        raise Conflict(
            "bank_version_published", N_("Bank version {id} is already published and cannot be changed."), id=version_id
        ) from None
    await record(
        conn,
        now,
        actor,
        "bank.published",
        f"bank_version:{version_id}",
        {"status": "draft"},
        {
            "discipline": info.discipline_code,
            "language": info.language,
            "version": info.version,
            "status": info.status,
            "item_count": info.item_count,
        },
    )
    return info


async def versions(
    conn: AsyncConnection,
    actor: Actor,
    discipline_code: str | None = None,
) -> list[bank_api.VersionInfo]:
    actor.require(Permission.READ_BANK_CONTENT)
    return await bank_api.list_versions(conn, discipline_code)


async def content(
    conn: AsyncConnection,
    actor: Actor,
    version_id: int,
) -> tuple[bank_api.VersionInfo, list[bank_api.StoredItem]]:
    """A version's questions with their keys: confidential (Q5), for the quality role and the admin only."""
    info = await version(conn, actor, version_id)
    return info, await bank_api.load_items(conn, version_id)


async def version_diff(
    conn: AsyncConnection,
    actor: Actor,
    version_id: int,
    against: int | None = None,
) -> tuple[bank_api.VersionInfo | None, bank_api.VersionInfo, BankDiff]:
    """What ``version_id`` changed compared with ``against`` (default: the version before it)."""
    new = await version(conn, actor, version_id)
    if against is None:
        old = None
        if new.version > 1:
            old = await bank_api.version_by_number(conn, new.discipline_code, new.language, new.version - 1)
    else:
        old = await version(conn, actor, against)
    new_items = await _items_of(conn, new)
    return old, new, diff_items(await _items_of(conn, old), new_items)


async def resolve_version(
    conn: AsyncConnection, actor: Actor, discipline_code: str, language: str, number: int | None
) -> bank_api.VersionInfo:
    """A version by its number in the bank, or the latest one."""
    actor.require(Permission.READ_BANK_CONTENT)
    try:
        if number is not None:
            return await bank_api.version_by_number(conn, discipline_code, language, number)
        latest = await bank_api.latest_version(conn, discipline_code, language)
        if latest is not None:
            return latest
    except bank_api.BankVersionNotFound:
        pass
    raise NotFound(
        "bank_not_found",
        N_("{code} has no bank version {number} in {language}."),
        code=discipline_code,
        number=number if number is not None else "—",
        language=language,
    )


async def export(
    conn: AsyncConnection,
    actor: Actor,
    version_id: int,
    fmt: str,
    *,
    now: datetime,
) -> tuple[bank_api.VersionInfo, str | bytes]:
    """The version as GIFT or Platonus markup (text) or a QTI 3.0 package (zip bytes); each reads back to
    the same items. Exports are audited (Q5)."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput("unknown_export_format", N_("Export format must be gift, platonus or qti."))
    info, stored = await content(conn, actor, version_id)
    items = [bank_api.as_item(s) for s in stored]
    try:
        text: str | bytes
        if fmt == "qti":
            text = export_qti(
                items, language=info.language, identifier=f"{info.discipline_code}-{info.language}-v{info.version}"
            )
        else:
            text = export_gift(items) if fmt == "gift" else export_platonus(items)
    except UnexportableItem as error:
        raise InvalidInput(error.code, error.msgid, **error.params) from None
    await record(
        conn, now, actor, "bank.exported", f"bank_version:{version_id}", None, {"format": fmt, "item_count": len(items)}
    )
    return info, text


def template(actor: Actor, language: str) -> bytes:
    """The blank XLSX template, its instructions in the uploader's language."""
    actor.require(Permission.MANAGE_BANKS)
    return xlsx_template(lambda msgid: gettext(language, msgid))
