"""What Django's error reports (the DEBUG 500 page, AdminEmailHandler's e-mails) may show:
nothing that sensitive_variables or sensitive_post_parameters mark, whatever DEBUG says."""

import re
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any

from django.http import HttpRequest
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# The user:password@ of a URL (DATABASE_URL, REDIS_URL, a cache LOCATION); a password may hold
# an unencoded "/", so everything up to the last "@" counts.
_URL_USERINFO_RE = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)[^@\s]*@", re.IGNORECASE)
_WRAPPER = "sensitive_variables_wrapper"


class SecretsFilter(SafeExceptionReporterFilter):
    """Django's SafeExceptionReporterFilter, on whatever DEBUG says.

    Django switches its filter off when DEBUG is on (is_active), as a debugging site is assumed
    to be a developer's own. Loadbay's is not: `make run` writes DEBUG=true, and the technical
    500 page is shown to whoever made the request, for instance a user with an edit share
    testing another user's connector. So what sensitive_variables and sensitive_post_parameters
    mark (every function and view holding an Access Key Secret) stays hidden there too.

    It also hides the user and password in URL-valued settings and request.META entries, such
    as DATABASE_URL and REDIS_URL, whose names Django's pattern does not catch.
    """

    def is_active(self, request: HttpRequest | None) -> bool:
        return True

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):  # str subclasses too, e.g. django-csp's lazy 'self'
            text = str(cleansed)
            hidden = _URL_USERINFO_RE.sub(rf"\g<scheme>{self.cleansed_substitute}@", text)
            return cleansed if hidden == text else hidden
        return cleansed


class SecretsReporter(ExceptionReporter):
    """Django's ExceptionReporter, which also hides the locals of every frame that ran inside a
    function marked sensitive_variables(), by the frames' order in the traceback.

    Django's filter finds the marking by walking each frame's callers (f_back), but once the
    exception has unwound, a generator's frame has no caller: every frame below a generator
    (a run's listing, botocore's paginator, and the signer holding the secret under them) was
    shown in full. In a traceback each frame ran inside the frames before it, generators
    included, and a chained exception's traceback starts in a frame of the one it caused.
    """

    def get_traceback_frames(self) -> list[dict[str, Any]]:
        self._hidden = _frames_inside_sensitive_calls(self.exc_value, self.tb)
        return super().get_traceback_frames()

    def get_exception_traceback_frames(
        self, exc_value: BaseException | None, tb: TracebackType | None
    ) -> Iterator[dict[str, Any]]:
        hidden: set[FrameType] = getattr(self, "_hidden", set())
        for frame in super().get_exception_traceback_frames(exc_value, tb):
            if frame.get("tb") is not None and frame["tb"].tb_frame in hidden:
                substitute = self.filter.cleansed_substitute
                frame["vars"] = [(name, substitute) for name, _ in frame["vars"]]
            yield frame


def _frames_inside_sensitive_calls(
    exc_value: BaseException | None, tb: TracebackType | None
) -> set[FrameType]:
    """The frames of the exception's traceback, and of the tracebacks of its causes and
    contexts, that ran inside a call of a function marked sensitive_variables()."""
    hidden: set[FrameType] = set()
    seen: set[int] = set()
    while exc_value is not None and id(exc_value) not in seen:
        seen.add(id(exc_value))
        inside = tb is not None and (tb.tb_frame in hidden or _called_from_wrapper(tb.tb_frame))
        while tb is not None:
            if inside:
                hidden.add(tb.tb_frame)
            inside = inside or _is_wrapper(tb.tb_frame)
            tb = tb.tb_next
        exc_value = exc_value.__cause__ or (
            None if exc_value.__suppress_context__ else exc_value.__context__
        )
        tb = exc_value.__traceback__ if exc_value is not None else None
    return hidden


def _is_wrapper(frame: FrameType) -> bool:
    return frame.f_code.co_name == _WRAPPER and _WRAPPER in frame.f_locals


def _called_from_wrapper(frame: FrameType | None) -> bool:
    while frame is not None:
        if _is_wrapper(frame):
            return True
        frame = frame.f_back
    return False
