"""``instagram-graph``: apply the warehouse migrations and manage accounts, tokens and keys.

    instagram-graph migrate
    instagram-graph accounts add ACCOUNT_ID [--username U] [--expires-in-days 60 | --expires-at ISO] \\
        [--scopes a,b] < token-file
    instagram-graph accounts discover [--dry-run] [--conn-id instagram_graph_default] < user-token-file
    instagram-graph accounts list
    instagram-graph accounts disable ACCOUNT_ID --reason "..."
    instagram-graph accounts enable ACCOUNT_ID
    instagram-graph accounts revoke ACCOUNT_ID [--reason "..."] [--conn-id instagram_graph_default]
    instagram-graph keys generate
    instagram-graph keys rotate

Also runs as ``python -m instagram_graph.cli``. The warehouse comes from env
``INSTAGRAM_WAREHOUSE_DSN`` or the Airflow connection ``instagram_warehouse``; the
token keys from env ``INSTAGRAM_TOKEN_KEYS``.

A token is read from stdin (or typed at a hidden prompt), never from the command line,
where it would land in shell history and in every process listing. Nothing here prints
a token.

Exit codes: 0 done, 1 the warehouse failed (unreachable, SQL error), 2 a usage or
configuration error (the message says what to fix), 3 the Graph API failed (``revoke``,
``discover``; nothing was changed, run it again).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import psycopg2.errors

EXIT_OK = 0
EXIT_WAREHOUSE = 1
EXIT_USAGE = 2
EXIT_GRAPH_API = 3


class UsageError(Exception):
    """A mistake the user can fix; printed without a traceback, exit code 2."""


# --- commands -------------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    from instagram_graph import db, migrations

    conn = _connect(db)
    try:
        try:
            applied = migrations.apply_migrations(conn, args.sql_dir)
        except RuntimeError as exc:
            raise UsageError(str(exc)) from None
    finally:
        conn.close()
    if applied:
        for name in applied:
            print(f"applied {name}")
    else:
        print("nothing to apply: the warehouse schema is up to date")
    return EXIT_OK


def cmd_accounts_add(args: argparse.Namespace) -> int:
    if args.expires_at is not None:
        expires_at = _parse_when(args.expires_at)
    else:
        expires_at = datetime.now(UTC) + timedelta(days=args.expires_in_days)
    if expires_at <= datetime.now(UTC):
        raise UsageError(f"--expires-at {expires_at.isoformat()} is in the past: that token has already expired")
    scopes = [scope.strip() for scope in (args.scopes or "").split(",") if scope.strip()]

    store = _store()
    _call(store.check_keys)  # before asking for the token
    token = _read_token(args.account_id)
    _call(store.put, args.account_id, token, expires_at=expires_at, scopes=scopes, username=args.username)
    print(f"stored the token of account {args.account_id}, expires {expires_at:%Y-%m-%d %H:%M %Z}")
    info = next((info for info in _accounts(store).list_accounts() if info.account_id == args.account_id), None)
    if info is not None and not info.enabled:
        print(
            f"note: account {args.account_id} is disabled ({info.disabled_reason}); "
            f"enable it with: instagram-graph accounts enable {args.account_id}"
        )
    return EXIT_OK


def cmd_accounts_discover(args: argparse.Namespace) -> int:
    """Register the Instagram accounts behind the Pages of a Facebook user (Facebook Login)."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    from instagram_graph.errors import GraphApiError, InvalidRequestError, RateLimitError, advice_for
    from instagram_graph.facebook_discovery import discover
    from instagram_graph.hooks.graph_api import InstagramGraphHook
    from instagram_graph.token_lifecycle import TokenRefreshError
    from instagram_graph.token_store import TokenStoreError

    store = _store()
    _call(store.check_keys)  # before asking for the token
    token = _read_token("the Facebook user", kind="Facebook user token")
    hook = InstagramGraphHook(args.conn_id, token_store=store)
    try:
        found = discover(hook, store, token, dry_run=args.dry_run)
    except AirflowNotFoundException as exc:
        raise UsageError(f"{exc}: define it as an Airflow connection (e.g. env AIRFLOW_CONN_<CONN_ID>)") from None
    except InvalidRequestError as exc:
        raise UsageError(str(exc)) from None
    except GraphApiError as exc:
        what_to_do = "Run the command again."
        if not exc.retryable and not isinstance(exc, RateLimitError):
            what_to_do = advice_for(exc)
        print(f"instagram-graph: Meta refused the discovery: {exc}. Nothing was registered. {what_to_do}",
              file=sys.stderr)
        return EXIT_GRAPH_API
    except (TokenStoreError, TokenRefreshError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    finally:
        hook.close()
    who = f"{found.user_name} ({found.user_id})" if found.user_name else found.user_id
    print(f"Facebook user {who}: {len(found.pages)} Page(s)" + (" (dry run: nothing was written)" if args.dry_run else ""))
    for page in found.pages:
        account = f"@{page.username} ({page.account_id})" if page.account_id else "-"
        print(f"  Page {page.page_name} ({page.page_id})  account {account}  {page.action}")
    if not args.dry_run:
        expiry = f"{found.user_token_expires_at:%Y-%m-%d}" if found.user_token_expires_at else "never"
        print(f"{len(found.registered)} account(s) registered with Facebook Login; their Page tokens do not expire; "
              f"the user's token expires {expiry} and the token refresh DAG renews it")
    return EXIT_OK


def cmd_accounts_list(args: argparse.Namespace) -> int:
    from instagram_graph.errors import reconnect_hint

    infos = _call(_accounts().list_accounts)
    if not infos:
        print(f"no accounts; add one with: {reconnect_hint(None)}")
        return EXIT_OK
    header = ("account", "username", "login", "enabled", "status", "expires", "days left")
    rows = [
        (
            info.account_id,
            info.username or "-",
            f"facebook (Page {info.page_id})" if info.login == "facebook" else info.login,
            "yes" if info.enabled else "no",
            info.status or "no token",
            f"{info.expires_at.astimezone(UTC):%Y-%m-%d %H:%M}Z" if info.expires_at else "never",
            "-" if info.days_left is None else str(info.days_left),
        )
        for info in infos
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    unreadable = [info.account_id for info in infos if info.status == "undecryptable"]
    if unreadable:
        print(
            f"\n{len(unreadable)} token(s) cannot be decrypted with the keys in INSTAGRAM_TOKEN_KEYS: add the key "
            "they were encrypted with (comma-separated, newest first), or reconnect those accounts."
        )
    return EXIT_OK


def cmd_accounts_disable(args: argparse.Namespace) -> int:
    _call(_accounts().disable, args.account_id, args.reason)
    print(f"disabled account {args.account_id}: scheduled syncs skip it")
    return EXIT_OK


def cmd_accounts_enable(args: argparse.Namespace) -> int:
    _call(_accounts().enable, args.account_id)
    print(f"enabled account {args.account_id}")
    return EXIT_OK


def cmd_accounts_revoke(args: argparse.Namespace) -> int:
    """Revoke the token at Meta (through the hook), then mark it revoked and disable the account."""
    from instagram_graph.errors import GraphApiError, RateLimitError, advice_for
    from instagram_graph.hooks.graph_api import InstagramGraphHook
    from instagram_graph.token_lifecycle import RevokeNotConfirmed, revoke

    store = _store()
    known = {info.account_id for info in _call(_accounts(store).list_accounts)}
    if args.account_id not in known:
        raise UsageError(f"unknown account {args.account_id}; see `instagram-graph accounts list`")
    from airflow.sdk.exceptions import AirflowNotFoundException

    hook = InstagramGraphHook(args.conn_id, token_store=store)
    try:
        result = _call(revoke, hook, store, args.account_id, reason=args.reason)
    except AirflowNotFoundException as exc:
        raise UsageError(f"{exc}: define it as an Airflow connection (e.g. env AIRFLOW_CONN_<CONN_ID>)") from None
    except (GraphApiError, RevokeNotConfirmed) as exc:
        what_to_do = "Run the command again."
        if isinstance(exc, GraphApiError) and not exc.retryable and not isinstance(exc, RateLimitError):
            what_to_do = advice_for(exc, account_id=args.account_id)
        print(
            f"instagram-graph: Meta did not revoke the token of account {args.account_id}: {exc}. "
            f"Nothing was changed. {what_to_do}",
            file=sys.stderr,
        )
        return EXIT_GRAPH_API
    finally:
        hook.close()
    print(f"account {args.account_id}: {result.detail}; token marked revoked; account disabled ({args.reason})")
    if result.also:
        print(f"also revoked and disabled, same Facebook user: {', '.join(result.also)}")
    return EXIT_OK


def cmd_keys_generate(args: argparse.Namespace) -> int:
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())
    return EXIT_OK


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    count = _call(_store().rotate)
    print(f"re-encrypted {count} token(s) under the first key in INSTAGRAM_TOKEN_KEYS")
    if count:
        print("older keys may now be removed from INSTAGRAM_TOKEN_KEYS")
    return EXIT_OK


# --- the parser ------------------------------------------------------------------------------
#
# Each group is a table of (name, help, configure, handler). A new subcommand is one
# handler above and one row here.

Configure = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int]


def _checked(check: Callable[..., Any], field: str, **kwargs: Any) -> Callable[[str], Any]:
    """An argparse ``type`` from a :mod:`instagram_graph.validation` check: a bad value
    ends in argparse's usage error (exit 2) naming the argument, before anything runs."""

    def convert(text: str) -> Any:
        from instagram_graph.validation import InvalidInput

        try:
            return check(field, text, **kwargs)
        except InvalidInput as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _account_id() -> Callable[[str], str]:
    from instagram_graph.validation import instagram_id

    return _checked(instagram_id, "ACCOUNT_ID")


def _text(field: str) -> Callable[[str], str]:
    from instagram_graph.validation import plain_text

    return _checked(plain_text, field)


def _days(text: str) -> int:
    from instagram_graph.validation import MAX_DAYS, InvalidInput, whole_number

    try:
        return whole_number("--expires-in-days", int(text), minimum=1, maximum=MAX_DAYS)
    except ValueError as exc:
        message = str(exc) if isinstance(exc, InvalidInput) else f"--expires-in-days {text!r} is not a whole number"
        raise argparse.ArgumentTypeError(message) from None


def _configure_migrate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sql-dir",
        help="directory of the NNN_*.sql files (default: env INSTAGRAM_SQL_DIR, else the repository's sql/)",
    )


def _configure_add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("account_id", metavar="ACCOUNT_ID", type=_account_id(), help="the Instagram user id (digits)")
    parser.add_argument("--username", type=_text("--username"), help="the account's @username, for listings")
    expiry = parser.add_mutually_exclusive_group()
    expiry.add_argument(
        "--expires-in-days",
        type=_days,
        default=60,
        metavar="N",
        help="days until the token expires (1 to 3650; default 60, a long-lived token)",
    )
    expiry.add_argument(
        "--expires-at",
        metavar="ISO",
        type=_text("--expires-at"),
        help="expiry as ISO 8601, e.g. 2026-03-01T12:00:00Z (UTC if no offset)",
    )
    parser.add_argument(
        "--scopes", metavar="A,B", type=_text("--scopes"), help="comma-separated permissions the token was granted"
    )
    parser.epilog = (
        "The token is read from stdin (e.g. `< token-file`), or from a hidden prompt when stdin "
        "is a terminal. It is never accepted on the command line."
    )


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _configure_disable(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("account_id", metavar="ACCOUNT_ID", type=_account_id())
    parser.add_argument("--reason", required=True, type=_text("--reason"), help="why (shown in listings)")


def _configure_enable(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("account_id", metavar="ACCOUNT_ID", type=_account_id())


def _configure_discover(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="only list the Pages and what would be registered")
    parser.add_argument(
        "--conn-id",
        default="instagram_graph_default",
        help="the instagram_graph Airflow connection (with facebook_app_id and facebook_app_secret; default: "
        "instagram_graph_default)",
    )
    parser.epilog = (
        "The Facebook user token (from Meta's login dialog or the Graph API Explorer, with pages_show_list, "
        "instagram_basic and the other permissions the DAGs need) is read from stdin, or from a hidden prompt. "
        "It is exchanged for a long-lived one; every Page with an Instagram business account is registered "
        "with its Page token. Run it again to update tokens and add new Pages."
    )


def _configure_revoke(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("account_id", metavar="ACCOUNT_ID", type=_account_id())
    parser.add_argument(
        "--reason",
        default="token revoked",
        type=_text("--reason"),
        help="why (shown in listings; default: token revoked)",
    )
    parser.add_argument(
        "--conn-id",
        default="instagram_graph_default",
        help="the instagram_graph Airflow connection to reach Meta with (default: instagram_graph_default)",
    )


ACCOUNT_COMMANDS: list[tuple[str, str, Configure, Handler]] = [
    ("add", "store an account's access token (read from stdin), encrypted", _configure_add, cmd_accounts_add),
    ("discover", "register the Instagram accounts of a Facebook user's Pages (Facebook Login; token on stdin)",
     _configure_discover, cmd_accounts_discover),
    ("list", "accounts with login, token status and expiry (never the token)", _no_arguments, cmd_accounts_list),
    ("disable", "stop scheduled syncs for an account", _configure_disable, cmd_accounts_disable),
    ("enable", "resume scheduled syncs for an account", _configure_enable, cmd_accounts_enable),
    ("revoke", "revoke an account's token at Meta and disable the account", _configure_revoke, cmd_accounts_revoke),
]

KEY_COMMANDS: list[tuple[str, str, Configure, Handler]] = [
    ("generate", "print a new Fernet key for INSTAGRAM_TOKEN_KEYS", _no_arguments, cmd_keys_generate),
    ("rotate", "re-encrypt every token under the first key in INSTAGRAM_TOKEN_KEYS", _no_arguments, cmd_keys_rotate),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="instagram-graph",
        description="Warehouse migrations and the encrypted token store of the Instagram Graph API pipelines.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    migrate = commands.add_parser("migrate", help="apply pending warehouse migrations")
    _configure_migrate(migrate)
    migrate.set_defaults(handler=cmd_migrate)

    for group, group_help, table in (
        ("accounts", "manage accounts and their tokens", ACCOUNT_COMMANDS),
        ("keys", "manage the token encryption keys", KEY_COMMANDS),
    ):
        group_parser = commands.add_parser(group, help=group_help)
        sub = group_parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
        for name, help_text, configure, handler in table:
            command = sub.add_parser(name, help=help_text, description=help_text)
            configure(command)
            command.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage error (or --help) already
        return int(exc.code or 0)
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"instagram-graph: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except psycopg2.Error as exc:
        detail = (getattr(exc, "pgerror", None) or str(exc)).strip()
        print(f"instagram-graph: warehouse error: {detail}", file=sys.stderr)
        return EXIT_WAREHOUSE
    except KeyboardInterrupt:
        print("instagram-graph: interrupted", file=sys.stderr)
        return 130


# --- helpers -----------------------------------------------------------------------------------


def _connect(db_module):
    try:
        return db_module.connect()
    except RuntimeError as exc:  # no warehouse configured
        raise UsageError(str(exc)) from None


def _store():
    from instagram_graph import db
    from instagram_graph.token_store import TokenStore

    return TokenStore(conn_factory=lambda: _connect(db))


def _accounts(store=None):
    """The account registry on ``store`` (default: a new one, see :func:`_store`)."""
    from instagram_graph.accounts import AccountRegistry

    return AccountRegistry(store if store is not None else _store())


def _call(function, *args, **kwargs):
    """Run a token store or account registry call, turning its expected errors into usage errors."""
    from instagram_graph.errors import TokenError
    from instagram_graph.token_store import TokenStoreError

    try:
        return function(*args, **kwargs)
    except (TokenStoreError, TokenError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    except psycopg2.errors.UndefinedTable:
        raise UsageError("the warehouse schema is missing: run `instagram-graph migrate` first") from None


def _read_token(account_id: str, kind: str = "Access token") -> str:
    if sys.stdin is None:
        raise UsageError("no stdin to read the token from")
    if sys.stdin.isatty():
        who = account_id if kind != "Access token" else f"account {account_id}"
        token = getpass.getpass(f"{kind} for {who} (input hidden): ")
    else:
        token = sys.stdin.read()
    token = token.strip()
    if not token:
        example = "accounts discover" if kind != "Access token" else "accounts add ID"
        raise UsageError(f"no token given: pipe it on stdin, e.g. `instagram-graph {example} < token-file`")
    return token


def _parse_when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--expires-at {text!r} is not an ISO 8601 time, e.g. 2026-03-01T12:00:00Z") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


if __name__ == "__main__":
    sys.exit(main())
