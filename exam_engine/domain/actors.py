"""Who is acting: a signed-in person, or an operator at the command line."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import PermissionDenied
from ..i18n import N_
from .roles import Permission, Role, allows, role_name


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None
    login: str
    role: Role
    language: str = "kk"
    full_name: str = ""
    ip: str | None = None

    @property
    def label(self) -> str:
        """How the audit log names this actor."""
        return f"user:{self.login}" if self.user_id is not None else self.login

    @property
    def journal_id(self) -> str:
        """How the journal names this person (its ``Actor.user_id``, a correction's ``filed_by``):
        the user id, or the operator's label at the command line. One kind of identity on both
        sides of the journal's "nobody reviews their own" check."""
        return str(self.user_id) if self.user_id is not None else self.login

    def require(self, permission: Permission) -> None:
        if not allows(self.role, permission):
            raise PermissionDenied("forbidden", N_("Your role ({role}) may not do this."), role=role_name(self.role))


def cli_actor(os_user: str) -> Actor:
    """The operator running ``exam-engine`` commands on the server, with full rights.

    Shell access to the server already means database access; the audit log still
    names the operating-system account that acted.
    """
    return Actor(user_id=None, login=f"cli:{os_user}", role=Role.ACADEMIC_ADMIN)
