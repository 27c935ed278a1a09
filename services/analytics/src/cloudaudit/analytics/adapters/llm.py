"""Recommendation text from an OpenAI-compatible API, checked; templates when it cannot be used.

Temperature 0, a strict JSON schema, a timeout and bounded retries (the openai client's own).
Whatever goes wrong (timeout, HTTP error, refusal, bad JSON, an invented number) the reader
still gets a grounded text: the template, with the reason counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import openai
from cloudaudit.analytics.domain.recommendations.model import Candidate
from cloudaudit.analytics.domain.recommendations.text import (
    OUTPUT_SCHEMA,
    SYSTEM_PROMPT,
    RecommendationText,
    TextRejected,
    accept_llm_answer,
    template_text,
    user_prompt,
)
from cloudaudit.analytics.settings import AnalyticsSettings
from cloudaudit.common.logging import register_secret
from cloudaudit.common.metrics import LLM_CALLS, LLM_TOKENS
from openai import AsyncOpenAI

log = logging.getLogger(__name__)

TEMPLATE_MODEL = "template"


@dataclass(frozen=True)
class WrittenText:
    text: RecommendationText
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cacheable: bool = True  # False after transient failures: try the LLM again next time


class TextWriter(Protocol):
    model: str

    async def write(self, candidate: Candidate, sheet: dict[str, Any]) -> WrittenText: ...


class TemplateWriter:
    """No LLM configured: deterministic templates only."""

    model = TEMPLATE_MODEL

    async def write(self, candidate: Candidate, sheet: dict[str, Any]) -> WrittenText:
        return WrittenText(template_text(candidate), self.model)


class LlmWriter:
    def __init__(self, settings: AnalyticsSettings) -> None:
        assert settings.openai_api_key is not None
        key = settings.openai_api_key.get_secret_value()
        register_secret(key)
        self.model = settings.openai_model
        self.max_tokens = settings.openai_max_tokens
        self.client = AsyncOpenAI(
            api_key=key,
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout_s,
            max_retries=settings.openai_max_retries,
        )

    async def write(self, candidate: Candidate, sheet: dict[str, Any]) -> WrittenText:
        try:
            response = await self.client.chat.completions.create(
                model=self.model,
                temperature=0,
                max_tokens=self.max_tokens,
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": user_prompt(sheet)},
                ],
                response_format={"type": "json_schema", "json_schema": OUTPUT_SCHEMA},
            )
        except openai.APITimeoutError:
            return self._fallback(candidate, "timeout", cacheable=False)
        except openai.APIError as exc:
            log.warning(
                "LLM call failed; using the template",
                extra={"error": type(exc).__name__, "status": getattr(exc, "status_code", None)},
            )
            return self._fallback(candidate, "llm_error", cacheable=False)
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else 0
        completion_tokens = usage.completion_tokens if usage else 0
        LLM_TOKENS.labels("prompt").inc(prompt_tokens)
        LLM_TOKENS.labels("completion").inc(completion_tokens)
        message = response.choices[0].message if response.choices else None
        try:
            if message is None or getattr(message, "refusal", None):
                raise TextRejected("refusal", "the model declined to answer")
            answer = accept_llm_answer(message.content, sheet)
        except TextRejected as exc:
            log.info("LLM text rejected; using the template", extra={"reason": exc.reason})
            return self._fallback(candidate, exc.reason, True, prompt_tokens, completion_tokens)
        LLM_CALLS.labels("accepted").inc()
        return WrittenText(
            RecommendationText(answer.title, answer.explanation, "llm"),
            response.model or self.model,
            prompt_tokens,
            completion_tokens,
        )

    def _fallback(
        self,
        candidate: Candidate,
        reason: str,
        cacheable: bool,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
    ) -> WrittenText:
        LLM_CALLS.labels(reason).inc()
        return WrittenText(
            template_text(candidate, reason),
            self.model,
            prompt_tokens,
            completion_tokens,
            cacheable,
        )


def text_writer(settings: AnalyticsSettings) -> TextWriter:
    return LlmWriter(settings) if settings.openai_api_key is not None else TemplateWriter()
