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
    # A survey form opened from a poster is still accepted this many hours after it was opened,
    # even if the poster was retired or its link re-issued meanwhile; later, the answers are
    # offered to the commune's current survey instead (README, "Citizen pages").
    POSTER_GRACE_HOURS = 24
    WTF_CSRF_SSL_STRICT = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    TESTING = False
    # Staff sessions end after this much inactivity (seconds); every request renews them.
    PERMANENT_SESSION_LIFETIME = 8 * 3600
    # ...and this long after the log-in (seconds), however active.
    SESSION_ABSOLUTE_LIFETIME = 12 * 3600
    # Failed log-ins allowed per client address (successes do not count).
    LOGIN_LIMIT = "10 per minute"
    # Per account: after this many failures in a row each attempt waits LOGIN_DELAY_SECONDS,
    # doubling per further failure up to LOGIN_DELAY_MAX_SECONDS; a browser that has logged
    # into the account before waits not at all (docs/quality.md).
    LOGIN_FREE_FAILURES = 5
    LOGIN_DELAY_SECONDS = 1
    LOGIN_DELAY_MAX_SECONDS = 60
    LOGIN_KNOWN_BROWSER_DAYS = 90
    # Where Flask-Limiter counts (memory:// per process; redis://… shared between workers).
    RATELIMIT_STORAGE_URI = "memory://"
    # Response quality (docs/quality.md): flagged responses are kept but left out of scores.
    QUALITY_SECONDS_PER_ANSWER = 1.5
    QUALITY_STRAIGHT_MIN_ANSWERS = 5
    QUALITY_BURST_MINUTES = 10
    QUALITY_BURST_DEVICE = 3
    QUALITY_BURST_NETWORK = 20
    # Client clocks (docs/quality.md, "Times and clocks"): a client's time may run this far
    # ahead of the server's, and a response may wait unsent on a device (a kiosk or paper-entry
    # tool offline, a phone's kept copy) this long; beyond either the receive time is stored
    # instead and the response is flagged "clock".
    CLOCK_SKEW_MINUTES = 5
    OFFLINE_KEEP_DAYS = 7
    # A paper form's interview date may lie at most this many Viet Nam days before the day it
    # is typed in (and never after it); an older date is refused on the entry screen, so a
    # period stays open to paper forms this long (docs/quality.md, "Times and clocks").
    PAPER_MAX_AGE_DAYS = 90
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
    # Background jobs (exports): "embedded" runs them in a small thread pool inside the web
    # process (no extra server, for `make run`); "rq" queues them in Redis at REDIS_URL for
    # `flask --app wsgi worker` processes (production).
    JOB_QUEUE = "embedded"
    JOB_THREADS = 2
    REDIS_URL = "redis://127.0.0.1:6379/0"
    JOB_RQ_QUEUE = "jobs"
    # A job queued or running longer than this is taken as lost (its worker died) and failed;
    # also RQ's time limit per job.
    JOB_TIMEOUT_MINUTES = 60
    # With no cached scores at all, a page computes them in its request only for a scope of fewer
    # responses than this (counted in SQL); a bigger one is computed by a background job while
    # the page says so and refreshes itself (feedback/jobs/scores.py).
    SCORES_INLINE_MAX_RESPONSES = 50_000
    # A finished export file is kept this many hours, then removed (`flask purge-jobs`).
    EXPORT_KEEP_HOURS = 24
    # E-mail (the weekly digests, `flask send-digests`): off while MAIL_SERVER is unset. Over
    # SMTP to MAIL_SERVER:MAIL_PORT, STARTTLS when MAIL_USE_TLS, logged in when MAIL_USERNAME.
    MAIL_SERVER = None
    MAIL_PORT = 25
    MAIL_USERNAME = None
    MAIL_PASSWORD = None
    MAIL_USE_TLS = False
    MAIL_DEFAULT_SENDER = None
