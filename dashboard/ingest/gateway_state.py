"""A gateway going online or offline, with its `gateway_offline` alert: the same whether a
message in a batch (a birth, a last will, anything heard after silence) or a periodic
check (silence) says so."""

from __future__ import annotations

from dashboard.core.alert_rules import AlertKind, gateway_offline
from dashboard.core.changes import AlertThresholds, BatchResult
from dashboard.storage import alerts, gateways
from dashboard.storage.db import Connection


def set_online(
    db: Connection,
    station_id: str,
    gateway_id: str,
    online: bool,
    reason: str | None,
    thresholds: AlertThresholds,
    result: BatchResult,
) -> None:
    """Mark a gateway on- or offline (`reason`: `gateways.WILL` or `gateways.SILENT`),
    open or resolve its alert, and note both in `result`."""
    result.gateways.append(gateways.set_online(db, station_id, gateway_id, online, reason))
    if online:
        result.alerts += alerts.resolve_condition(
            db, AlertKind.GATEWAY_OFFLINE, station_id, gateway_id
        )
        return
    detail = gateway_offline(
        station_id, gateway_id, reason == gateways.WILL, thresholds.offline_after_s
    )
    change = alerts.open_alert(db, AlertKind.GATEWAY_OFFLINE, station_id, gateway_id, None, detail)
    if change is not None:
        result.alerts.append(change)
