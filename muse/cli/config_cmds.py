"""Identity and settings: `muse keys` and `muse config`."""

from __future__ import annotations

from typing import Any

import click

from ..errors import UsageError
from .base import emit_json, json_option


@click.group()
def keys() -> None:
    """Manage Ed25519 signing keys (kept in your user config dir, never in a repository)."""


@keys.command("generate")
@click.option("--default/--no-default", "make_default", default=None,
              help="Make the new key the one that signs (default: only if there is none).")
def keys_generate(make_default: bool | None) -> None:
    """Create a new signing key pair; the first one becomes the default.

    A later key does not replace the default without --default: commits keep being
    signed by the key collaborators already trust.
    """
    from ..keys import generate_key, list_keys

    had_default = any(k.is_default for k in list_keys())
    info = generate_key(make_default=not had_default if make_default is None else make_default)
    click.echo(f"Generated Ed25519 key {info.fingerprint}")
    click.echo(f"  private key: {info.path} (mode 0600)")
    click.echo(f"  public key:  {info.public_key.hex()}")
    if had_default and not info.is_default:
        click.echo(f"  not the default: sign with it after `muse keys default {info.fingerprint}`")


@keys.command("default")
@click.argument("fingerprint")
def keys_default(fingerprint: str) -> None:
    """Choose which of your keys signs new commits (a fingerprint or its prefix)."""
    from ..config import user_config

    info = _one_key(fingerprint)
    user_config().set("user.signingkey", info.fingerprint)
    click.echo(f"Commits are now signed with {info.fingerprint}")


def _one_key(prefix: str) -> Any:
    from ..keys import list_keys

    matches = [k for k in list_keys() if k.fingerprint.startswith(prefix.lower())]
    if len(matches) != 1:
        raise UsageError(f"no single key matches {prefix!r}", hint="see `muse keys list`")
    return matches[0]


@keys.command("list")
@json_option("Machine-readable output.")
def keys_list(as_json: bool) -> None:
    """List your signing keys; * marks the default."""
    from ..keys import list_keys

    found = list_keys()
    if as_json:
        emit_json([{"fingerprint": k.fingerprint, "public_key": k.public_key.hex(),
                    "default": k.is_default} for k in found])
        return
    if not found:
        click.echo("no keys yet; create one with `muse keys generate`")
    for k in found:
        click.echo(f"{'*' if k.is_default else ' '} {k.fingerprint}  {k.public_key.hex()}")


@keys.command("show")
@click.argument("fingerprint", required=False)
@json_option("Machine-readable output.")
def keys_show(fingerprint: str | None, as_json: bool) -> None:
    """Show a key's public half (default: the default key)."""
    from ..keys import default_key

    info = default_key() if fingerprint is None else _one_key(fingerprint)
    if as_json:
        emit_json({"fingerprint": info.fingerprint, "public_key": info.public_key.hex(),
                   "default": info.is_default, "private_key_path": str(info.path)})
        return
    click.echo(f"fingerprint: {info.fingerprint}")
    click.echo(f"public key:  {info.public_key.hex()}")
    click.echo(f"private key: {info.path}")
    click.echo(f"default:     {'yes' if info.is_default else 'no'}")


@keys.command("trust")
@click.argument("public_key", required=False)
@click.option("--name", default="", help="Whose key it is, shown in the list.")
@json_option("Machine-readable output.")
def keys_trust(public_key: str | None, name: str, as_json: bool) -> None:
    """Trust a collaborator's public key (64 hex digits); with no key, list trusted keys.

    Your own keys are always trusted. `muse log` shows a good signature by any
    other key as `untrusted`.
    """
    from ..trust import parse_public_key, trust, trusted_keys

    if public_key is not None:
        added = trust(parse_public_key(public_key), name)
        if not as_json:
            click.echo(f"Trusted key {added.fingerprint}" + (f" ({name})" if name else ""))
            return
    found = trusted_keys()
    if as_json:
        emit_json([{"fingerprint": k.fingerprint, "public_key": k.public_key.hex(),
                    "name": k.name, "own": k.own} for k in found])
        return
    for k in found:
        click.echo(f"{k.fingerprint}  {k.public_key.hex()}  {k.name}")


@keys.command("untrust")
@click.argument("fingerprint")
def keys_untrust(fingerprint: str) -> None:
    """Stop trusting a key added with `muse keys trust`."""
    from ..trust import untrust

    removed = untrust(fingerprint)
    click.echo(f"No longer trusting {removed.fingerprint}")


@click.command()
@click.argument("key", required=False)
@click.argument("value", required=False)
@click.option("--global", "use_global", is_flag=True,
              help="Use your user config, not the repository's.")
@click.option("--unset", is_flag=True, help="Remove KEY.")
@click.option("-l", "--list", "list_all", is_flag=True, help="List every setting.")
@click.option("--get", "get_only", is_flag=True,
              help="Print KEY's value; nothing, and exit 1, if it is not set (as git).")
@click.pass_context
def config(ctx: click.Context, key: str | None, value: str | None, use_global: bool,
           unset: bool, list_all: bool, get_only: bool) -> None:
    """Get or set a setting: `muse config user.name "Ada"`.

    Outside a repository, reading (KEY, --list) shows your own settings, as `git
    config` does; changing one there needs --global.
    """
    from ..config import layered, user_config

    if get_only and (key is None or value is not None or unset or list_all):
        raise UsageError("--get reads one KEY: no VALUE, --unset or --list",
                         hint="muse config --get user.email")
    user = user_config()
    here = None if use_global else _repository_config(required=False)
    if list_all:
        # In a repository, as git does: your own settings, then the repository's,
        # which win where both set a key.
        for source in [user] + ([here] if here is not None else []):
            for k, v in source.items():
                click.echo(f"{k}={v}")
        return
    if key is None:
        raise UsageError("which setting?", hint="muse config KEY [VALUE], or --list")
    if value is None and not unset:
        found = layered(key, *([here] if here is not None else []), user)
        if found is None:
            if get_only:  # a script's test: `muse config --get user.email || …`
                ctx.exit(1)
            raise UsageError(f"{key} is not set")
        click.echo(found)
        return
    target = user if use_global else _repository_config(required=True)
    if unset:
        if not target.unset(key):
            raise UsageError(f"{key} is not set")
        return
    assert value is not None
    from ..remotes_config import checked_setting

    target.set(key, checked_setting(key, value))


def _repository_config(*, required: bool) -> Any:
    """The config file of the repository here; outside one, None, unless `required`
    (a change: it must not silently land in the user's file instead)."""
    from ..errors import RepositoryError
    from ..repo import Repository

    try:
        return Repository.find().config
    except RepositoryError as exc:
        if not required:
            return None
        raise RepositoryError(exc.message, hint="to change your own setting, add --global: "
                              "muse config --global KEY VALUE") from None
