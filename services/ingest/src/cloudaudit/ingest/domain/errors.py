"""Ingest errors a user can act on: each names what failed and how to fix it."""

from __future__ import annotations

from cloudaudit.common.errors import DomainError
from cloudaudit.common.errors import InvalidInput as CommonInvalidInput
from cloudaudit.common.errors import NotFound as CommonNotFound
from cloudaudit.common.events.account import ConnectStep


class IngestError(DomainError):
    code = "ingest_error"


class NotFound(IngestError, CommonNotFound):
    code = "not_found"


class InvalidInput(IngestError, CommonInvalidInput):
    code = "invalid_input"


class BadPageCursor(InvalidInput):
    """A `next_cursor` that this service did not hand out (or that was cut or edited)."""

    code = "bad_cursor"


class SyncInProgress(IngestError):
    code = "sync_in_progress"


class AwsUnavailable(IngestError):
    """AWS answered with something we cannot act on (an outage, an unexpected error)."""

    code = "aws_error"


# -- connecting an account ---------------------------------------------------------------------
class ConnectFailed(IngestError):
    """Connecting an account failed at `step`; the message says how to fix it."""

    step: ConnectStep = ConnectStep.ASSUME_ROLE

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code


class RoleArnInvalid(ConnectFailed):
    code = "invalid_role_arn"
    step = ConnectStep.VALIDATE_ARN


class RoleNotAssumable(ConnectFailed):
    code = "role_not_assumable"
    step = ConnectStep.ASSUME_ROLE


class CostExplorerNotEnabled(ConnectFailed):
    code = "cost_explorer_not_enabled"
    step = ConnectStep.COST_EXPLORER


class PermissionMissing(ConnectFailed):
    code = "permission_missing"
    step = ConnectStep.PERMISSIONS

    def __init__(self, message: str, permission: str) -> None:
        super().__init__(message)
        self.permission = permission


class AwsThrottled(ConnectFailed):
    code = "throttled"
    step = ConnectStep.THROTTLED


# -- cost files -------------------------------------------------------------------------------
class NotACostReport(IngestError):
    """The file is not a CUR, CUR 2.0 or FOCUS export (wrong file, wrong format)."""

    code = "not_a_cost_report"


class CostSourceUnreadable(IngestError):
    """A path or S3 location could not be read (missing, no permission, corrupt archive)."""

    code = "cost_source_unreadable"


class RowsRejected(IngestError):
    """Every row of a file was rejected: nothing of the import was kept (the message names the
    first rejections and how to fix them)."""

    code = "rows_rejected"


class SyncFailed(IngestError):
    """A sync stopped by something other than AWS's answer (the database, a bug, a stop)."""

    code = "sync_failed"
