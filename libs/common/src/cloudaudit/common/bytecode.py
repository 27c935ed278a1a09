"""Byte-compile what the `cloudaudit` command needs to start (`make install` runs it).

Where `PYTHONDONTWRITEBYTECODE` is set (CI, many container images, this project's development
machine) Python never caches bytecode, and every `cloudaudit --help` compiled ~1,000 modules from
source: half a second before the first line. Compiling the whole environment
(`uv sync --compile-bytecode`) would add ~300 MB to an install that must stay under 1 GB, so only
the modules a start-up imports are compiled (a few MB), plus our own packages.
"""

from __future__ import annotations

import compileall
import sys
from pathlib import Path


def start_up_modules() -> list[Path]:
    """Source files of every module loaded by `cloudaudit --help` and `status`'s settings."""
    import typer._adapters  # noqa: F401 - typer builds parameters with pydantic
    from cloudaudit.common import cli
    from cloudaudit.common.settings import CommonSettings, load_settings

    cli._register_service_commands()
    load_settings(CommonSettings)
    sources = [getattr(module, "__file__", None) for module in list(sys.modules.values())]
    return sorted(Path(source) for source in sources if source and source.endswith(".py"))


def main() -> int:
    files = start_up_modules()
    ok = all(compileall.compile_file(path, quiet=1) for path in files)
    for root in sys.argv[1:]:  # our source trees (editable installs are not in site-packages)
        ok = compileall.compile_dir(root, quiet=1) and ok
    print(f"byte-compiled {len(files)} start-up modules" + (" and " + ", ".join(sys.argv[1:])))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
