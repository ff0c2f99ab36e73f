"""The bounds an account puts on its shop: answer size, request time, run time, Retry-After.

Each bound is an account option (its default in ``core.accounts.DEFAULT_OPTIONS``), set
with ``sincro account edit NAME --max-response-mb N --request-timeout S --run-timeout S
--retry-after-cap S`` and handed to the client by ``core.sync.shop.open_shop``:

* ``max_response_mb``: the largest answer read for one request; reading stops past it;
* ``request_timeout``: wall-clock seconds for one request, from sending it to the last
  byte of its answer (a shop dripping one byte every few seconds is cut there);
* ``run_timeout``: seconds a run may spend waiting for the shop (requests and the waits
  between retries), so a slow shop cannot hold a run and its lease for ever;
* ``retry_after_cap``: the longest wait a ``Retry-After`` header is honoured for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.accounts import Account, AccountOptions, LimitOption

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limit:
    option: LimitOption  # account option, also the argparse dest of the flag
    unit: str  # "MB" or "s"
    maximum: float
    kwarg: str  # PrestaShopClient keyword
    scale: int = 1  # option value -> client value

    @property
    def flag(self) -> str:
        return "--" + self.option.replace("_", "-")

    def check(self, raw: Any, *, account: str | None = None) -> int | float:
        """The value as a positive finite number within bounds, else one clear ConfigError."""
        text = str(raw).strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if isinstance(raw, bool) or not math.isfinite(value) or not 0 < value <= self.maximum:
            unit = "MB" if self.unit == "MB" else "seconds"
            where = f"account {account}: option {self.option}" if account else self.flag
            raise ConfigError(
                f"invalid {where} {text[:40]!r}: give a number of {unit} above 0 "
                f"and at most {self.maximum:g}",
                hint=f"e.g. 'sincro account edit {account or 'NAME'} {self.flag} "
                     f"{DEFAULTS_HINT[self.option]}'",
            )
        return int(value) if value.is_integer() else value


LIMITS: tuple[Limit, ...] = (
    Limit("max_response_mb", "MB", 1024, "max_response_bytes", MB),
    Limit("request_timeout", "s", 3600, "timeout"),
    Limit("run_timeout", "s", 86400, "run_timeout"),
    Limit("retry_after_cap", "s", 3600, "retry_after_cap"),
)
DEFAULTS_HINT = {"max_response_mb": "64", "request_timeout": "120", "run_timeout": "3600",
                 "retry_after_cap": "120"}


def options_from_args(args: Any, out: AccountOptions) -> None:
    """``account edit`` flags into the options dict (validated)."""
    for limit in LIMITS:
        raw = getattr(args, limit.option, None)
        if raw is not None:
            out[limit.option] = limit.check(raw)


def client_options(account: Account) -> dict[str, Any]:
    """PrestaShopClient keywords from an account's options (stored values checked again)."""
    out: dict[str, Any] = {"account": account.name}
    shop_id = account.option("shop_id")
    if shop_id is not None:  # an account bound to one shop of a multishop install
        out["shop_id"] = shop_id
    for limit in LIMITS:
        value = account.option(limit.option)
        if value is None:
            continue
        value = limit.check(value, account=account.name)
        out[limit.kwarg] = int(value * limit.scale) if limit.scale != 1 else value
    return out
