"""Domain errors. Each carries a stable code and a message in Chinese first, English after;
the API maps the kind to an HTTP status."""


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, zh: str, en: str, *, code: str | None = None, extra: dict | None = None):
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en
        if code:
            self.code = code
        self.extra = extra or {}

    @property
    def message(self) -> str:
        return f"{self.zh} / {self.en}"


class Unauthorized(DomainError):
    """Not signed in, or the sign-in has ended (401)."""

    status = 401
    code = "unauthorized"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotAllowed(DomainError):
    """The action is not allowed in this state or for this role (422)."""

    status = 422
    code = "action_not_allowed"


class Invalid(DomainError):
    status = 422
    code = "invalid"


class Conflict(DomainError):
    status = 409
    code = "version_conflict"
