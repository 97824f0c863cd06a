"""Alert delivery channels (issue 15): Telegram, Zalo OA and webhook channels, their test messages and
the delivery log, for the province admin. A Zalo channel shows whether it renews its access token, until
when the token runs, and, when Zalo refused a renewal, that it waits for a new refresh token. Every action calls :mod:`sync_server.alert_delivery` (the CLI
``hailong-server alert-channels`` calls the same functions) and is audited there. Secrets are
written, never shown back: the page says only whether one is set.
"""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import Form, Request

from hailong_core.timeutil import format_rfc3339

from sync_server import alert_delivery
from sync_server.kiosk_config import province_today
from sync_server.web.access import FormError, Pages, client_ip, viewer
from sync_server.web.i18n import request_lang, translator
from sync_server.web.render import done, render, when
from sync_server.web.sites_view import tree_order

pages = Pages()
LOG_ROWS = 100
INDENT = "\u2003"  # an em space per level of the unit tree in the picker


def _refused(request: Request, exc: alert_delivery.ChannelError) -> FormError:
    return FormError(translator(request_lang(request))(f"alerts_err_{exc.reason}"))


def _ms_when(ms: int) -> str:
    return when(format_rfc3339(datetime.fromtimestamp(ms / 1000, timezone.utc)), with_seconds=True)


def _unit_choices(state) -> list[tuple[str, str]]:
    """The province's districts and communes in force today, in tree order, indented by depth."""
    today = province_today(state.settings.utc_offset_h)
    units = [u for u in state.storage.units_as_of(today) if u["level"] != "province"]
    tree, depth = tree_order(units)
    return [(u["code"], f"{INDENT * depth[u['code']]}{u['code']} — {u['name']}") for u in tree]


@pages.get("/admin/alerts", access="admin")
def alerts_page(request: Request):
    state = request.app.state.hailong
    storage, settings = state.storage, state.settings
    channels = storage.alert_channels()
    names = {u["code"]: u["name"] for u in storage.units()}
    deliveries = storage.alert_deliveries(LOG_ROWS)
    duty = next((d for d in storage.duties() if d["name"] == "alerts"), None)
    tokens = {c["id"]: alert_delivery.credential_state(storage, c) for c in channels if c["kind"] == "zalo"}
    return render(request, "alerts.html", channels=channels, names=names, deliveries=deliveries, duty=duty, tokens=tokens,
                  counts=storage.alert_delivery_counts(), units=_unit_choices(state), shown=alert_delivery.shown_target,
                  settings=settings, ms_when=_ms_when)


@pages.post("/admin/alerts", access="admin")
def alert_channel_add(request: Request, kind: str = Form(""), name: str = Form(""), target: str = Form(""),
                      secret: str = Form(""), unit_code: str = Form(""), officer_results: str = Form(""),
                      app_id: str = Form(""), app_secret: str = Form(""), refresh_token: str = Form("")):
    try:
        alert_delivery.add_channel(request.app.state.hailong.storage, kind=kind, name=name, target=target, secret=secret,
                                   unit_code=unit_code, officer_results=officer_results == "1", app_id=app_id,
                                   app_secret=app_secret, refresh_token=refresh_token, user=viewer(request).user,
                                   ip=client_ip(request))
    except alert_delivery.ChannelError as exc:
        raise _refused(request, exc) from None
    return done("/admin/alerts", "ok_alert_channel_added")


@pages.post("/admin/alerts/edit", access="admin")
def alert_channel_edit(request: Request, channel: str = Form(""), secret: str = Form(""), active: str = Form(""),
                       app_id: str = Form(""), app_secret: str = Form(""), refresh_token: str = Form("")):
    if active == "" and not any(v.strip() for v in (secret, app_id, app_secret, refresh_token)):
        raise FormError(translator(request_lang(request))("alerts_err_nothing_given"))
    try:
        alert_delivery.update_channel(request.app.state.hailong.storage, channel, secret=secret or None,
                                      active=None if active == "" else active == "1", app_id=app_id or None,
                                      app_secret=app_secret or None, refresh_token=refresh_token or None,
                                      user=viewer(request).user, ip=client_ip(request))
    except alert_delivery.ChannelError as exc:
        raise _refused(request, exc) from None
    return done("/admin/alerts", "ok_alert_channel_saved")


@pages.post("/admin/alerts/remove", access="admin")
def alert_channel_remove(request: Request, channel: str = Form(""), confirm: str = Form("")):
    if confirm != "1":
        raise FormError(translator(request_lang(request))("err_confirm_needed"))
    try:
        alert_delivery.remove_channel(request.app.state.hailong.storage, channel, user=viewer(request).user, ip=client_ip(request))
    except alert_delivery.ChannelError as exc:
        raise _refused(request, exc) from None
    return done("/admin/alerts", "ok_alert_channel_removed")


@pages.post("/admin/alerts/test", access="admin")
def alert_channel_test(request: Request, channel: str = Form("")):
    try:
        sent = alert_delivery.send_test(request.app.state.hailong, channel, user=viewer(request).user, ip=client_ip(request))
    except alert_delivery.ChannelError as exc:
        raise _refused(request, exc) from None
    if sent["status"] != "sent":
        t = translator(request_lang(request))
        raise FormError(t("alerts_test_failed", status=t(f"alerts_status_{sent['status']}"), error=sent["last_error"] or ""))
    return done("/admin/alerts", "ok_alert_test_sent")
