"""Opt-in analytics: per prompt variant how often the soft prompt was shown, accepted and
dismissed and what the browser answered, the opt-in rate (granted / shown) with its 95 % Wilson
interval and which variant is better (pushgate.prompt_stats); and the form that sets the
variants, through the same rules as `PATCH /api/v1/site` (pushgate.prompt_variants)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pushgate.api.context import context
from pushgate.dashboard import charts
from pushgate.dashboard.forms import read_form
from pushgate.dashboard.guard import operator_page
from pushgate.dashboard.navigation import see_other
from pushgate.dashboard.pages import render
from pushgate.dashboard.site_access import not_found_page, visible_site
from pushgate.prompt_stats import VariantStats, percent, site_prompt_stats, verdict
from pushgate.prompt_variants import MAX_VARIANTS, set_variants, variant_of, variants_of
from pushgate.site_rules import InvalidRule
from pushgate.store.models import Site
from pushgate.store.operator_rows import DashboardSession
from pushgate.store.prompt_rows import PromptVariant

PARTS = ("id", "text", "accept", "dismiss", "weight")
MAX_FIELD_CHARACTERS = 300  # longer than any valid value: the rules say what is too long


@dataclass
class VariantsForm:
    rows: list[dict[str, str]]  # MAX_VARIANTS rows of PARTS, as typed
    errors: dict[str, str] = field(default_factory=dict)  # "variant-2-weight" -> message

    @classmethod
    def of(cls, variants: list[PromptVariant]) -> VariantsForm:
        rows = [
            {"id": v.id, "text": v.text, "accept": v.accept_label, "dismiss": v.dismiss_label}
            | {"weight": str(v.weight)}
            for v in variants
        ]
        return cls(rows + [dict.fromkeys(PARTS, "") for _ in range(MAX_VARIANTS - len(rows))])


def field_name(row: int, part: str) -> str:
    return f"variant-{row + 1}-{part}"


def parse_variants_form(form: ImmutableMultiDict[str, str]) -> tuple[VariantsForm, list[Any]]:
    """The rows as typed, each filled row checked on its own; and the filled rows as the API's
    `prompt_variants` list (meaningful only without errors)."""
    rows = [
        {p: form.get(field_name(i, p), "").strip()[:MAX_FIELD_CHARACTERS] for p in PARTS}
        for i in range(MAX_VARIANTS)
    ]
    result, body = VariantsForm(rows), []
    for i, row in enumerate(rows):
        if not any(row[p] for p in ("id", "text", "accept", "dismiss")):
            continue  # an empty row: no variant
        item: dict[str, Any] = {"text": row["text"]}
        item |= {p: row[p] for p in ("id", "accept", "dismiss") if row[p]}
        if row["weight"]:
            weight = row["weight"]
            item["weight"] = int(weight) if weight.isascii() and weight.isdigit() else weight
        try:
            variant_of(item, "row")
        except InvalidRule as exc:
            part = exc.path.rsplit(".", 1)[-1]
            result.errors[field_name(i, part if part in PARTS else "text")] = _problem(exc)
            continue
        body.append((i, item))
    if not result.errors:
        try:
            variants_of([item for _, item in body])
        except InvalidRule as exc:  # ids repeated: the later row is named
            index = int(exc.path.split("[")[1].split("]")[0]) if "[" in exc.path else 0
            result.errors[field_name(body[index][0], "id")] = _problem(exc)
    return result, [item for _, item in body]


def _problem(exc: InvalidRule) -> str:
    """The rule's message without its API path: "must be ..." next to the field."""
    return str(exc).removeprefix(exc.path).strip().capitalize()


@operator_page
async def prompt_page(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    variants = await context(request).store.prompt_variants(site.id)
    saved = request.query_params.get("saved") == "1"
    return await _page(request, session, site, VariantsForm.of(variants), saved=saved)


@operator_page
async def save_variants(request: Request, session: DashboardSession) -> Response:
    site = await visible_site(request, session)
    if site is None:
        return not_found_page(request, session)
    form, body = parse_variants_form(await read_form(request))
    if form.errors:
        return await _page(request, session, site, form, status=400)
    await set_variants(context(request).store, site.id, body)
    return see_other(f"/dashboard/sites/{site.id}/prompt?saved=1")


async def _page(
    request: Request,
    session: DashboardSession,
    site: Site,
    form: VariantsForm,
    *,
    status: int = 200,
    saved: bool = False,
) -> Response:
    ctx = context(request)
    stats = await site_prompt_stats(ctx.store, site, ctx.clock())
    return render(
        request,
        "prompt.html",
        status,
        session=session,
        site=site,
        stats=stats,
        verdict=verdict(stats) if any(s.shown for s in stats) else None,
        chart=_chart(stats),
        percent=percent,
        form=form,
        field_name=field_name,
        saved=saved,
    )


def _chart(stats: list[VariantStats]) -> Any:
    if not any(s.shown for s in stats):
        return None
    return charts.bar_chart(
        chart_id="prompt-opt-in",
        title="Opt-in rate per variant (granted / shown)",
        x_label="Variant",
        y_label="Opt-in rate, %",
        x_ticks=[s.id for s in stats],
        series=[charts.Series("Opt-in rate, %", [round((s.rate or 0) * 100, 1) for s in stats])],
    )


routes: list[BaseRoute] = [
    Route("/sites/{site_id}/prompt", prompt_page, methods=["GET"]),
    Route("/sites/{site_id}/prompt", save_variants, methods=["POST"]),
]
