"""The Webservice's error answers: an HTTP status and PrestaShop's ``(code, message)`` pairs.

See docs/prestashop/PROTOCOL.md §3.3 (error body) and §3.4 (error-code catalogue).
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, errors: list[tuple[int | None, str]], *, auth: bool = False,
                 php_warning: bool = False) -> None:
        super().__init__(errors[0][1] if errors else "")
        self.status = status
        self.errors = errors
        self.auth = auth
        self.php_warning = php_warning


def _err(status: int, code: int | None, msg: str, **kw: Any) -> ApiError:
    return ApiError(status, [(code, msg)], **kw)


def levenshtein(a: str, b: str) -> int:
    if a == b:
        return 0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def closest(value: str, words: list[str]) -> str:
    """PrestaShop's ``getClosest()`` (ties go to the later word)."""
    shortest = -1
    best = ""
    for w in words:
        lev = levenshtein(value, w)
        if lev == 0:
            return w
        if lev <= shortest or shortest < 0:
            best, shortest = w, lev
    return best


def did_you_mean(status: int, label: str, value: str, available: list[str], code: int) -> ApiError:
    msg = f'{label}. Did you mean: "{closest(value, available)}"?'
    if len(available) > 1:
        msg += ' The full list is: "' + '", "'.join(available) + '"'
    return _err(status, code, msg)
