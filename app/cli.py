"""``flask --app wsgi epns ...``: the operator's commands.

The commands parse and print; ``app.admin`` decides. Device tokens are
printed by suffix only, like in the logs.
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import admin
from app.addresses import InvalidAddress, short
from app.config import ConfigError, Settings
from app.models import DeviceToken
from app.queue import connect_redis

epns = AppGroup("epns", help="Operate the push server.")
checkpoint = AppGroup("checkpoint", help="Show or reset a chain's checkpoint.")
epns.add_command(checkpoint)


def register_cli(app: Flask) -> None:
    app.cli.add_command(epns)


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@checkpoint.command("show")
def checkpoint_show() -> None:
    """Every chain's checkpoint, the head its poller saw, and when."""
    rows = admin.checkpoints()
    if not rows:
        click.echo("no checkpoints yet")
        return
    click.echo(f"{'chain':>8} {'block':>10} {'head':>10}  updated (UTC)        hash")
    for row in rows:
        head = "-" if row.head_block is None else row.head_block
        updated = row.updated_at.isoformat(sep=" ", timespec="seconds")
        click.echo(
            f"{row.chain_id:>8} {row.block_number:>10} {head:>10}  "
            f"{updated}  {row.block_hash}"
        )


@checkpoint.command("reset")
@click.option("--chain", "chain_id", type=int, required=True)
@click.option(
    "--to-block",
    type=click.IntRange(min=0),
    help="Rewind to this block (its hash is read from the chain).",
)
@click.option(
    "--to-start",
    is_flag=True,
    help="Delete the checkpoint: the poller restarts at the chain's start_block.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def checkpoint_reset(
    chain_id: int, to_block: int | None, to_start: bool, yes: bool
) -> None:
    """Rewind a chain's checkpoint. Stop that chain's poller first."""
    if (to_block is None) == (not to_start):
        raise click.UsageError("give exactly one of --to-block N or --to-start")

    target = "its start block" if to_start else f"block {to_block}"
    if not yes:
        click.confirm(f"Rewind chain {chain_id} to {target}?", abort=True)
    try:
        row = admin.reset_checkpoint(_settings(), chain_id, to_block)
    except (admin.AdminError, ConfigError) as exc:
        raise _fail(exc) from None

    if row is None:
        click.echo(f"chain {chain_id}: checkpoint deleted")
    else:
        click.echo(
            f"chain {chain_id}: checkpoint at {row.block_number} {row.block_hash}"
        )


@epns.command("redispatch")
@click.argument("notification_ids", nargs=-1, type=int, required=True)
def redispatch(notification_ids: tuple[int, ...]) -> None:
    """Send notifications again; devices that got them are not sent twice."""
    redis = connect_redis(_settings().redis_url)
    failed = False
    for notification_id in notification_ids:
        try:
            queued = admin.redispatch(redis, notification_id)
        except admin.AdminError as exc:
            click.echo(f"refused: {exc}", err=True)
            failed = True
            continue
        state = "queued" if queued else "already queued"
        click.echo(f"notification {notification_id}: pending, {state}")
    if failed:
        raise click.exceptions.Exit(1)


@epns.command("devices")
@click.argument("wallet")
def devices(wallet: str) -> None:
    """List a wallet's device tokens (by suffix)."""
    try:
        rows = admin.wallet_devices(wallet)
    except InvalidAddress as exc:
        raise _fail(exc) from None
    if not rows:
        click.echo("no devices")
        return
    click.echo(f"{'id':>8} {'platform':<8} {'app':<12} {'token':<10} last success")
    for row in rows:
        last = (
            row.last_success_at.isoformat(timespec="seconds")
            if row.last_success_at
            else "-"
        )
        click.echo(
            f"{row.id:>8} {row.platform:<8} {row.app_id:<12} "
            f"{short(row.token):<10} {last}"
        )


@epns.command("end-sessions")
@click.argument("wallet")
def end_sessions(wallet: str) -> None:
    """Sign a wallet out everywhere: every bearer session of it stops working."""
    try:
        ended = admin.end_sessions(connect_redis(_settings().redis_url), wallet)
    except InvalidAddress as exc:
        raise _fail(exc) from None
    click.echo(f"{ended} session(s) ended")


@epns.command("test-push")
@click.argument("device_id", type=int)
def test_push(device_id: int) -> None:
    """Send a test push to one device token, by its id from `devices`."""
    from app.jobs.probe import send_test_push

    row = DeviceToken.get_or_none(DeviceToken.id == device_id)
    if row is None:
        raise click.ClickException(f"no device token with id {device_id}")
    outcome = send_test_push(row)
    click.echo(f"device {device_id} ({row.platform} {short(row.token)}): {outcome}")


@epns.command("prune")
@click.option("--days", type=click.IntRange(min=1), required=True)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted.")
def prune(days: int, dry_run: bool) -> None:
    """Delete finished notifications and final chain events older than N days."""
    result = admin.prune(days, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{verb} {result.notifications} notifications, "
        f"{result.deliveries} deliveries, {result.chain_events} chain events"
    )
