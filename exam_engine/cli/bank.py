"""``exam-engine bank …``: the quality department's command line for question banks.

Exit codes as everywhere in the CLI: 0 done (a bank accepted), 1 refused (a bank with
errors, a missing discipline, a published version), 2 usage error (bad arguments, an
unknown format name, a missing or oversized file). Messages come in the operator's
language (``exam-engine --lang ru bank …`` or ``EXAM_LANG``); the ``--lang`` *after*
``bank import`` is the language of the bank itself.

``--dry-run`` checks the file without opening the database (so it works before the
discipline exists); with ``--append`` it reads the latest version, which it is added to.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..bootstrap import Services
from ..errors import DomainError, InvalidInput
from ..i18n import N_, translate
from . import common

USAGE_CODES = frozenset(
    {
        "unknown_format",
        "unsupported_language",
        "invalid_code",
        "invalid_difficulty",
        "bank_too_large",
        "unknown_export_format",
        "unreadable_input",
    }
)


def _usage_error(error: DomainError, args: argparse.Namespace) -> int:
    common.print_error(error, common.language(args), getattr(args, "json", False))
    return 2


def _report_lines(view: dict[str, Any], lang: str, source: str) -> list[str]:
    from ..services import bank_views

    counts = view["counts"]
    lines = [
        translate(
            lang,
            N_(
                "{file}: format {format}, encoding {encoding}; {questions} questions, {valid} valid, "
                "{errors} errors, {warnings} warnings"
            ),
            file=source,
            format=bank_views.format_name(view["format"], lang) or "—",
            encoding=bank_views.encoding_name(view["encoding"], lang) or "—",
            **counts,
        )
    ]
    for title, problems in ((N_("Errors:"), view["errors"]), (N_("Warnings:"), view["warnings"])):
        if problems:
            lines.append(translate(lang, title))
            lines.extend(f"  - {p['message']}" for p in problems)
    return lines


def _diff_lines(diff: dict[str, Any] | None, previous: dict[str, Any] | None, lang: str) -> list[str]:
    if diff is None or previous is None:
        return []
    lines = [
        translate(
            lang,
            N_(
                "Compared with version {version}: {added} added, {removed} removed, {changed} changed, "
                "{unchanged} unchanged"
            ),
            version=previous["version"],
            **diff["counts"],
        )
    ]
    lines.extend(f"  + {it['number']}. {it['text'][:70]}" for it in diff["added"])
    lines.extend(f"  - {it['number']}. {it['text'][:70]}" for it in diff["removed"])
    lines.extend(f"  ~ {c['new_number']}. {c['text'][:70]} ({', '.join(c['fields'])})" for c in diff["changed"])
    return lines


def _outcome_lines(view: dict[str, Any], lang: str, source: str) -> list[str]:
    lines = _report_lines(view["report"], lang, source)
    if not view["accepted"]:
        lines.append(translate(lang, N_("Refused: nothing was stored. Fix every error and import the file again.")))
        return lines
    version = view["version"]
    if version is not None:
        lines.append(
            translate(
                lang,
                N_("Stored as version {version} of {discipline} ({language}), id {id}, {status}."),
                **{k: version[k] for k in ("version", "discipline", "language", "id", "status")},
            )
        )
    elif view["dry_run"]:
        lines.append(translate(lang, N_("Dry run: the file is acceptable; nothing was stored.")))
    return lines + _diff_lines(view["diff"], view["previous_version"], lang)


def _read_bank_file(path: str, limit: int) -> bytes:
    """At most ``limit + 1`` bytes: a 50 MB file is refused without reading 50 MB."""
    try:
        with open(path, "rb") as fh:
            return fh.read(limit + 1)
    except FileNotFoundError:
        raise
    except OSError:  # a directory, no permission, an I/O error: a usage error, one line
        raise InvalidInput("unreadable_input", N_("Cannot read the file {file}."), file=path) from None


def cmd_import(args: argparse.Namespace) -> int:
    """Import a bank. The parse runs in a child process with the configured limits, as on the server."""
    from ..config import bank_limits
    from ..services import bank_views, banks

    lang = common.language(args)
    req = banks.UploadRequest(
        discipline_code=args.discipline,
        language=args.bank_language,
        filename=Path(args.file).name,
        format=args.format,
        topic=args.topic,
        difficulty=args.difficulty,
        dry_run=args.dry_run,
        publish=args.publish,
        append=args.append,
        twins_by_position=args.twins_by_position,
        confirm=args.confirm,
    )
    try:
        data = _read_bank_file(args.file, banks.MAX_BANK_BYTES)
        size = os.path.getsize(args.file) if len(data) > banks.MAX_BANK_BYTES else len(data)
        banks.validate_request(req, size)
        if args.dry_run and not args.append:
            limits = bank_limits(os.environ)  # no database, no secret: only the limits are needed
            report = banks.check_file_isolated(data, req, limits=limits)
            view = {
                "accepted": report.accepted,
                "stored": False,
                "dry_run": True,
                "version": None,
                "previous_version": None,
                "diff": None,
                "report": bank_views.report_view(report, lang),
            }
            return _show_outcome(view, args, lang)
    except DomainError as error:  # bank_too_large (413) is a DomainError, not an InvalidInput
        if error.code in USAGE_CODES:
            return _usage_error(error, args)
        raise

    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            try:
                outcome = await banks.upload(
                    conn, common.actor(), data, req, now=services.clock.now(), limits=services.settings.bank_limits
                )
            except InvalidInput as error:
                if error.code in USAGE_CODES:
                    return _usage_error(error, args)
                raise
        return _show_outcome(bank_views.outcome_view(outcome, lang, dry_run=req.dry_run), args, lang)

    return common.run(args, run)


def _show_outcome(view: dict[str, Any], args: argparse.Namespace, lang: str) -> int:
    if args.json:
        common.print_json(view)
    else:
        print("\n".join(_outcome_lines(view, lang, args.file)))
    return 0 if view["accepted"] else 1


def cmd_export(args: argparse.Namespace) -> int:
    from ..services import banks

    if args.format == "qti" and not args.output:
        return _usage_error(InvalidInput("output_required", N_("A QTI package is a zip file; name it with -o.")), args)

    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            info = await banks.resolve_version(conn, common.actor(), args.discipline, args.bank_language, args.version)
            _, text = await banks.export(conn, common.actor(), info.id, args.format, now=services.clock.now())
        if args.output:
            if isinstance(text, bytes):
                Path(args.output).write_bytes(text)
            else:
                Path(args.output).write_text(text, encoding="utf-8")
            print(
                translate(
                    common.language(args),
                    N_("Version {version} ({count} questions) written to {file}"),
                    version=info.version,
                    count=info.item_count,
                    file=args.output,
                )
            )
        else:
            sys.stdout.write(text)
        return 0

    return common.run(args, run)


def cmd_list(args: argparse.Namespace) -> int:
    from ..services import banks

    async def run(services: Services) -> int:
        async with services.engine.connect() as conn:
            found = [v.as_dict() for v in await banks.versions(conn, common.actor(), args.discipline)]
        if args.json:
            common.print_json({"items": found})
        for v in [] if args.json else found:
            print(
                f"{v['id']:>6}  {v['discipline']:<16} {v['language']}  v{v['version']:<4} {v['status']:<10} "
                f"{v['item_count']:>5}  {v['created_at'][:19]}  {v['source_name'] or ''}"
            )
        return 0

    return common.run(args, run)


def cmd_publish(args: argparse.Namespace) -> int:
    from ..services import banks

    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            info = await banks.publish(
                conn, common.actor(), args.version_id, now=services.clock.now(), confirm=args.confirm
            )
        print(
            translate(
                common.language(args),
                N_("Version {version} of {discipline} ({language}) is published."),
                version=info.version,
                discipline=info.discipline_code,
                language=info.language,
            )
        )
        return 0

    return common.run(args, run)


def cmd_template(args: argparse.Namespace) -> int:
    from ..services import banks

    Path(args.output).write_bytes(banks.template(common.actor(), common.language(args)))
    print(args.output)
    return 0


def cmd_analysis(args: argparse.Namespace) -> int:
    from ..services import bank_analysis

    lang = common.language(args)

    async def run(services: Services) -> int:
        async with services.engine.connect() as conn:
            result = await bank_analysis.analyse_exam(conn, common.actor(), args.exam_id, language=lang)
        view = bank_analysis.analysis_view(result, lang)
        if args.xlsx:
            Path(args.xlsx).write_bytes(bank_analysis.analysis_workbook(result, lang))
        if args.json:
            common.print_json(view)
            return 0
        print(
            translate(
                lang,
                N_("{title}: {attempts} attempts, {items} items, KR-20 {kr20}"),
                title=view["title"],
                attempts=view["attempts"],
                items=view["items_count"],
                kr20="—" if view["kr20"] is None else f"{view['kr20']:.3f}",
            )
        )
        for it in view["items"]:
            p = "—" if it["difficulty"] is None else f"{it['difficulty']:.2f}"
            d = "—" if it["discrimination"] is None else f"{it['discrimination']:+.2f}"
            flags = "; ".join(f["message"] for f in it["flags"])
            print(f"  {it['item']:<14} p={p:<5} r={d:<6} {it['option_counts']}  {it['text'][:50]}  {flags}")
        return 0

    return common.run(args, run)


def register(sub: Any) -> None:
    """Register ``exam-engine bank …`` on the main parser's sub-commands."""
    bank = sub.add_parser("bank", help="question banks (quality department)").add_subparsers(
        dest="bank_command", required=True
    )
    p = bank.add_parser("import", help="check a bank file and store it as a new version")
    p.add_argument("file")
    p.add_argument("--discipline", required=True, help="discipline code")
    p.add_argument("--lang", dest="bank_language", required=True, choices=["kk", "ru"], help="language of the bank")
    p.add_argument("--format", help="platonus, platonus-docx, gift, aiken, moodle-xml, xlsx, qti (default: detect)")
    p.add_argument("--topic", help="topic of questions whose file gives none")
    p.add_argument("--difficulty", type=int, help="difficulty of questions whose file gives none")
    p.add_argument("--dry-run", action="store_true", help="check only; never writes")
    p.add_argument("--publish", action="store_true", help="publish the new version at once")
    p.add_argument("--append", action="store_true", help="add the file's questions to the latest version")
    p.add_argument(
        "--twins-by-position",
        action="store_true",
        help="give question n the twin key #n (kk and ru files with the same questions in the same order)",
    )
    p.add_argument(
        "--confirm",
        action="store_true",
        help="store a replace even though it removes questions or breaks kk/ru twins (listed otherwise)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import)

    p = bank.add_parser("export", help="write a version as GIFT or Platonus markup, or a QTI 3.0 package (-o)")
    p.add_argument("--discipline", required=True)
    p.add_argument("--lang", dest="bank_language", required=True, choices=["kk", "ru"])
    p.add_argument("--version", type=int, help="version number (default: the latest)")
    p.add_argument("--format", required=True, choices=["gift", "platonus", "qti"])
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    p.set_defaults(func=cmd_export)

    p = bank.add_parser("list", help="list bank versions")
    p.add_argument("--discipline")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = bank.add_parser("publish", help="publish a draft version (then immutable)")
    p.add_argument("version_id", type=int)
    p.add_argument(
        "--confirm",
        action="store_true",
        help="publish even though it removes questions of the published version or breaks kk/ru twins",
    )
    p.set_defaults(func=cmd_publish)

    p = bank.add_parser("template", help="write the blank XLSX template")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_template)

    p = bank.add_parser("analysis", help="item analysis of an exam's finished attempts")
    p.add_argument("exam_id", type=int)
    p.add_argument("--xlsx", help="also write the analysis as an XLSX file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_analysis)
