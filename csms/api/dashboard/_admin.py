"""Administration (admin role): the API tokens (never their secrets) with revocation, registering
a station, and a station's registration status."""

from __future__ import annotations

from typing import Any

import psycopg
from starlette.responses import RedirectResponse, Response

from csms.storage import NotFound as RowNotFound
from csms.storage import stations
from csms.storage import tokens as token_repo
from csms.transport import hash_password, is_strong_password

from .._auth import Role
from .._errors import ApiError, Conflict, InvalidBody, NotFound
from .._send import valid_station_id
from ._core import Dashboard, Page, form_page, page

__all__ = ["admin_routes"]

REGISTRATION = ("Accepted", "Pending", "Rejected")


def _new_station(form: dict[str, str]) -> dict[str, Any]:
    station_id = form.get("stationId", "").strip()
    if not valid_station_id(station_id):
        raise InvalidBody("is not a station id (1 to 48 characters, no ':')", field="stationId")
    password = form.get("password", "")
    if not is_strong_password(password):
        raise InvalidBody(
            "a password has 16 to 40 characters: letters, digits and * - _ = : + | @ .",
            field="password",
            code="weak_password",
        )
    profile = form.get("securityProfile", "1")
    if profile not in ("1", "2", "3"):
        raise InvalidBody("must be 1, 2 or 3", field="securityProfile")
    status = form.get("registrationStatus", "Accepted")
    if status not in REGISTRATION:
        raise InvalidBody("must be Accepted, Pending or Rejected", field="registrationStatus")
    return {
        "station_id": station_id,
        "password_hash": hash_password(password),
        "security_profile": int(profile),
        "registration_status": status,
    }


def admin_routes(dash: Dashboard) -> list[tuple[str, str, Any]]:
    async def admin_page(p: Page, status: int = 200, **extra: Any) -> Response:
        tokens = await p.db.run(token_repo.list_api_tokens)
        context = {"tokens": tokens, "error": None, "done": None, "form": {}, **extra}
        return p.render("admin.html", status, registration=REGISTRATION, **context)

    @page(dash, Role.ADMIN)
    async def admin(p: Page) -> Response:
        return await admin_page(p, done=p.request.query_params.get("done"))

    @form_page(dash, Role.ADMIN)
    async def revoke(p: Page, form: dict[str, str]) -> Response:
        name = p.request.path_params["name"]
        try:
            await p.db.run(token_repo.revoke_api_token, name)
        except RowNotFound:
            return await admin_page(p, 404, error={"code": "not_found", "message": name})
        dash.api.auth.forget()  # the API's token cache, so the API refuses it at once too
        dash.store.end_named(name)
        return RedirectResponse("/admin?done=revoked", status_code=303)

    @form_page(dash, Role.ADMIN)
    async def register(p: Page, form: dict[str, str]) -> Response:
        try:
            values = _new_station(form)
            station_id = values.pop("station_id")
            try:
                await p.db.run(stations.create, station_id, **values)
            except psycopg.errors.UniqueViolation:
                raise Conflict(f"station {station_id!r} exists", code="exists") from None
        except ApiError as exc:
            shown = {k: v for k, v in form.items() if k != "password"}  # never echoed
            return await admin_page(p, exc.status, error=exc.body()["error"], form=shown)
        return RedirectResponse(f"/stations/{station_id}", status_code=303)

    @form_page(dash, Role.ADMIN)
    async def registration(p: Page, form: dict[str, str]) -> Response:
        station_id = p.request.path_params["stationId"]
        status = form.get("registrationStatus", "")
        try:
            if status not in REGISTRATION:
                raise InvalidBody("must be Accepted, Pending or Rejected", field="status")
            if not valid_station_id(station_id):
                raise NotFound(f"no station {station_id!r}")
            try:
                await p.db.run(stations.set_registration_status, station_id, status)
            except RowNotFound:
                raise NotFound(f"no station {station_id!r}") from None
        except ApiError as exc:
            return p.problem(exc.status, "Not found" if exc.status == 404 else "Error", exc.message)
        return RedirectResponse(f"/stations/{station_id}", status_code=303)

    return [
        ("GET", "/admin", admin),
        ("POST", "/admin/tokens/{name}/revoke", revoke),
        ("POST", "/admin/stations", register),
        ("POST", "/stations/{stationId}/registration", registration),
    ]
