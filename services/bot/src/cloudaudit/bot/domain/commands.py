"""The `/cloudaudit` command language: text in, a typed command out. Pure, no I/O."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from cloudaudit.bot.domain.errors import CommandError
from cloudaudit.bot.domain.periods import PERIOD_HELP, expectation_days, looks_like_period
from cloudaudit.common.events.cost import SpendGroupBy

GROUPS = {
    "service": SpendGroupBy.SERVICE,
    "region": SpendGroupBy.REGION,
    "usage_type": SpendGroupBy.USAGE_TYPE,
    "usage-type": SpendGroupBy.USAGE_TYPE,
    "account": SpendGroupBy.ACCOUNT,
}
DIGESTS = ("daily", "weekly", "off")
MAX_EXPECTED_PER_DAY = Decimal("10000000")


@dataclass(frozen=True)
class Command:
    """A parsed subcommand: its name and its arguments."""

    name: str
    args: dict[str, object] = field(default_factory=dict)


def _status(words: list[str], name: str) -> Command:
    which = words[0].lower() if words else "open"
    if which not in ("open", "all") or len(words) > 1:
        raise CommandError(f"usage: /cloudaudit {name} [open|all]")
    return Command(name, {"status": which})


def _spend(words: list[str]) -> Command:
    period: str | None = None
    group = SpendGroupBy.SERVICE
    tag_key: str | None = None
    rest = list(words)
    while rest:
        word = rest.pop(0)
        lowered = word.lower()
        if lowered == "by":
            if not rest:
                raise CommandError(
                    "say what to group by: service, region, usage_type, account or tag:KEY"
                )
            target = rest.pop(0)
            if target.lower().startswith("tag:") and len(target) > 4:
                group, tag_key = SpendGroupBy.TAG, target[4:]
            elif target.lower() in GROUPS:
                group = GROUPS[target.lower()]
            else:
                raise CommandError(
                    f"I can't group by '{target}'. Use service, region, usage_type, "
                    "account or tag:KEY (e.g. tag:team)"
                )
        elif period is None and looks_like_period(lowered):
            period = lowered
        else:
            raise CommandError(
                f"I don't understand '{word}'. Example: /cloudaudit spend 30d by "
                f"service (periods: {PERIOD_HELP})"
            )
    return Command("spend", {"period": period, "group_by": group, "tag_key": tag_key})


def parse_amount(text: str) -> Decimal:
    cleaned = text.strip().lower().removeprefix("$").removesuffix("/day").replace(",", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise CommandError(
            f"'{text}' is not an amount in dollars per day (e.g. 50 or $12.50)"
        ) from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_EXPECTED_PER_DAY:
        raise CommandError("the amount must be more than $0 per day")
    return amount.quantize(Decimal("0.01"))


def _expect(words: list[str]) -> Command:
    if len(words) < 3:
        raise CommandError(
            "usage: /cloudaudit expect <service> <amount per day> <duration>, e.g. "
            "/cloudaudit expect AmazonEC2 120 14d"
        )
    service = " ".join(words[:-2]).strip()
    if not service or len(service) > 200:
        raise CommandError("name the AWS service the planned spend is for (e.g. AmazonEC2)")
    return Command(
        "expect",
        {
            "service": service,
            "amount": parse_amount(words[-2]),
            "days": expectation_days(words[-1]),
        },
    )


def _alerts(words: list[str]) -> Command:
    if words and words[0].lower() == "here" and len(words) == 1:
        return Command("alerts_here")
    if words and words[0].lower() == "digest" and len(words) >= 2:
        frequency = words[1].lower()
        if frequency not in DIGESTS:
            raise CommandError("usage: /cloudaudit alerts digest daily|weekly|off [at HOUR]")
        hour: int | None = None
        if len(words) == 4 and words[2].lower() == "at":
            match = re.fullmatch(r"(\d{1,2})(?::00)?", words[3])
            if not match or not 0 <= int(match.group(1)) <= 23:
                raise CommandError("the digest hour is 0 to 23, e.g. `at 9` (your time zone)")
            hour = int(match.group(1))
        elif len(words) != 2:
            raise CommandError("usage: /cloudaudit alerts digest daily|weekly|off [at HOUR]")
        return Command("alerts_digest", {"frequency": frequency, "hour": hour})
    raise CommandError(
        "usage: /cloudaudit alerts here  |  /cloudaudit alerts digest daily|weekly|off"
    )


DELETE_DATA = "delete-data"


def _disconnect(words: list[str]) -> Command:
    """`disconnect <account> [delete-data]`: the account by AWS id or name; its data is kept
    unless `delete-data` is typed out."""
    usage = (
        "usage: /cloudaudit disconnect <AWS account id or name> [delete-data]  "
        "(`/cloudaudit accounts` lists them)"
    )
    delete = bool(words) and words[-1].lower() == DELETE_DATA
    named = words[:-1] if delete else words
    if len(named) != 1:
        raise CommandError(usage)
    return Command("disconnect", {"account": named[0][:200], "delete_data": delete})


# What people type for the same question; each maps to the command it means.
ALIASES = {
    "recommendations": "recs",
    "recommendation": "recs",
    "rec": "recs",
    "savings": "recs",
    "anomaly": "anomalies",
    "account": "accounts",
    "members": "team",
}
KNOWN = ("help", "accounts", "team", "settings", "connect", "disconnect", "spend", "anomalies",
         "recs", "alerts", "expect", "link", "claim", "invite", *ALIASES)  # fmt: skip
ROLES = ("owner", "admin", "member", "viewer")
# What Slack sends for a mention when the command escapes users: <@U123> or <@U123|name>.
MENTION = re.compile(r"^<@([UW][A-Z0-9]{1,31})(?:\|[^>]*)?>$")
MEMBER_ID = re.compile(r"^[UW][A-Z0-9]{1,31}$")
ECHO_MAX = 40  # what a reply repeats of an unknown command


def _unknown(text: str, head: str) -> CommandError:
    import difflib

    shown = text.strip()
    shown = shown if len(shown) <= ECHO_MAX else shown[: ECHO_MAX - 1] + "…"
    close = difflib.get_close_matches(head, KNOWN, n=1, cutoff=0.6)
    meant = ALIASES.get(close[0], close[0]) if close else None
    hint = f" Did you mean `{meant}`?" if meant else ""
    return CommandError(f"I don't know `{shown}`.{hint}", command=meant)


def _invite(words: list[str]) -> Command:
    usage = "usage: /cloudaudit invite @person [owner|admin|member|viewer]"
    if not words or len(words) > 2:
        raise CommandError(usage)
    mention = MENTION.match(words[0])
    slack_user_id = mention.group(1) if mention else words[0].upper()
    if not mention and not MEMBER_ID.match(slack_user_id):
        raise CommandError(
            f"I could not tell who {words[0][:40]!r} is: pick the person from Slack's @ list "
            "(the app needs 'Escape channels, users, and links' on for /cloudaudit), or give "
            "their member ID (profile ⋮ menu, 'Copy member ID')"
        )
    role = words[1].lower() if len(words) == 2 else "member"
    if role not in ROLES:
        raise CommandError(usage)
    return Command("invite", {"slack_user_id": slack_user_id, "role": role})


def _code_command(head: str, rest: list[str]) -> Command:
    """`link [CODE]` and `claim CODE`: a code from the web app or from the operator."""
    if head == "link" and not rest:
        return Command("link")
    code = "".join(rest).strip()
    if not code or len(code) > 40:
        raise CommandError(
            "usage: /cloudaudit claim CODE (the operator prints it: `cloudaudit teams claim-code`)"
            if head == "claim"
            else "usage: /cloudaudit link, or /cloudaudit link CODE with a code from the web app"
        )
    return Command(head, {"code": code})


def parse(text: str) -> Command:
    """Parse what followed `/cloudaudit`. Raises CommandError with a usage hint, naming the
    subcommand it concerns."""
    try:
        return _parse(text)
    except CommandError as exc:
        if exc.command is None:
            head = text.strip().split(maxsplit=1)[0].lower() if text.strip() else ""
            exc.command = ALIASES.get(head, head) or None
        raise


def _parse(text: str) -> Command:
    try:
        words = shlex.split(text.strip())
    except ValueError:
        words = text.strip().split()
    if not words:
        return Command("help")
    head, rest = words[0].lower(), words[1:]
    head = ALIASES.get(head, head)
    if head in ("help", "?", "-h", "--help"):
        return Command("help")
    if head in ("accounts", "team", "settings", "connect") and not rest:
        return Command(head)
    if head == "connect" and len(rest) == 1:  # a shortcut: the form opens with it filled in
        return Command("connect", {"role_arn": rest[0][:2048]})
    if head == "disconnect":
        return _disconnect(rest)
    if head == "spend":
        return _spend(rest)
    if head in ("anomalies", "recs"):
        return _status(rest, head)
    if head == "alerts":
        return _alerts(rest)
    if head == "expect":
        return _expect(rest)
    if head in ("link", "claim"):
        return _code_command(head, rest)
    if head == "invite":
        return _invite(rest)
    raise _unknown(text, head)
