"""Adding, enrolling and removing a gateway: its registry row, its broker account and its
one-time enrollment code, kept in step.

- **add**: the gateway is registered at its station, its broker account made with the
  gateway ACL and a password nobody knows, and a code issued (earlier unused codes of
  the gateway stop working);
- **enroll**: the code is spent, the account given a fresh password, and the gateway
  handed its identity, broker, CA certificate, password and operator keys, once;
- **remove**: the account is shut out (a connected gateway is disconnected), its unused
  codes withdrawn, and the gateway forgotten.

No password is ever stored: the one handed out at enrollment is made then, and an
enrollment that cannot set it on the broker leaves the code unspent.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from contract.enrollment import EnrollmentBundle, normalise_code
from dashboard.core.config import ProvisioningSettings
from dashboard.services.gateway_accounts import BrokerUnavailableError, GatewayAccounts
from dashboard.storage.enrollments import EnrollmentStore, IssuedCode
from dashboard.storage.store import Store
from servicekit.broker_accounts import gateway_acl, gateway_username


class ProvisioningOffError(Exception):
    """`[provisioning] mode` is `off`: the central makes no broker accounts."""


class GatewayExistsError(Exception):
    """The gateway is known already; adding it again would cut off the one running."""


@dataclass(frozen=True, slots=True)
class AddedGateway:
    """A gateway just added: its broker username and the code to enroll it with."""

    station_id: str
    gateway_id: str
    username: str
    code: str
    expires_at: str
    command: str
    """The command a technician runs on the gateway."""


class GatewayProvisioning:
    """Gateways' accounts and enrollment codes over the store and the broker."""

    def __init__(
        self,
        settings: ProvisioningSettings,
        accounts: GatewayAccounts | None,
        codes: EnrollmentStore,
        store: Store,
        broker_url: str,
        central_url: str,
        operator_keys: Callable[[], dict[str, str]],
    ) -> None:
        self.settings = settings
        self.accounts = accounts
        self.codes = codes
        self.store = store
        self.broker_url = settings.gateway_broker_url or broker_url
        self.central_url = settings.central_url or central_url
        self.operator_keys = operator_keys

    def _accounts(self) -> GatewayAccounts:
        if self.accounts is None:
            raise ProvisioningOffError(
                "gateway provisioning is off: set [provisioning] mode to dynsec or "
                "password_file in the central's configuration"
            )
        return self.accounts

    def add(self, station_id: str, gateway_id: str, by: str, replace: bool = False) -> AddedGateway:
        """Register a gateway, make its broker account and issue its code.

        `ValueError` for ids that are not slugs, `StationNotFoundError`,
        `GatewayExistsError` for a known gateway unless `replace` (then its account is
        made afresh and the gateway must enroll again), `BrokerUnavailableError`."""
        accounts = self._accounts()
        username = gateway_username(station_id, gateway_id)
        known = {row.gateway_id for row in self.store.gateways(station_id)}
        self.store.station(station_id)
        if gateway_id in known and not replace:
            raise GatewayExistsError(
                f"gateway {gateway_id!r} of {station_id!r} exists; add it with replace "
                "to make its account afresh (the running gateway is cut off until it "
                "enrolls again)"
            )
        accounts.create(username, gateway_acl(station_id, gateway_id))
        self.store.add_gateway(station_id, gateway_id)
        issued = self.codes.issue(
            station_id, gateway_id, by, timedelta(seconds=self.settings.code_ttl_s)
        )
        return AddedGateway(
            station_id, gateway_id, username, issued.code, issued.expires_at, self._command(issued)
        )

    def _command(self, issued: IssuedCode) -> str:
        return f"yizhan gateway enroll {issued.code} --central {self.central_url}"

    def enroll(self, code: str) -> EnrollmentBundle:
        """Spend `code` and hand out the gateway's credentials.

        `MalformedCodeError`, `CodeRefusedError` (unknown, expired, spent, revoked) or
        `BrokerUnavailableError`, and then nothing has changed."""
        normalise_code(code)
        accounts = self._accounts()
        claimed = self.codes.claim(code)
        username = gateway_username(claimed.station_id, claimed.gateway_id)
        password = secrets.token_urlsafe(24)
        try:
            accounts.set_password(username, password)
            ca = self.settings.ca_file.read_text("ascii") if self.settings.ca_file else None
        except (BrokerUnavailableError, OSError):
            self.codes.unclaim(code)
            raise
        return EnrollmentBundle(
            station_id=claimed.station_id,
            gateway_id=claimed.gateway_id,
            broker_url=self.broker_url,
            username=username,
            password=password,
            ca_certificate=ca,
            operator_keys={**self.settings.operator_keys, **self.operator_keys()},
        )

    def remove(self, station_id: str, gateway_id: str) -> bool:
        """Shut the gateway's account out, withdraw its codes and forget it; whether it
        was known. `BrokerUnavailableError` leaves the gateway registered, to try again.
        With provisioning off the central made no account, so only the registry changes."""
        if self.accounts is not None:
            self.accounts.remove(gateway_username(station_id, gateway_id))
        self.codes.revoke_gateway(station_id, gateway_id)
        return self.store.remove_gateway(station_id, gateway_id)
