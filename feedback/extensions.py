"""Unbound Flask extensions, bound to the app in ``create_app``."""

import click
from flask import Flask
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints stably."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Migrations:
    """Flask-Migrate, loaded only when something uses it: the ``db`` commands, or a test or
    benchmark calling ``flask_migrate.upgrade``. Alembic costs a web worker's start ~0.15 s
    (issue 13) and no web request needs it."""

    def init_app(self, app: Flask, db: SQLAlchemy, directory: str) -> None:
        app.extensions["migrate"] = _LazyMigrateConfig(app, db, directory)
        app.cli.add_command(_MigrationCommands(name="db", help="Perform database migrations."))


class _LazyMigrateConfig:
    """Stands in ``app.extensions["migrate"]`` until an attribute is read, then binds Flask-Migrate
    (which puts its own config there) and answers from it."""

    def __init__(self, app: Flask, db: SQLAlchemy, directory: str):
        self._app, self._db, self._directory = app, db, directory
        self._config = None

    def __getattr__(self, name: str):
        if self._config is None:
            from flask_migrate import Migrate

            Migrate(self._app, self._db, directory=self._directory)
            self._config = self._app.extensions["migrate"]
        return getattr(self._config, name)


class _MigrationCommands(click.Group):
    """Flask-Migrate's ``db`` command group, imported when the command line reaches it."""

    @staticmethod
    def _group() -> click.Group:
        from flask_migrate.cli import db as group

        return group

    def make_context(self, info_name, args, parent=None, **extra):
        group = self._group()
        self.params, self.callback = group.params, group.callback  # -d/--directory, -x
        return super().make_context(info_name, args, parent, **extra)

    def list_commands(self, ctx):
        return self._group().list_commands(ctx)

    def get_command(self, ctx, name):
        return self._group().get_command(ctx, name)


db = SQLAlchemy(model_class=Base)
migrate = Migrations()
csrf = CSRFProtect()
babel = Babel()
login = LoginManager()
# Limits are opt-in per route (POST /login); storage comes from RATELIMIT_STORAGE_URI.
limiter = Limiter(key_func=get_remote_address)
