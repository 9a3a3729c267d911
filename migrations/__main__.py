"""``python -m migrations [status]``: bring the schema up to date."""

from __future__ import annotations

import logging
import sys

from app.config import load_settings
from app.db import init_database
from migrations import applied, available, upgrade


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    settings = load_settings()
    if settings.database_url.startswith("sqlite:///"):
        from pathlib import Path

        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    db = init_database(settings.database_url)

    if argv[:1] == ["status"]:
        done = applied(db)
        for path in available():
            print(("applied " if path.stem in done else "pending ") + path.stem)
        return 0

    names = upgrade(db)
    print(f"schema up to date ({len(names)} migration(s) applied)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
