"""Exceptions with a meaning callers (and the HTTP server) can act on.

The server maps each class to one status code, so a remote store raises the same exception a
local one does.
"""

from __future__ import annotations


class AglError(Exception):
    """Base class of every error Agent Lightning raises on purpose."""

    status_code = 500


class InvalidRequestError(AglError, ValueError):
    """The caller asked for something malformed; the message names the field and the fix."""

    status_code = 400


class NotFoundError(AglError, KeyError):
    """A rollout, attempt, resources version or worker that does not exist."""

    status_code = 404

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else "not found"


class AuthenticationError(AglError):
    """The server refused the bearer token (missing or wrong ``AGL_SERVER_TOKEN``)."""

    status_code = 401


class ConflictError(AglError):
    """The request is valid but the object's current state does not allow it."""

    status_code = 409


class AttemptSupersededError(ConflictError):
    """A write from an attempt that is no longer its rollout's live attempt (the fencing check).

    A newer attempt took over, the watchdog ended this one for good (timeout, or unresponsive
    with no retry left), or the rollout was cancelled. The message starts with
    ``attempt superseded`` and names the rollout's real status; a runner that gets it stops
    working on the rollout.
    """


class PayloadTooLargeError(AglError):
    status_code = 413


class PluginError(AglError):
    """A plugin misbehaved while registering (bad name, duplicate, wrong type)."""


class PluginNotFoundError(AglError, LookupError):
    """Nothing installed provides the requested store scheme, bus, algorithm, ...

    The message lists what is available and, only when this project ships a distribution that
    provides exactly that kind and name, the pip command that installs it; for other names it
    offers the close matches instead (a package name made up from a typo invites typosquatting).
    """

    def __init__(
        self,
        kind: str,
        name: str,
        available: list[str],
        install_hint: str | None,
        *,
        suggestions: list[str] | None = None,
        notes: list[str] | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.available = available
        self.install_hint = install_hint
        self.suggestions = list(suggestions or [])
        self.notes = list(notes or [])
        msg = f"no installed plugin provides {kind} {name!r}"
        if self.suggestions:
            msg += "; did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        msg += f" (available: {', '.join(sorted(available)) or 'none'})"
        if install_hint:
            msg += f"; install one with: {install_hint}"
        for note in self.notes:
            msg += f"; {note}"
        super().__init__(msg)


class PluginDisabledError(PluginNotFoundError):
    """The plugin that provides the requested name is installed but disabled.

    A subclass of :class:`PluginNotFoundError` so callers that handle "not available" keep
    working; the message says which variable disabled it instead of suggesting an install.
    """

    def __init__(self, kind: str, name: str, available: list[str], reason: str) -> None:
        self.reason = reason
        AglError.__init__(self, f"{kind} {name!r} is not available: {reason}")
        self.kind = kind
        self.name = name
        self.available = available
        self.install_hint = None
        self.suggestions = []
        self.notes = [reason]


class BackendUnavailableError(AglError, ConnectionError):
    """A backend server (database, Redis, RabbitMQ, an LLM upstream) could not be reached."""

    status_code = 503


class NotSupportedError(AglError, NotImplementedError):
    """The backend does not offer this operation (e.g. event history on RabbitMQ)."""

    status_code = 501
