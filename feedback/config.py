"""Default settings; every one can be overridden by the environment (see README)."""

DEV_SECRET_KEY = "dev-not-secret"


class Config:
    """Development defaults. ``create_app`` layers instance config and environment on top."""

    SECRET_KEY = DEV_SECRET_KEY
    # None means: a SQLite file in the instance folder (filled in by create_app).
    SQLALCHEMY_DATABASE_URI = None
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # The public address that citizens' phones reach; used in every QR code and survey link.
    BASE_URL = "http://127.0.0.1:5000"
    DEFAULT_PROVINCE = "15"
    BABEL_DEFAULT_LOCALE = "vi"
    LANGUAGES = ("vi", "en")
    # A survey page with answers is small; anything larger is not a survey response.
    MAX_CONTENT_LENGTH = 64 * 1024
    # Citizens may keep a survey open a long time on a slow phone; an expired token is
    # reported next to the answers (which are kept), never as a lost submission.
    WTF_CSRF_TIME_LIMIT = 24 * 3600
    WTF_CSRF_SSL_STRICT = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    TESTING = False
