"""The weekly digest (issue #15): ``build`` makes its figures, ``send`` e-mails them (``send-digests``)."""

from .build import Digest, Scope, build_digest, last_week, scope_of, week_of

__all__ = ["Digest", "Scope", "build_digest", "last_week", "scope_of", "week_of"]
