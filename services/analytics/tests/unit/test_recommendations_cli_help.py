"""`cloudaudit recommendations --help` spells the statuses without importing the event models."""

from cloudaudit.analytics.entrypoints.recommendations_cli import STATUSES
from cloudaudit.common.events.recommendation import RecommendationStatus


def test_statuses_in_help_are_the_real_ones():
    assert STATUSES.split(", ") == [s.value for s in RecommendationStatus]
