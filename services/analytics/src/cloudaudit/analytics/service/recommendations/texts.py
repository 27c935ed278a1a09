"""Recommendation text per fact sheet: kept if unchanged, from the cache, else written now."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from cloudaudit.analytics.adapters.llm import WrittenText
from cloudaudit.analytics.adapters.recommendation_repository import RecommendationUnitOfWork
from cloudaudit.analytics.domain.recommendations.model import Candidate
from cloudaudit.analytics.domain.recommendations.text import (
    RecommendationText,
    fact_sheet,
    sheet_hash,
)
from cloudaudit.analytics.service.deps import AnalyticsDeps


@dataclass
class Texts:
    """Text per fact-sheet hash, and what producing them took."""

    by_hash: dict[str, WrittenText] = field(default_factory=dict)
    new: dict[str, WrittenText] = field(default_factory=dict)
    llm: int = 0
    template: int = 0
    cached: int = 0


async def write_texts(team_id: UUID, candidates: list[Candidate], deps: AnalyticsDeps) -> Texts:
    """Text for every fact sheet: kept if unchanged, from the cache, else written now."""
    texts = Texts()
    sheets = {sheet_hash(s, deps.writer.model): (c, s) for c in candidates for s in [fact_sheet(c)]}
    async with deps.recommendation_uow() as uow:
        cached = await uow.repo.cached_texts(list(sheets))
    for text_hash, row in cached.items():
        texts.by_hash[text_hash] = WrittenText(
            RecommendationText(row.title, row.description, row.source, row.fallback_reason),
            row.model,
            row.prompt_tokens,
            row.completion_tokens,
        )
        texts.cached += 1
    limit = asyncio.Semaphore(deps.settings.llm_concurrency)

    async def write(text_hash: str, candidate: Candidate, sheet: dict[str, Any]) -> None:
        async with limit:
            written = await deps.writer.write(candidate, sheet)
        texts.by_hash[text_hash] = texts.new[text_hash] = written
        if written.text.source == "llm":
            texts.llm += 1
        else:
            texts.template += 1

    await asyncio.gather(*(write(h, c, s) for h, (c, s) in sheets.items() if h not in cached))
    return texts


async def cache_new_texts(uow: RecommendationUnitOfWork, texts: Texts, now: Any) -> None:
    """Keep what was written now for the next refresh (texts the writer marks cacheable)."""
    for text_hash, written in texts.new.items():
        if written.cacheable:
            await uow.repo.cache_text(
                text_hash=text_hash,
                model=written.model,
                title=written.text.title,
                description=written.text.description,
                source=written.text.source,
                fallback_reason=written.text.fallback_reason,
                prompt_tokens=written.prompt_tokens,
                completion_tokens=written.completion_tokens,
                created_at=now,
            )
