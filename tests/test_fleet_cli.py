"""The top-level ``fleet`` command line as a newcomer meets it: --version, a clear error for a
bad --log-level, and the documented ``fleet db downgrade -1``."""

from __future__ import annotations

import sqlite3
from importlib.metadata import version

from click.testing import CliRunner

import fleet_cli


def test_version_comes_from_the_package_metadata():
    out = CliRunner().invoke(fleet_cli.main, ["--version"])
    assert out.exit_code == 0, out.output
    assert version("lastmile-fleet") in out.output and "fleet" in out.output


def test_bogus_log_level_is_a_usage_error_not_a_traceback():
    out = CliRunner().invoke(fleet_cli.main, ["--log-level", "bogus", "protocol-schema", "--help"])
    assert out.exit_code == 2
    assert "Invalid value for '--log-level'" in out.output and "'info'" in out.output
    assert out.exception is None or isinstance(out.exception, SystemExit)
    assert CliRunner().invoke(fleet_cli.main, ["--log-level", "debug", "protocol-schema", "--help"]).exit_code == 0


def _revision(db_file) -> str:
    with sqlite3.connect(db_file) as conn:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def test_db_downgrade_minus_one_as_documented(tmp_path):
    db_file = tmp_path / "fleet.db"
    url = f"sqlite+aiosqlite:///{db_file}"
    runner = CliRunner()
    assert runner.invoke(fleet_cli.main, ["db", "upgrade", "--database-url", url]).exit_code == 0
    head = _revision(db_file)
    out = runner.invoke(fleet_cli.main, ["db", "downgrade", "-1", "--database-url", url])
    assert out.exit_code == 0, out.output
    from alembic.script import ScriptDirectory

    from ground_control.db.migrate import alembic_config

    previous = ScriptDirectory.from_config(alembic_config(url)).get_revision(head).down_revision
    assert _revision(db_file) == previous
