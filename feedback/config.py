"""Default settings; every one can be overridden by the environment (see README)."""

DEV_SECRET_KEY = "dev-not-secret"


class Config:
    """Development defaults. ``create_app`` layers instance config and environment on top."""

    SECRET_KEY = DEV_SECRET_KEY
    # None means: a SQLite file in the instance folder (filled in by create_app).
    SQLALCHEMY_DATABASE_URI = None
    # Extra create_engine() options. (Closed PostgreSQL connections are dropped from the pool
    # without a ping round trip: see feedback/__init__.py.)
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
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
    # Staff sessions end after this much inactivity (seconds); every request renews them.
    PERMANENT_SESSION_LIFETIME = 8 * 3600
    # Login attempts allowed per client address, and per e-mail address, against guessing.
    LOGIN_LIMIT = "10 per minute"
    LOGIN_LIMIT_PER_ACCOUNT = "30 per hour"
    # Where Flask-Limiter counts (memory:// per process; redis://… shared between workers).
    RATELIMIT_STORAGE_URI = "memory://"
    # Response quality (docs/quality.md): flagged responses are kept but left out of scores.
    QUALITY_SECONDS_PER_ANSWER = 1.5
    QUALITY_STRAIGHT_MIN_ANSWERS = 5
    QUALITY_BURST_MINUTES = 10
    QUALITY_BURST_DEVICE = 3
    QUALITY_BURST_NETWORK = 20
    # Submission limits (docs/quality.md). Keyed by address *and* poster, so a crowded office
    # Wi-Fi or a carrier NAT address is never locked out of every poster at once.
    RATELIMIT_ENABLED = True
    SUBMIT_LIMIT = "30 per minute;300 per hour"
    API_SUBMIT_LIMIT = "120 per minute"
    # SQLite: each worker checkpoints the WAL after this many of its submissions, once the
    # answer has been sent (see feedback/responses.py).
    SQLITE_CHECKPOINT_EVERY = 100
    # Number of reverse proxies in front of the app whose X-Forwarded-For can be trusted.
    PROXY_COUNT = 0
