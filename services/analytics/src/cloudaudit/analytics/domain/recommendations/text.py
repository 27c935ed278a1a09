"""The words of a recommendation: fact sheet, LLM instructions, the number check, and templates.

The LLM only rewords the fact sheet. Its answer is accepted only if it parses against the schema
and every number in it (dollars, percentages, sizes, counts, digits or words) and every name
that changes what a reader would do (instance type, region, volume type, size, action verb)
appears in the fact sheet; otherwise the deterministic template is used. The sheet never holds account ids, resource ids,
names or tags: the reader sees those beside the text, the LLM does not need them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from cloudaudit.analytics.domain.recommendations.model import Candidate, RecType, pct, usd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROMPT_VERSION = "rec-text-v1"
TITLE_MAX = 120
EXPLANATION_MAX = 700

LABELS: dict[RecType, str] = {
    RecType.IDLE_EC2: "Idle EC2 instance",
    RecType.OVERPROVISIONED_EC2: "Over-provisioned EC2 instance",
    RecType.UNATTACHED_EBS: "Unattached EBS volume",
    RecType.GP2_TO_GP3: "gp2 volume that could be gp3",
    RecType.OLD_SNAPSHOT: "Old EBS snapshot not used by any AMI",
    RecType.IDLE_EIP: "Unassociated Elastic IP",
    RecType.PREVIOUS_GENERATION: "Previous-generation EC2 instance",
    RecType.STOPPED_INSTANCE_EBS: "Stopped EC2 instance still paying for EBS",
    RecType.SAVINGS_PLAN: "On-demand compute not covered by a commitment",
    RecType.AWS_FINDING: "AWS cost optimisation finding",
}
RESOURCE_WORDS = {
    "ec2_instance": "EC2 instance",
    "ebs_volume": "EBS volume",
    "ebs_snapshot": "EBS snapshot",
    "elastic_ip": "Elastic IP",
    "savings_plan": "account compute spend",
}

SYSTEM_PROMPT = (
    "You write the title and a short explanation of one cloud cost saving for a busy engineer "
    "reading Slack. Use only the facts in the user's JSON. Every number you write (dollar "
    "amounts, percentages, sizes, counts, days) must be copied exactly as it appears in the facts:"
    " never round, convert, add up or invent numbers, and never write numbers as words. "
    "Name no instance type, region, volume type, size or action the facts do not name, and "
    "never widen the advice to other resources or add urgency. "
    f"Title: at most {TITLE_MAX // 2} characters, with the monthly savings. Explanation: two or "
    "three plain sentences saying what was found, what to do, and the main risk. "
    "Answer with JSON only."
)

OUTPUT_SCHEMA: dict[str, Any] = {
    "name": "recommendation_text",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {
            "title": {"type": "string", "description": "One line with the monthly savings."},
            "explanation": {"type": "string", "description": "Two or three sentences."},
        },
        "required": ["title", "explanation"],
        "additionalProperties": False,
    },
}


class LlmText(BaseModel):
    """What the LLM must answer (the same shape as OUTPUT_SCHEMA)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=3, max_length=TITLE_MAX)
    explanation: str = Field(min_length=10, max_length=EXPLANATION_MAX)


@dataclass(frozen=True)
class RecommendationText:
    title: str
    description: str
    source: str  # "llm" or "template"
    fallback_reason: str | None = None


def fact_sheet(candidate: Candidate) -> dict[str, Any]:
    """Everything the text may say, and nothing identifying the customer."""
    return {
        "recommendation": LABELS[candidate.rec_type],
        "resource": RESOURCE_WORDS.get(candidate.resource_type, candidate.resource_type),
        "region": candidate.region,
        "action": candidate.action,
        "facts": {fact.name: fact.text for fact in candidate.facts},
        "estimated_monthly_savings": usd(candidate.estimated_monthly_savings),
        "confidence": pct(candidate.confidence * 100, 0),
        "risks": list(candidate.risks),
    }


def sheet_hash(sheet: dict[str, Any], model: str) -> str:
    """Same facts, same prompt, same model -> same text: the cache key."""
    canonical = json.dumps(sheet, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{PROMPT_VERSION}\n{model}\n{canonical}".encode()).hexdigest()


def user_prompt(sheet: dict[str, Any]) -> str:
    return json.dumps(sheet, indent=1, ensure_ascii=False)


# -- the grounding check ----------------------------------------------------------------------
# A number not glued to a word (m5.large, gp3, p95, us-east-1 are names, not quantities).
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.\-])(\$\s?)?(\d[\d,]*(?:\.\d+)?)(\s?%)?")
_NUMBER_WORDS = re.compile(
    r"\b(percent|per cent|hundred|thousand|million|billion|dozen|twice|triple|half|quarter"
    r"|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    r"|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy"
    r"|eighty|ninety|double)\b",
    re.I,
)
# Names a reader acts on: telling them to resize to another type, in another region, to another
# volume type or size would send them to do something the facts do not support.
_INSTANCE_TYPE = re.compile(
    r"(?<![\w.-])(?:db\.|cache\.)?[a-z][a-z0-9-]*\d[a-z0-9-]*\."
    r"(?:nano|micro|small|medium|large|\d*xlarge|metal(?:-\d+xl)?)(?![\w-])",
    re.I,
)
_REGION = re.compile(
    r"(?<![\w-])(?:us|eu|ap|sa|ca|me|af|il|mx|cn)(?:-gov|-iso[a-z]?)?"
    r"-(?:north|south|east|west|central|northeast|southeast|northwest|southwest)-\d(?![\w-])",
    re.I,
)
_VOLUME_TYPE = re.compile(r"(?<![\w-])(?:gp2|gp3|io1|io2|st1|sc1)(?![\w-])", re.I)
_SIZE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?(KiB|MiB|GiB|TiB|KB|MB|GB|TB|vCPUs?)(?!\w)", re.I)
# What the reader is told to do: each verb must be one the fact sheet's action or facts use.
ACTION_STEMS = (
    "terminat", "delet", "stop", "start", "resiz", "downsiz", "rightsiz", "right-siz",
    "releas", "purchas", "buy", "commit", "modif", "migrat", "convert", "upgrad", "downgrad",
    "snapshot", "shut", "remov", "detach", "reboot", "decommission", "archiv", "destroy",
    "disabl", "wipe", "drop", "kill", "move", "switch", "replac", "cancel", "reserv",
)  # fmt: skip
# One recommendation is about one resource, at the reader's pace: words that widen it to a fleet
# or add urgency ("Stop all production instances today") are not in any fact sheet.
_SCOPE = re.compile(
    r"\b(all|every|everything|entire|whole|fleet|production|prod|today|tonight|tomorrow"
    r"|immediately|now|asap|urgent|urgently|right away)\b",
    re.I,
)
_ACTION = re.compile(r"\b(" + "|".join(re.escape(stem) for stem in ACTION_STEMS) + r")\w*", re.I)


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    kind: str  # "usd", "percent", "plain"


def quantities(text: str) -> list[Quantity]:
    found = []
    for match in _NUMBER.finditer(text):
        raw = match.group(2).rstrip(",").replace(",", "")
        try:
            value = Decimal(raw).normalize()
        except InvalidOperation:
            continue
        kind = "usd" if match.group(1) else "percent" if match.group(3) else "plain"
        found.append(Quantity(value, kind))
    return found


def _sheet_strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_sheet_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _sheet_strings(item)]
    return [str(value)]


def unsupported_numbers(text: str, sheet: dict[str, Any]) -> list[str]:
    """Numbers in `text` the fact sheet does not contain (empty list = grounded)."""
    known = [q for s in _sheet_strings(sheet) for q in quantities(s)]
    by_kind = {kind: {q.value for q in known if q.kind == kind} for kind in ("usd", "percent")}
    every = {q.value for q in known}
    problems = []
    for q in quantities(text):
        allowed = by_kind.get(q.kind, every)
        if q.value not in allowed:
            problems.append(
                ("$" if q.kind == "usd" else "")
                + format(q.value, "f")
                + ("%" if q.kind == "percent" else "")
            )
    sheet_text = " ".join(_sheet_strings(sheet)).lower()
    known_words = {m.group(0).lower() for m in _NUMBER_WORDS.finditer(sheet_text)}
    problems.extend(
        m.group(0) for m in _NUMBER_WORDS.finditer(text) if m.group(0).lower() not in known_words
    )
    return problems


def _size(match: re.Match[str]) -> tuple[Decimal, str]:
    """100 GiB == 100GiB == 100 gib; 4 vCPUs == 4 vCPU."""
    return Decimal(match.group(1)).normalize(), match.group(2).lower().rstrip("s")


def unsupported_names(text: str, sheet: dict[str, Any]) -> list[str]:
    """Instance types, regions, volume types, sizes and action verbs in `text` that the fact
    sheet does not name (empty list = grounded)."""
    sheet_text = " ".join(_sheet_strings(sheet))
    problems = []
    for pattern in (_INSTANCE_TYPE, _REGION, _VOLUME_TYPE, _SCOPE):
        known = {m.group(0).lower() for m in pattern.finditer(sheet_text)}
        problems.extend(
            m.group(0) for m in pattern.finditer(text) if m.group(0).lower() not in known
        )
    known_sizes = {_size(m) for m in _SIZE.finditer(sheet_text)}
    problems.extend(m.group(0) for m in _SIZE.finditer(text) if _size(m) not in known_sizes)
    known_verbs = {m.group(1).lower() for m in _ACTION.finditer(sheet_text)}
    problems.extend(
        m.group(0) for m in _ACTION.finditer(text) if m.group(1).lower() not in known_verbs
    )
    return problems


class TextRejected(ValueError):
    """The LLM's answer cannot be shown; `reason` is counted."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def accept_llm_answer(content: str | None, sheet: dict[str, Any]) -> LlmText:
    """Parse and check the LLM's answer, or raise TextRejected with why."""
    if not content:
        raise TextRejected("empty_answer", "the model returned no content")
    try:
        answer = LlmText.model_validate_json(content)
    except ValidationError as exc:
        raise TextRejected("schema_mismatch", str(exc.errors()[0]["msg"])) from None
    text = f"{answer.title}\n{answer.explanation}"
    bad = unsupported_numbers(text, sheet)
    if bad:
        raise TextRejected("ungrounded_number", ", ".join(bad[:5]))
    bad = unsupported_names(text, sheet)
    if bad:
        raise TextRejected("ungrounded_name", ", ".join(bad[:5]))
    return answer


# -- templates --------------------------------------------------------------------------------
def template_text(candidate: Candidate, fallback_reason: str | None = None) -> RecommendationText:
    """Deterministic text from the same facts: always available, always grounded."""
    label = LABELS[candidate.rec_type]
    amount = usd(candidate.estimated_monthly_savings)
    title = f"{label}: save {amount} a month"
    facts = "; ".join(f"{fact.name}: {fact.text}" for fact in candidate.facts)
    risk = f" Watch out: {candidate.risks[0]}." if candidate.risks else ""
    description = (
        f"{candidate.action} to save {amount} a month "
        f"(confidence {pct(candidate.confidence * 100, 0)}). {facts}.{risk}"
    )
    return RecommendationText(title[:TITLE_MAX], description, "template", fallback_reason)
