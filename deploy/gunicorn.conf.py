"""gunicorn settings for production: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app`` (docs/deploy.md).

Every value can be changed by the environment (the systemd unit's EnvironmentFile) without
editing this file; command-line options (``-b``, ``-w``) override both.
"""

import os

_cores = os.cpu_count() or 1
_sqlite = os.environ.get("DATABASE_URL", "").startswith("sqlite") or not os.environ.get("DATABASE_URL")

# nginx in front, on the same host (docs/deploy.md); never listen on a public address: the app
# trusts X-Forwarded-For from exactly one proxy (PROXY_COUNT=1).
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Processes: 2 per core. Requests are short (exports run in the job worker, never in a web
# request) and spend part of their time waiting for PostgreSQL, so a little more than one
# process per core keeps the cores busy; more only costs memory (each worker holds the app).
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * _cores))

# Threads: on PostgreSQL 4 per process (gthread) overlap the waits for the database at the
# memory cost of one process. On SQLite one: submissions queue for SQLite's single writer on a
# per-process file lock (feedback/responses.py), which threads of one process would share.
threads = int(os.environ.get("GUNICORN_THREADS", 1 if _sqlite else 4))
worker_class = "gthread" if threads > 1 else "sync"

# Preload: the app is imported once in the master and every worker is forked from it. A worker
# that dies (SIGKILL, out of memory, max_requests) is replaced by a fork that serves at once,
# instead of a new process importing the app again (seconds: pandas, scipy); the forked workers
# share the imported code's memory pages. The cost: `kill -HUP` cannot load new code, so an
# upgrade is `systemctl restart feedback-web` (docs/deploy.md, "Upgrade"), and nothing may open
# a connection at import time (post_fork below drops any pooled one all the same).
preload_app = True

# A worker silent this long is killed and replaced. No page should take more than a few seconds;
# 60 s leaves room for a cold score cache at national scale, never for an export (a job).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
# On restart, requests in flight get this long to finish.
graceful_timeout = 30
# nginx keeps connections to gunicorn open between requests (upstream keepalive).
keepalive = 5
# Recycle each worker after about this many requests: bounds slow memory growth of
# long-lived pandas processes. Cheap with preload (a fork, no import).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 2000))
max_requests_jitter = max_requests // 10

# nginx sets X-Forwarded-Proto on the loopback; the app reads X-Forwarded-For itself (PROXY_COUNT).
forwarded_allow_ips = "127.0.0.1,::1"

# Logs: errors to stderr (journald); the access log to a file that logrotate rotates
# (deploy/logrotate/feedback sends USR1 to reopen it). "-" writes it to stdout instead.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "/var/log/feedback/access.log")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# Client address as nginx passed it; no query strings (poster tokens travel in paths, and
# nothing secret should sit in a log either way).
access_log_format = '%({x-forwarded-for}i)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
proc_name = "feedback-web"
# gunicorn's control socket (default ~/.gunicorn/gunicorn.ctl, one path for every instance of a
# user): not used; systemd sends the signals (deploy/systemd/feedback-web.service).
control_socket_disable = True


def post_fork(server, worker):
    """In each new worker: forget any database connection inherited from the master (a socket
    shared by two processes corrupts both); the pool opens the worker's own."""
    app = worker.app.wsgi()
    from feedback.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
