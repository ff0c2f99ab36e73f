"""Typed errors of the PrestaShop Webservice client.

Every error is a ``ShopError`` (a ``core.errors.SincroError``): one line that names
the shop URL, the method and resource, what the shop said (its error code and
message when it sent one) and, in ``hint``, what to do about it. Messages never
contain the Webservice key: the key is only ever sent in the Authorization header,
and every text that reaches an exception is scrubbed of it anyway.
"""

from __future__ import annotations

from core.errors import SincroError

__all__ = [
    "ShopAuthError",
    "ShopBadRequest",
    "ShopConnectionError",
    "ShopError",
    "ShopMalformedResponse",
    "ShopMethodNotAllowed",
    "ShopNotFound",
    "ShopNotWebservice",
    "ShopOversizedPage",
    "ShopPermissionError",
    "ShopRateLimited",
    "ShopRedirect",
    "ShopResponseTooLarge",
    "ShopServerError",
    "ShopTLSError",
    "ShopTimeLimit",
    "ShopTimeout",
    "ShopUnavailable",
    "WebserviceDisabled",
]


def one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class ShopError(SincroError):
    """A PrestaShop Webservice call failed.

    Attributes: ``status`` (HTTP status or None when no answer), ``code`` (the
    shop's first error code or None), ``shop_message`` (the shop's own message,
    one line), ``hint`` (how to fix), ``shop_url``, ``method``, ``resource``.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status: int | None = None,
        code: int | None = None,
        shop_message: str | None = None,
        shop_url: str = "",
        method: str = "",
        resource: str = "",
    ) -> None:
        super().__init__(one_line(message, 400), hint=one_line(hint, 500) if hint else None)
        self.status = status
        self.code = code
        self.shop_message = one_line(shop_message) if shop_message else None
        self.shop_url = shop_url
        self.method = method
        self.resource = resource

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r})"
        )

    def __reduce__(self):  # picklable despite keyword-only arguments
        return (
            _rebuild,
            (type(self), self.message, self.hint, self.status, self.code, self.shop_message,
             self.shop_url, self.method, self.resource),
        )


def _rebuild(cls, message, hint, status, code, shop_message, shop_url, method, resource):
    return cls(message, hint=hint, status=status, code=code, shop_message=shop_message,
               shop_url=shop_url, method=method, resource=resource)


class ShopAuthError(ShopError):
    """Wrong, disabled, badly formatted or missing key (401 codes 17/18/20/21, plain 401)."""


class ShopPermissionError(ShopError):
    """The key may not use this resource/method (401 code 26, 405 code 25, 403 code 132)."""


class WebserviceDisabled(ShopError):
    """503 code 22: the Webservice is switched off in the back office."""


class ShopNotFound(ShopError):
    """404: the object does not exist, or /api/ is not routed to PrestaShop."""


class ShopMethodNotAllowed(ShopError):
    """405 codes 23/101: the method does not exist for this version or resource."""


class ShopBadRequest(ShopError):
    """400 (and 500s that PHP >= 7.4 gives for 400 problems): the request was refused."""


class ShopServerError(ShopError):
    """500/501: the shop failed (PHP notices, save failure, module error)."""


class ShopUnavailable(ShopError):
    """502/503/504 after the retries: the shop or its host is down or overloaded."""

    retryable = True


class ShopRateLimited(ShopUnavailable):
    """429 after the retries: the host limits the request rate."""


class ShopNotWebservice(ShopError):
    """The answer is not the Webservice's: an HTML page (maintenance, login, wrong URL)."""


class ShopRedirect(ShopError):
    """The shop redirects /api/ elsewhere (canonical URL, http->https)."""

    def __init__(self, message: str, *, location: str = "", **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.location = location


class ShopTLSError(ShopError):
    """The TLS certificate could not be verified (verification is never turned off)."""


class ShopTimeout(ShopError):
    """No (complete) answer within the timeout, after the retries."""

    retryable = True


class ShopConnectionError(ShopError):
    """The shop could not be reached (DNS, refused, reset), after the retries."""

    retryable = True


class ShopMalformedResponse(ShopError):
    """A 2xx answer whose body is not valid XML/JSON of the expected shape."""


class ShopOversizedPage(ShopMalformedResponse):
    """A list answer holding more entries than were asked for (``limit=offset,n`` answered
    with more than n, or an id batch with more objects than ids): nothing of it is used."""


class ShopResponseTooLarge(ShopError):
    """The answer grew past the account's maximum response size; reading stopped there."""


class ShopTimeLimit(ShopError):
    """The run's time limit for the shop side is used up (not retried)."""
