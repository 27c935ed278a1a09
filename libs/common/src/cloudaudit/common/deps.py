"""How a service hands its dependencies to its bus handlers: FastStream's context and `Depends`.

A service builds one deps object at start (its settings, read once, the unit-of-work factory,
clients, the clock) and `provide`s it to its broker. A subscriber then asks for what it needs by
type instead of capturing it in a closure:

```python
async def on_change_role(request: ChangeRoleRequest, uow: Uow, deps: Deps) -> ChangeRoleReply:
```
with `Deps = Annotated[IdentityDeps, ServiceDeps]` and `Uow = Annotated[IdentityUnitOfWork,
NewUnitOfWork]`: a fresh unit of work per message, from the deps' own factory.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from cloudaudit.common.settings import CommonSettings, load_settings
from faststream import Context, Depends
from faststream.nats import NatsBroker

S = TypeVar("S", bound=CommonSettings)
DEPS_KEY = "cloudaudit_deps"  # the broker-context name; each service runs its own broker


class MakesUnitsOfWork(Protocol):
    def uow(self) -> Any: ...


def provide(broker: NatsBroker, deps: object) -> None:
    """Make `deps` what every subscriber of `broker` receives as `ServiceDeps`."""
    broker.context.set_global(DEPS_KEY, deps)


def _new_unit_of_work(deps: Any = Context(DEPS_KEY)) -> Any:
    return deps.uow()


ServiceDeps: Any = Context(DEPS_KEY)
"""The service's deps object, as given to `provide`."""

NewUnitOfWork: Any = Depends(_new_unit_of_work)
"""A fresh unit of work for this message, made by the service deps' `uow()` factory."""


def service_settings(common: CommonSettings, cls: type[S]) -> S:
    """A service's own settings, read once at start. In-process (tests, `cloudaudit up`) the
    runtime's common settings (URLs, bus prefix, state dir, keys) win over the environment, so
    the service and its runtime never disagree about where things are."""
    if isinstance(common, cls):
        return common
    return load_settings(cls, **{name: getattr(common, name) for name in type(common).model_fields})
