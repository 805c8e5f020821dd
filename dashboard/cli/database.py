"""The central's database as the command line tools open it: only if it exists.

A tool pointed at the wrong place (no `--config`, a typo in a path) must say so, not
quietly start an empty database and a key directory beside it; only `yizhan central`
and the demo create a database.
"""

from __future__ import annotations

from dashboard.core.config import CentralSettings
from dashboard.storage.db import Database
from dashboard.storage.migrations import DatabaseMissingError, open_existing_database
from servicekit.settings import ConfigError


def open_central_database(settings: CentralSettings) -> Database:
    """The central's database, upgraded; `ConfigError` naming the path and the key that
    set it when there is none."""
    try:
        return open_existing_database(settings.database.resolved_url)
    except DatabaseMissingError:
        raise ConfigError(missing_message(settings)) from None


def missing_message(settings: CentralSettings) -> str:
    """What to tell someone whose configuration names a database that is not there."""
    database = settings.database
    if database.url is not None:
        where = f"{database.url} (database.url, or YIZHAN_DATABASE__URL) has no yizhan tables"
    else:
        where = (
            f"no database at {database.path.resolve()} (database.path, or YIZHAN_DATABASE__PATH)"
        )
    return (
        f"{where}; nothing was created. Pass the central's file with --config, or run "
        "`yizhan central --config FILE` once to create the database."
    )
