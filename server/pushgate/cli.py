"""The `pushgate` command. Every command reads the same settings: flag, PUSHGATE_*, default."""

from __future__ import annotations

import asyncio
import itertools
import sys
from typing import Any, TypeVar

import click

from pushgate import __version__
from pushgate.cli_errors import explain
from pushgate.cli_settings import DATABASE_META, build_settings, run_with_store, settings_options
from pushgate.runtime import relax_gc, run_event_loop
from pushgate.settings import (
    SETTINGS_FIELDS,
    Settings,
    SettingsError,
    validate_vapid_subject,
)

SERVER_SETTINGS = tuple(SETTINGS_FIELDS)
T = TypeVar("T")


def check_store(settings: Settings) -> None:
    """Open the store once before serving, so a locked database fails here, not in a traceback."""
    from pushgate.store import open_store

    async def check() -> None:
        async with open_store(settings, migrate=not settings.no_migrate):
            pass

    run_with_store(check())


GLOBAL_FLAGS = ("--debug",)


class PushgateGroup(click.Group):
    """`pushgate` alone means `pushgate serve`; a failure the user can mend is one line (exit
    code 1), and `pushgate --debug CMD` shows its traceback instead."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        flags = list(itertools.takewhile(lambda arg: arg in GLOBAL_FLAGS, args))
        rest = args[len(flags) :]
        if not rest or (rest[0].startswith("-") and rest[0] not in ("--help", "--version")):
            rest = ["serve", *rest]
        return super().parse_args(ctx, [*flags, *rest])

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            if debug and exc.__cause__ is not None:
                raise exc.__cause__ from None
            raise
        except (click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if debug:
                raise
            raise click.ClickException(one_line(exc, ctx.meta.get(DATABASE_META))) from exc


def one_line(exc: Exception, database: str | None) -> str:
    line = explain(exc, database)
    if line is None:  # pushgate's own bug: name it, and say how to see more
        detail = " ".join(str(exc).split())[:200]
        line = (
            f"unexpected {type(exc).__name__}: {detail} (run `pushgate --debug ...` for the "
            "traceback, and report it)"
        )
    return " ".join(line.split())


@click.group(cls=PushgateGroup)
@click.version_option(__version__, prog_name="pushgate")
@click.option(
    "--debug",
    is_flag=True,
    envvar="PUSHGATE_DEBUG",
    help="Show the traceback of a failure instead of one line [env PUSHGATE_DEBUG].",
)
def main(debug: bool) -> None:
    """pushgate: a self-hosted Web Push gateway. `pushgate` alone runs `pushgate serve`."""


@main.command()
@settings_options(*SERVER_SETTINGS)
def serve(**values: Any) -> None:
    """Run the gateway (HTTP API, snippet, service worker, delivery engine)."""
    settings = build_settings(values)
    try:
        validate_vapid_subject(settings.vapid_subject)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    from pushgate.logs import setup_logging
    from pushgate.server import run_server

    setup_logging(settings)
    check_store(settings)
    relax_gc()
    run_event_loop(run_server(settings))


WORKER_SETTINGS = tuple(
    name for name in SETTINGS_FIELDS if name not in ("host", "port", "public_url", "no_deliver")
)


@main.command()
@settings_options(*WORKER_SETTINGS)
def worker(**values: Any) -> None:
    """Deliver without the HTTP server: the engine and its send workers, for gateways that
    share one PostgreSQL database (`serve --no-deliver` answers the API)."""
    settings = build_settings(values)
    try:
        validate_vapid_subject(settings.vapid_subject)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    if not settings.uses_postgres:
        # Two processes on one SQLite file would both take the same work.
        raise click.UsageError("pushgate worker needs a postgresql:// database (PUSHGATE_DATABASE)")
    from pushgate.logs import setup_logging
    from pushgate.worker import run_worker

    setup_logging(settings)
    check_store(settings)
    relax_gc()
    run_event_loop(run_worker(settings))


@main.group("secrets")
def secrets_group() -> None:
    """VAPID private keys encrypted at rest: make a key, re-encrypt with the newest key."""


@secrets_group.command("generate-key")
def generate_secret_key() -> None:
    """Print a new Fernet key for PUSHGATE_SECRET_KEY."""
    from pushgate.store.sealing import generate_key

    click.echo(generate_key())


@secrets_group.command("rotate")
@settings_options("database", "secret_key")
def rotate_secrets(**values: Any) -> None:
    """Re-encrypt every site's VAPID private key with the first (newest) key of
    PUSHGATE_SECRET_KEY, plain-text ones included, in one transaction."""
    settings = build_settings(values)
    if not settings.secret_key:
        raise click.UsageError(
            "set PUSHGATE_SECRET_KEY (or --secret-key) to NEW,OLD: the new key first, then "
            "every key the database may be encrypted with"
        )
    from pushgate.store import open_store

    async def rotate() -> int:
        async with open_store(settings) as store:
            return await store.reseal_site_keys()

    count = run_with_store(rotate())
    click.echo(f"re-encrypted {count} VAPID private key(s) with the newest key")


@main.command("push-service")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8090, show_default=True, type=int, help="TCP port.")
def push_service(host: str, port: int) -> None:
    """Run the local push service (a stand-in for FCM/autopush, for tests and demos)."""
    from pushgate.listen import listening_socket
    from pushgate.testing import serve_forever

    # Bound and released at once: a port in use is a sentence, not the service's traceback.
    listening_socket(host, port, what="the local push service", port_flag="--port").close()
    serve_forever(host, port)


@main.command()
@click.option(
    "--demo-port", default=8081, show_default=True, type=int, help="Port of the demo news site."
)
@click.option(
    "--cart-reminder-delay",
    default="1m",
    show_default=True,
    help="How long after 'Add to cart' the demo shop's reminder comes (10s, 5m, 1h ...).",
)
@settings_options(*(name for name in SERVER_SETTINGS if name != "no_deliver"))
def demo(demo_port: int, cart_reminder_delay: str, **values: Any) -> None:
    """Run the gateway together with the demo news site, registered and ready."""
    settings = build_settings(values)
    if not settings.vapid_subject:
        settings = settings.with_overrides(vapid_subject="mailto:demo@pushgate.example")
    from pushgate.demo import loopback_public_url, run_demo

    if (local := loopback_public_url(settings)) is not None:
        click.echo(
            f"warning: every interface ({settings.host}) without --public-url: the demo's pages "
            f"and commands use {local}, which only this machine reaches; set --public-url for "
            "others",
            err=True,
        )
        settings = settings.with_overrides(public_url=local)
    from pushgate.logs import setup_logging

    setup_logging(settings)
    check_store(settings)
    result = run_demo(settings, demo_port=demo_port, cart_reminder_delay=cart_reminder_delay)
    if asyncio.iscoroutine(result):
        relax_gc()
        run_event_loop(result)


@main.command()
@click.option("--title", required=True, help="The notification's title.")
@click.option("--body", help="The text under the title.")
@click.option("--url", help="Page the notification opens.")
@click.option("--icon", help="URL of the small image beside the text.")
@click.option("--image", help="URL of a large picture, for browsers that show one.")
@click.option(
    "--tag", "tags", multiple=True, help="Audience tag NAME=VALUE (repeatable; all must match)."
)
@click.option("--external-id", "external_ids", multiple=True, help="Send to this external user id.")
@click.option("--segment", help="Send to this saved segment.")
@click.option("--filter", "filter_json", help="Send to this filter, as JSON: '{\"field\": …}'.")
@click.option("--send-at", help="RFC 3339 time with an offset; nothing goes before it.")
@click.option("--local-time", help="HH:MM in each subscriber's own time zone.")
@click.option(
    "--ttl",
    type=click.IntRange(min=1),
    help="Seconds a push service keeps the message for an offline browser (default 4 weeks).",
)
@click.option(
    "--urgency",
    type=click.Choice(["very-low", "low", "normal", "high"]),
    help="RFC 8030 urgency: low ones may wait for a phone's battery or network.",
)
@click.option(
    "--topic",
    help="A name (1-32 of A-Z a-z 0-9 - _): a newer message of the same topic replaces an "
    "undelivered older one.",
)
@click.option(
    "--wait/--no-wait",
    default=False,
    help="Wait until delivery finishes; print counts. Exit code 3 when no subscriber matched.",
)
@click.option(
    "--api-key",
    envvar="PUSHGATE_API_KEY",
    help="The site's API key [env PUSHGATE_API_KEY; required].",
)
@click.option(
    "--gateway",
    envvar="PUSHGATE_GATEWAY",
    help="Gateway URL, e.g. http://127.0.0.1:8080 [env PUSHGATE_GATEWAY; default: "
    "PUSHGATE_PUBLIC_URL, else http://127.0.0.1:8080].",
)
def send(**values: Any) -> None:
    """Send a notification to a site's subscribers through the admin API."""
    from pushgate.send_cli import gateway_url, send_notification

    if not values.get("api_key"):  # Click's own "Missing option" names no variable and no key
        raise click.UsageError(
            "no API key: give --api-key or set PUSHGATE_API_KEY to the key `pushgate sites "
            "create` (or `pushgate keys create`) printed; `make run` prints the demo's export line"
        )
    sys.exit(send_notification(values, gateway_url(values.get("gateway"))))


def _register_commands() -> None:
    """Command groups that live in their own modules."""
    from pushgate import db_cli, sites_cli, users_cli

    for command in (*db_cli.COMMANDS, *sites_cli.COMMANDS, *users_cli.COMMANDS):
        main.add_command(command)


_register_commands()
