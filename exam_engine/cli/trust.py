"""Operator commands of the trust layer: ``audit verify|seal`` and ``receipt verify``.

Exit codes as in :mod:`exam_engine.cli.dispatch`: 0 done / valid, 1 refused / invalid (with the
reason on stderr), 2 usage or configuration error (e.g. no backup key).
Reports are for operators and in English, like the rest of the operator CLI's reports;
refusals (:class:`exam_engine.errors.Refusal`: a damaged archive, a non-empty target, a
malformed audit row) are one line in EXAM_LANG, printed by the CLI's entry point.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from ..config import load_settings
from ..errors import Refusal
from ..i18n import N_
from ..security.audit_chain import BreakKind


def _verifier(settings: Any, public_keys: list[str] | None) -> Any:
    from ..security.signing import verifier_for

    extra = [Path(p) for p in public_keys or []]
    # With public keys given explicitly, the private key need not be on this machine.
    return verifier_for(settings, extra, with_current=not extra)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from ..db import create_engine
    from ..services.audit_seal import verify_database

    settings = load_settings(create_secret=False, require_secret=False)
    verifier = _verifier(settings, args.public_key)

    async def run() -> Any:
        engine = create_engine(settings.database_url)
        try:
            return await verify_database(engine, verifier)
        finally:
            await engine.dispose()

    report = asyncio.run(run())
    out = {
        "ok": report.ok,
        "seals": report.seals,
        "sealed_rows": report.sealed_rows,
        "unsealed_rows": report.unsealed_rows,
        "head": report.head_hash,
        "first_break": None
        if report.ok
        else {
            "kind": report.first_break.kind.value,
            "seal_id": report.first_break.seal_id,
            "row_id": report.first_break.row_id,
            "detail": report.first_break.detail,
        },
    }
    if args.json:
        print(json.dumps(out, indent=2))
    elif report.ok:
        print(
            f"audit chain intact: {report.seals} seals over {report.sealed_rows} rows, "
            f"{report.unsealed_rows} rows awaiting their seal; head {report.head_hash}"
        )
    if not report.ok:
        found = report.first_break
        if found.kind is BreakKind.ROW_MALFORMED:
            raise Refusal(
                N_("Audit chain broken: audit row {row}, column «{column}» cannot be read ({problem})."),
                row=found.row_id,
                column=found.column,
                problem=found.problem,
            )
        if found.kind is BreakKind.SEAL_MALFORMED:
            raise Refusal(
                N_("Audit chain broken: audit seal {seal}, column «{column}» cannot be read ({problem})."),
                seal=found.seal_id,
                column=found.column,
                problem=found.problem,
            )
        print(f"AUDIT CHAIN BROKEN: {found.describe()}", file=sys.stderr)
        return 1
    return 0


def cmd_audit_seal(args: argparse.Namespace) -> int:
    from ..bootstrap import build_services
    from ..security.signing import signer_for
    from ..services.audit_seal import seal_pending

    async def run() -> int:
        services = build_services(load_settings())
        try:
            return await seal_pending(services.engine, signer_for(services.settings), services.clock)
        finally:
            await services.close()

    print(f"sealed {asyncio.run(run())} audit rows")
    return 0


def cmd_receipt_verify(args: argparse.Namespace) -> int:
    from ..db import create_engine
    from ..services.receipts import check

    try:
        document = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        print(f"INVALID receipt: malformed: not JSON ({error})", file=sys.stderr)
        return 1
    if isinstance(document, dict) and isinstance(document.get("receipt"), dict):
        document = document["receipt"]  # the whole submit response was saved
    settings = load_settings(create_secret=False, require_secret=False)
    verifier = _verifier(settings, args.public_key)

    async def run() -> Any:
        engine = None if args.offline else create_engine(settings.database_url)
        try:
            return await check(engine, document, verifier)
        finally:
            if engine is not None:
                await engine.dispose()

    result = asyncio.run(run())
    if not result.valid:
        print(f"INVALID receipt: {result.problem.value}: {result.detail}", file=sys.stderr)
        return 1
    body = result.body
    print(
        f"VALID receipt: attempt {body.attempt_id}, submitted {body.submitted_at}, {body.answers} answers; "
        f"{result.detail}"
    )
    return 0


def register(sub: Any) -> None:
    """Add the trust commands to the ``exam-engine`` parser's subcommands."""
    audit = sub.add_parser("audit", help="the sealed audit log").add_subparsers(dest="audit_command", required=True)
    p = audit.add_parser("verify", help="recompute the hash chain; names the first broken link (exit 1)")
    p.add_argument("--public-key", action="append", help="trust this Ed25519 public key (PEM); repeatable")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit_verify)
    p = audit.add_parser("seal", help="seal the audit rows not sealed yet (the server does it every few seconds)")
    p.set_defaults(func=cmd_audit_seal)

    receipt = sub.add_parser("receipt", help="submit receipts").add_subparsers(dest="receipt_command", required=True)
    p = receipt.add_parser("verify", help="check a receipt's signature and the stored answers (exit 1 if invalid)")
    p.add_argument("file")
    p.add_argument("--offline", action="store_true", help="check the signature only, without the database")
    p.add_argument("--public-key", action="append", help="trust this Ed25519 public key (PEM); repeatable")
    p.set_defaults(func=cmd_receipt_verify)
