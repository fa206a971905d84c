"""Errors the core raises; front ends show `message` and `hint` and never a traceback."""

from __future__ import annotations


class MiaError(Exception):
    """Base of every error a user may see: what went wrong, and how to fix it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(MiaError):
    """The user's input was wrong (bad argument, bad value)."""

    exit_code = 2


class ConfigError(MiaError):
    """A setting is missing, malformed, or a secrets file is unsafe."""


class MissingCredentialError(ConfigError):
    """A service needs a credential that no source provides."""


class WorkspaceError(MiaError):
    """A path is outside the workspace, or a workspace file is unusable."""


class RegistryError(MiaError):
    """The SQLite registry is missing a record or cannot be used."""


class NotFoundError(RegistryError):
    """A named record (agent, run, trigger) does not exist."""


class ServiceError(MiaError):
    """A remote service answered with an error that retrying will not fix."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        service: str = "",
        status: int | None = None,
        code: str | int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message, hint)
        self.service = service
        self.status = status
        self.code = code
        self.retryable = retryable


class ContextLengthExceeded(ServiceError):
    """The prompt (plus the requested completion) does not fit the model's context window.

    `limit` is the context size in tokens when the service or the model profile says it (else None).
    """

    def __init__(self, message: str, hint: str | None = None, *, limit: int | None = None, **kwargs: object) -> None:
        super().__init__(message, hint, **kwargs)  # type: ignore[arg-type]
        self.limit = limit


class SourcesUnreachable(ServiceError):
    """Every search of a run failed: no source answered, so nothing (not even "no results") is known.

    The run stays resumable; `failures` maps each source's service name to why it failed.
    """

    def __init__(self, message: str, hint: str | None = None, *, failures: dict[str, str] | None = None) -> None:
        super().__init__(message, hint, retryable=True)
        self.failures = failures or {}


class UnusableAnswer(ServiceError):
    """The model answered, but nothing in the answer can be used (it repeated its instructions, say).

    `usage` is what the failed attempts cost (a `mia.models.Usage`, or None), so a caller can still record it.
    """

    def __init__(self, message: str, hint: str | None = None, *, usage: object = None, **kwargs: object) -> None:
        super().__init__(message, hint, **kwargs)  # type: ignore[arg-type]
        self.usage = usage


class EmptyAnswer(UnusableAnswer):
    """Nothing was left of the answer once its reasoning was removed (or it was empty), even after a retry.

    The hint names `llm.max_tokens` or a non-reasoning model; callers may write a digest instead.
    """


class IncompleteStream(ServiceError):
    """A streamed answer ended without a finish reason: interrupted, or the connection closed early.

    `usage` is an estimate of what the stream cost up to where it ended (a `mia.models.Usage`, or None).
    """

    def __init__(self, message: str, hint: str | None = None, *, usage: object = None, **kwargs: object) -> None:
        super().__init__(message, hint, **kwargs)  # type: ignore[arg-type]
        self.usage = usage


class BudgetExceeded(MiaError):
    """The next paid call would go over the run's budget."""


class RunConflict(MiaError):
    """Another process holds the lease of this run."""


class RunFailed(MiaError):
    """A durable run ended in the failed state."""
