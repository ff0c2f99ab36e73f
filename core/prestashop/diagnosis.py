"""Diagnosis: a shop's answer, or the failure to get one, as one clear ``ShopError``.

Every error names the shop URL, the method and resource, what the shop said (its
error code and message) and, in ``hint``, what to do about it: which permission to
tick in the back office, which account option to raise, which proxy or module to
check (the error codes: docs/prestashop/PROTOCOL.md §3.4). Every text that reaches an error
passes through the account's ``scrub``, so the Webservice key never appears in one.

``Diagnosis`` knows the shop, the account's name and the scrub function; the
bounds an error talks about (request time, run time, answer size, retries,
Retry-After cap) are handed to each call by the transport or the client that
applies them, so a message always states the bound in force.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from core.prestashop.errors import (
    ShopAuthError,
    ShopBadRequest,
    ShopConnectionError,
    ShopError,
    ShopMalformedResponse,
    ShopMethodNotAllowed,
    ShopNotFound,
    ShopNotWebservice,
    ShopPermissionError,
    ShopRateLimited,
    ShopRedirect,
    ShopResponseTooLarge,
    ShopServerError,
    ShopTimeLimit,
    ShopTimeout,
    ShopTLSError,
    ShopUnavailable,
    WebserviceDisabled,
    one_line,
)
from core.prestashop.limits import MB
from core.prestashop.parse import (
    ApiError,
    BodyError,
    decode_body,
    errors_of,
    looks_like_html,
)

__all__ = [
    "IDEMPOTENT",
    "RETRY_STATUSES",
    "WS",
    "Diagnosis",
    "is_disabled",
    "scrubber",
    "secs",
]

# The retry policy: the transport applies it, the messages here say what it did.
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
PERMISSION_NAMES = {
    "GET": "View (GET)", "PUT": "Modify (PUT)", "POST": "Add (POST)",
    "DELETE": "Delete (DELETE)", "HEAD": "Fast view (HEAD)", "PATCH": "Modify (PATCH)",
}
_SINGULAR = {
    "addresses": "address", "order_histories": "order_history", "countries": "country",
    "currencies": "currency", "categories": "category", "taxes": "tax", "order_slip": "order_slip",
    "content_management_system": "content", "search": "search",
}
WS = "Advanced Parameters > Webservice"


def singular(resource: str) -> str:
    if resource in _SINGULAR:
        return _SINGULAR[resource]
    if resource.endswith("ies"):
        return resource[:-3] + "y"
    return resource[:-1] if resource.endswith("s") else resource


def secs(seconds: float) -> str:
    """``86400 s``, ``60 s``, ``1.2 s``, ``0.05 s``."""
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.2g} s"


def scrubber(secret: str) -> Callable[[str], str]:
    """A function writing ``***`` wherever ``secret`` appears in a text."""

    def scrub(text: str) -> str:
        return text.replace(secret, "***") if secret and text else text

    return scrub


def is_disabled(response: httpx.Response) -> bool:
    """A 503 carrying error 22: the Webservice is switched off (no point in retrying)."""
    if response.status_code != 503:
        return False
    try:
        return any(e.code == 22 for e in errors_of(decode_body(response.content)))
    except BodyError:
        return False


class Diagnosis:
    """One shop account's errors: ``shop_url`` names the shop in each message, ``account``
    the account in the commands a hint gives, ``scrub`` removes the key from every text."""

    def __init__(self, shop_url: str, scrub: Callable[[str], str], *,
                 account: str | None = None) -> None:
        self.shop_url = shop_url
        self.scrub = scrub
        self.account = account

    def __repr__(self) -> str:
        return f"Diagnosis({self.shop_url!r})"

    def error(self, cls: type[ShopError], method: str, resource: str, what: str, *,
              hint: str | None = None, status: int | None = None,
              errors: list[ApiError] | None = None, **kwargs: Any) -> ShopError:
        errors = errors or []
        code = errors[0].code if errors else None
        shop_message = "; ".join(
            (f"[{e.code}] " if e.code is not None else "") + one_line(e.message, 200)
            for e in errors
        ) or None
        where = resource or "/api/"
        text = f"{self.shop_url}: {method} {where}: {what}"
        if shop_message and shop_message not in what:
            text += f" (shop said: {shop_message})"
        return cls(
            self.scrub(text),
            hint=self.scrub(hint) if hint else None,
            status=status,
            code=code,
            shop_message=self.scrub(shop_message) if shop_message else None,
            shop_url=self.shop_url,
            method=method,
            resource=resource,
            **kwargs,
        )

    def edit_hint(self, flag: str) -> str:
        """The command that changes one of this account's bounds."""
        return f"'sincro account edit {self.account or 'NAME'} {flag}'"

    # ------------------------------------------------------------------ no answer, or too much

    def timeout_error(self, method: str, resource: str, attempts: int,
                      timeout: float) -> ShopError:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        return self.error(
            ShopTimeout, method, resource,
            f"no complete answer within {secs(timeout)} (request_timeout){tries}",
            hint="the shop is slow or unreachable: check it, or allow more time per request "
                 f"with {self.edit_hint('--request-timeout SECONDS')}",
        )

    def time_limit_error(self, method: str, resource: str, run_timeout: float | None,
                         why: str = "") -> ShopError:
        limit = secs(run_timeout or 0)
        return self.error(
            ShopTimeLimit, method, resource,
            f"this run's time for the shop ({limit}, run_timeout) is used up"
            + (f": {why}" if why else ""),
            hint="the shop is too slow for one run: check it, or allow more time with "
                 f"{self.edit_hint('--run-timeout SECONDS')}",
        )

    def too_large(self, method: str, resource: str, max_response_bytes: int,
                  announced: int | None = None) -> ShopError:
        limit = f"{max_response_bytes / MB:g} MB"
        what = (f"the answer announces {announced:,} bytes, over the {limit} limit"
                if announced is not None else f"the answer grew past the {limit} limit")
        return self.error(
            ShopResponseTooLarge, method, resource,
            f"{what} (max_response_mb); reading stopped and none of it was used",
            hint="answers this large are not normal for one page: check the shop (a module "
                 "adding data, a proxy); if they really are that large, allow more with "
                 f"{self.edit_hint('--max-response-mb MB')}",
        )

    def transport_error(self, exc: httpx.TransportError, method: str, resource: str,
                        attempts: int, timeout: float) -> ShopError:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(exc, httpx.TimeoutException):
            return self.timeout_error(method, resource, attempts, timeout)
        chain: list[BaseException] = []
        cur: BaseException | None = exc
        while cur is not None and len(chain) < 10:
            chain.append(cur)
            cur = cur.__cause__ or cur.__context__
        texts = " ".join(str(e) for e in chain)
        if any(isinstance(e, ssl.SSLError) for e in chain) or re.search(
            r"CERTIFICATE_VERIFY_FAILED|SSL|TLS|certificate", texts
        ):
            return self.error(
                ShopTLSError, method, resource,
                f"TLS failure: {one_line(str(exc) or type(exc).__name__, 160)}",
                hint="the shop's certificate could not be verified: install on the shop a valid "
                     "certificate from a public authority (Sincro checks it against the public "
                     "CA file it ships); verification cannot be turned off",
            )
        return self.error(
            ShopConnectionError, method, resource,
            f"cannot reach the shop{tries}: {one_line(str(exc) or type(exc).__name__, 160)}",
            hint="check the shop URL, DNS and that the shop is online",
        )

    # ------------------------------------------------------------------ answers

    def malformed(self, response: httpx.Response, method: str, resource: str,
                  exc: BodyError) -> ShopError:
        text = response.content[:4096].decode("utf-8", "replace")
        if re.search(r"(Notice|Warning|Deprecated|Fatal error|Parse error)\b.*?:", text):
            hint = ("PHP notices are printed into the Webservice answer: turn display_errors off "
                    "on the shop (Advanced Parameters > Performance > Debug mode off) or fix the module")
        else:
            hint = ("the answer is cut or not the Webservice's: check proxies/caches in front "
                    "of the shop and its PHP error log")
        return self.error(ShopMalformedResponse, method, resource,
                          f"malformed answer (HTTP {response.status_code}): {exc}",
                          hint=hint, status=response.status_code)

    def html_error(self, response: httpx.Response, method: str, resource: str) -> ShopError:
        text = response.content[:20000].decode("utf-8", "replace").lower()
        status = response.status_code
        if "maintenance" in text:
            what = f"the shop answers with its maintenance page (HTTP {status})"
            hint = ("the shop is in maintenance mode (Shop Parameters > General > Maintenance): "
                    "wait for it to end, or add this machine's IP to the maintenance IPs")
        elif re.search(r"type=[\"']?password|login|log in|sign in|connexion", text):
            what = f"an HTML login page instead of the Webservice (HTTP {status})"
            hint = ("a password protection or firewall stands in front of the shop: "
                    "let /api/ through it")
        else:
            what = f"an HTML page instead of Webservice XML/JSON (HTTP {status})"
            hint = (f"check the shop URL (the shop root; /api/ is added): {self.shop_url}api/ "
                    "must reach PrestaShop's webservice (URL rewriting on, Webservice enabled)")
        return self.error(ShopNotWebservice, method, resource, what, hint=hint, status=status)

    def status_error(self, response: httpx.Response, method: str, resource: str, *,
                     retries: int, retry_after_cap: float,
                     retry_after: Callable[[httpx.Response], float | None]) -> ShopError:
        """The error for a non-2xx answer. ``retries`` and ``retry_after_cap`` are the
        transport's, ``retry_after`` reads the seconds a ``Retry-After`` asks for."""
        status = response.status_code
        body = response.content
        if 300 <= status < 400:
            return self.redirect_error(response, method, resource)
        data: Any = None
        decoded = False
        if body.strip():
            try:
                data = decode_body(body, response.headers.get("Content-Type", ""))
                decoded = True
            except BodyError:
                decoded = False
        errors = errors_of(data)
        codes = {e.code for e in errors if e.code is not None}
        # PHP warnings (codes 2-15) often accompany the real error: name the real one first
        errors.sort(key=lambda e: 1 if e.code is not None and 2 <= e.code <= 15 else 0)
        err = lambda cls, what, hint=None: self.error(  # noqa: E731
            cls, method, resource, what, hint=hint, status=status, errors=errors)

        if status == 401:
            if 26 in codes:
                res = resource
                for e in errors:
                    if e.code == 26 and (m := re.search(r'type "([^"]+)"', e.message)):
                        res = m.group(1)
                perm = PERMISSION_NAMES.get(method, method)
                return err(ShopPermissionError, f'the key may not use the resource "{res}"',
                           f'in the shop\'s back office, {WS}, edit this key and tick '
                           f'"{perm}" for "{res}"')
            if not decoded and method == "HEAD":
                return err(ShopAuthError, "the key was refused (HTTP 401)",
                           f"check the key in {WS} (enabled, 32 characters); if it is right, the "
                           "web server drops the Authorization header: set \"Enable CGI mode for "
                           "PHP\" to Yes there")
            if not decoded:
                return err(ShopAuthError, "the shop received no key (HTTP 401 without a Webservice error)",
                           "the web server drops the Authorization header (PHP as CGI/FPM): in "
                           f"{WS} set \"Enable CGI mode for PHP\" to Yes, or pass HTTP_AUTHORIZATION "
                           "through in the web server's rewrite rules")
            if 18 in codes:
                return err(ShopAuthError, "the key is not in PrestaShop's format (32 characters)",
                           f"copy the key again from {WS}")
            if 17 in codes:
                return err(ShopAuthError, "the shop received an empty key",
                           "send the key as the Basic user name with an empty password")
            if 20 in codes:
                return err(ShopAuthError, "wrong or disabled Webservice key",
                           f"check the key in {WS}: it must exist there with Status enabled")
            if 21 in codes:
                return err(ShopPermissionError, "the key has no permission at all",
                           f"in {WS}, edit this key and tick the resources it needs")
            return err(ShopAuthError, "authentication refused (HTTP 401)",
                       f"check the key in {WS}")
        if status == 403:
            if 132 in codes:
                return err(ShopPermissionError, "the key is not allowed on this shop",
                           f"in {WS}, edit the key and tick this shop under its shop association")
            if looks_like_html(body[:2048].decode("utf-8", "replace")):
                return self.html_error(response, method, resource)
            return err(ShopPermissionError, "forbidden by the web server (HTTP 403)",
                       "a firewall or server rule blocks /api/: allow it for this machine")
        if status in (503, 502, 504, 429) and 22 in codes:
            return err(WebserviceDisabled, "the Webservice is disabled",
                       f"enable it in the shop's back office: {WS} > "
                       "\"Enable PrestaShop's webservice\" = Yes")
        html = body[:20000].decode("utf-8", "replace")
        if body.strip() and not decoded and looks_like_html(html) and not (
                status in RETRY_STATUSES and "maintenance" not in html.lower()):
            return self.html_error(response, method, resource)
        if status == 404:
            if not body.strip():
                if resource and "/" not in resource.strip("/"):
                    return err(ShopNotFound, "404 with an empty body",
                               f"{self.shop_url}api/{resource} is not served by PrestaShop's "
                               "webservice, or the object does not exist: check the shop URL "
                               "(subfolder?) and that URL rewriting for /api/ is active")
                return err(ShopNotFound, "not found (404 with an empty body)")
            if 131 in codes:
                return err(ShopNotFound, "the object does not exist on this shop")
            return err(ShopNotFound, "not found (HTTP 404)",
                       "check the shop URL and the object id")
        if status == 405:
            if 23 in codes:
                hint: str | None = ("PATCH needs PrestaShop 8.0 or later" if method == "PATCH"
                                    else "this PrestaShop does not support the method")
                return err(ShopMethodNotAllowed, f"method {method} is not valid here", hint)
            if 25 in codes:
                perm = PERMISSION_NAMES.get(method, method)
                return err(ShopPermissionError,
                           f'the key may not use {method} on "{resource}"',
                           f'in the shop\'s back office, {WS}, edit this key and tick '
                           f'"{perm}" for "{resource}"')
            return err(ShopMethodNotAllowed, f"method {method} is not allowed on {resource}",
                       "PrestaShop forbids this method for this resource")
        if status == 400 or (status == 500 and codes & set(range(27, 40))):
            hint = None
            if 27 in codes:
                hint = "the resource does not exist in this PrestaShop (or its module is missing)"
            elif codes & {32, 33, 34, 35, 36, 37, 38, 39}:
                hint = "the shop refused a list parameter; this PrestaShop may use other field names"
            return err(ShopBadRequest, f"request refused (HTTP {status})", hint)
        if status in (500, 501):
            php = [e for e in errors if (e.code is not None and 2 <= e.code <= 15)
                   or "PHP" in e.message or "Internal error" in e.message]
            if 46 in codes:
                return err(ShopServerError, f"the shop could not save the {singular(resource)}",
                           "the change may be partly applied: re-read the object before retrying")
            if 133 in codes:
                return err(ShopServerError, "stock depends on advanced stock management",
                           "turn off advanced stock management for this product or set stock there")
            if 127 in codes:
                return err(ShopServerError, "the shop could not parse the XML sent",
                           "report this to Sincro's maintainers")
            if php or not errors:
                return err(ShopServerError, f"the shop failed with PHP errors (HTTP {status})",
                           "a module or the PHP version breaks the Webservice: see the shop's "
                           "PHP error log")
            return err(ShopServerError, f"the shop failed (HTTP {status})")
        tries = f" after {retries + 1} attempts" if (
            method in IDEMPOTENT and retries) else ""
        asked = retry_after(response)
        wanted = f", asking to retry after {secs(asked)}" if asked is not None else ""
        capped = (f"; Sincro waits at most {secs(retry_after_cap)} of a Retry-After "
                  f"(retry_after_cap, {self.edit_hint('--retry-after-cap SECONDS')})"
                  if asked is not None and asked > retry_after_cap else "")
        if status == 429:
            return err(ShopRateLimited, f"rate limited (HTTP 429){tries}{wanted}",
                       "the shop's host limits how often it may be called: ask the host to "
                       "allow this machine, or sync this account less often" + capped)
        if status in (502, 503, 504):
            return err(ShopUnavailable, f"the shop is unavailable (HTTP {status}){tries}{wanted}",
                       "the shop or its host is down or overloaded; try again later" + capped)
        return err(ShopError, f"unexpected HTTP {status}")

    def redirect_error(self, response: httpx.Response, method: str, resource: str) -> ShopError:
        location = response.headers.get("Location", "")
        target = urljoin(str(response.request.url), location) if location else ""
        parts = urlsplit(target)
        canonical = ""
        if parts.scheme and parts.netloc:
            path = parts.path
            idx = path.find("/api")
            root = path[:idx] if idx >= 0 else ""
            canonical = f"{parts.scheme}://{parts.netloc}{root.rstrip('/')}/"
        if canonical and canonical != self.shop_url:
            hint = (f"the shop's canonical URL is {canonical}: use it as the shop URL "
                    "(PrestaShop redirects other hosts and http to its configured domain)")
        else:
            hint = "the shop redirects /api/: check the shop URL and its SEO & URLs settings"
        return self.error(
            ShopRedirect, method, resource,
            f"redirected (HTTP {response.status_code}) to {canonical or 'another URL'}",
            hint=hint, status=response.status_code, location=self.scrub(target),
        )
