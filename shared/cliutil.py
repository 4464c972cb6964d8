"""Pieces every command-line entry point shares: one-line errors and size options."""

from __future__ import annotations

import click

from shared.errors import DanceError


class DanceGroup(click.Group):
    """A click group that turns `DanceError` into a one-line `Error: ...` and exit status 1,
    and Ctrl-C into a short message and exit status 130, instead of tracebacks."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DanceError as err:
            raise click.ClickException(str(err)) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


def parse_size(_ctx: click.Context | None, _param: click.Parameter | None, value: str | None) -> tuple[int, int] | None:
    """Parse WIDTHxHEIGHT (both even, at least 16) for a click option."""
    if value is None:
        return None
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not WIDTHxHEIGHT, e.g. 256x256") from None
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise click.BadParameter(f"{value!r}: width and height must be even and at least 16")
    return width, height
