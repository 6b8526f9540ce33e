from tests.web.conftest import client, premigrated_sqlite, sqlite_template

__all__ = ["client", "premigrated_sqlite", "sqlite_template"]
