"""``raftstore admin user create|drop|grant|revoke|passwd|list`` (security on).

Privileges are written ``role[@namespace[.set]]``, comma-separated: ``read@test.s1``,
``read-write@test``, ``sys-admin``, ``user-admin``. Passwords are read from
``--new-password``, ``$RAFTSTORE_NEW_PASSWORD`` or the terminal; ``list`` prints names and
privileges, never a password hash.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any


def _new_password(args: argparse.Namespace) -> str:
    password = args.new_password or os.environ.get("RAFTSTORE_NEW_PASSWORD")
    if password is None:
        import getpass

        password = getpass.getpass(f"new password for {args.name}: ")
    return str(password)


def add_user_commands(
    admin: Any,
    hosts: Callable[[argparse.ArgumentParser], None],
    client: Callable[[argparse.Namespace], Any],
) -> None:
    users = admin.add_parser("user", help="users and privileges (security on)").add_subparsers(
        dest="user_command", required=True
    )

    def run(args: argparse.Namespace) -> int:
        with client(args) as c:
            print(args.action(c, args))
        return 0

    def command(name: str, help_text: str, action: Callable[[Any, Any], str]) -> Any:
        p = users.add_parser(name, help=help_text)
        hosts(p)
        p.set_defaults(func=run, action=action)
        return p

    def new_password(p: Any) -> None:
        p.add_argument(
            "--new-password", help="the password to set ($RAFTSTORE_NEW_PASSWORD; else asked)"
        )

    p = command(
        "create",
        "create a user",
        lambda c, a: (
            f"user {a.name} created (epoch {c.create_user(a.name, _new_password(a), a.roles)})"
        ),
    )
    p.add_argument("name")
    p.add_argument("--roles", default="", help="privileges, e.g. read@test.s1,read-write@test")
    new_password(p)
    p = command(
        "drop", "drop a user", lambda c, a: f"user {a.name} dropped (epoch {c.drop_user(a.name)})"
    )
    p.add_argument("name")
    p = command(
        "grant",
        "grant privileges",
        lambda c, a: f"granted to {a.name} (epoch {c.grant(a.name, a.roles)})",
    )
    p.add_argument("name")
    p.add_argument("roles", help="privileges, e.g. read-write@test.s1,sys-admin")
    p = command(
        "revoke",
        "revoke privileges",
        lambda c, a: f"revoked from {a.name} (epoch {c.revoke(a.name, a.roles)})",
    )
    p.add_argument("name")
    p.add_argument("roles", help="privileges, e.g. read@test.s1")
    p = command(
        "passwd",
        "set a user's password (any user may set its own)",
        lambda c, a: f"password of {a.name} set (epoch {c.set_password(a.name, _new_password(a))})",
    )
    p.add_argument("name")
    new_password(p)
    p = command("list", "users and their privileges", _list)
    p.add_argument("--json", action="store_true")


def _create(c: Any, args: argparse.Namespace) -> str:
    epoch = c.create_user(args.name, _new_password(args), args.roles)
    return f"user {args.name} created (epoch {epoch})"


def _list(c: Any, args: argparse.Namespace) -> str:
    users = c.users()
    if args.json:
        return json.dumps(users, indent=2)
    width = max((len(n) for n in users), default=4)
    return "\n".join(f"{n:<{width}}  {','.join(p) or '-'}" for n, p in sorted(users.items()))
