"""``make prod-check``: the production configuration started locally and driven end to end.

    PROD_CHECK_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/feedback_prod_check \
    PROD_CHECK_REDIS_URL=redis://127.0.0.1:6379/15 .venv/bin/python -m deploy.prod_check

1. a fresh PostgreSQL database (dropped and created again; never the server itself), migrated
   and loaded with the real commands: ``db upgrade``, ``load-units``, ``seed-demo``,
   ``create-user`` (an analyst);
2. gunicorn with deploy/gunicorn.conf.py and a job worker (``flask worker``), with production
   settings: FLASK_ENV_NAME=production, a random secret key, BASE_URL, PROXY_COUNT=1, rate
   limits and the job queue in Redis;
3. through HTTP, as nginx would pass it on (X-Forwarded-For, X-Forwarded-Proto: https): a
   citizen's survey from a poster link, a staff log-in, a response export started on the page,
   polled until done and downloaded, and a score export;
4. stops what it started (gunicorn, the worker) and removes its Redis keys; the database is
   left for inspection and dropped by the next run.

Each step prints its result; the first failure prints the servers' logs and exits 1.
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import sys
import time
import uuid
from html import unescape

import redis
import requests
import sqlalchemy as sa

from deploy.processes import Service, app_env, flask, recreate_pg_database, start_web, start_worker, wait_until

__all__ = ["Site", "main", "production_env"]

JOB_DEADLINE_SECONDS = 300


class Site:
    """A browser behind nginx: one cookie jar, the proxy's headers, CSRF tokens read from forms.

    It stands where nginx would, talking plain HTTP to gunicorn for a browser on HTTPS, so it
    sends the Secure cookies (production's) over that connection too: requests would not.
    """

    def __init__(self, base: str, *, address: str = "203.0.113.10"):
        self.base = base
        self.http = requests.Session()
        self.http.headers.update({"X-Forwarded-For": address, "X-Forwarded-Proto": "https"})

    def _cookies(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)}

    def on(self, base: str) -> Site:
        """The same browser (its cookies) talking to another host."""
        other = Site(base)
        other.http.cookies = self.http.cookies
        other.http.headers.update(self.http.headers)
        return other

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.base + path, allow_redirects=False, timeout=60, headers=self._cookies(), **kwargs)

    def post(self, path: str, data: dict, **kwargs) -> requests.Response:
        return self.http.post(
            self.base + path, data=data, allow_redirects=False, timeout=60, headers=self._cookies(), **kwargs
        )

    @staticmethod
    def hidden_fields(html: str) -> dict[str, str]:
        return {
            k: unescape(v) for k, v in re.findall(r'<input id="\w+" name="(\w+)" type="hidden" value="([^"]*)"', html)
        }

    def login(self, email: str, password: str) -> requests.Response:
        page = self.get("/login")
        token = self.hidden_fields(page.text)["csrf_token"]
        return self.post("/login", {"csrf_token": token, "email": email, "password": password})

    def start_export(self, **fields: str) -> requests.Response:
        page = self.get("/analyst/exports")
        if page.status_code != 200:
            raise AssertionError(f"GET /analyst/exports: {page.status_code}")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        return self.post("/analyst/exports", {"csrf_token": token, **fields})

    def wait_for_job(self, job_url: str, *, timeout: float = JOB_DEADLINE_SECONDS, seen: list | None = None) -> dict:
        """Poll ``<job_url>.json`` until done or failed; every distinct state is appended to ``seen``."""
        seen = [] if seen is None else seen

        def finished():
            state = self.get(job_url + ".json").json()
            if not seen or seen[-1] != state:
                seen.append(state)
            return state if state["status"] in ("done", "failed") else None

        return wait_until(finished, timeout=timeout, what=f"export {job_url} finished", every=0.2)


def production_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The settings of deploy/feedback.env.example, for local processes."""
    run = uuid.uuid4().hex[:10]
    return app_env(
        database_url,
        FLASK_ENV_NAME="production",
        SECRET_KEY=secrets.token_hex(32),
        BASE_URL="https://phanhoi.example.test",
        FLASK_PROXY_COUNT="1",
        FLASK_RATELIMIT_STORAGE_URI=redis_url,
        FLASK_RATELIMIT_KEY_PREFIX=f"prodcheck-{run}",
        FLASK_JOB_QUEUE="rq",
        REDIS_URL=redis_url,
        FLASK_JOB_RQ_QUEUE=f"prodcheck-{run}",
        **extra,
    )


def remove_redis_keys(env: dict[str, str]) -> int:
    """Delete this run's keys (its limit prefix and queue) and nothing else."""
    client = redis.Redis.from_url(env["REDIS_URL"])
    try:
        keys = [
            k
            for prefix in (env["FLASK_RATELIMIT_KEY_PREFIX"], env["FLASK_JOB_RQ_QUEUE"])
            for k in client.scan_iter(f"*{prefix}*")
        ]
        client.srem("rq:queues", f"rq:queue:{env['FLASK_JOB_RQ_QUEUE']}")  # RQ's list of queues
        # (Finished jobs' rq:job:<id> keys expire by themselves within the hour.)
        return client.delete(*keys) if keys else 0
    finally:
        client.close()


class Steps:
    """Numbered, printed steps; the first failure raises with the step named."""

    def __init__(self, *, secrets: tuple[str, ...] = ()):
        self.n = 0
        self.secrets = secrets

    def hide(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def __call__(self, title: str, action):
        self.n += 1
        started = time.monotonic()
        print(f"[{self.n}] {title} ...", flush=True)
        try:
            result = action()
        except Exception as exc:
            print(f"[{self.n}] FAILED: {title}: {self.hide(str(exc))}", flush=True)
            raise
        print(f"[{self.n}] ok ({time.monotonic() - started:.1f} s): {result}", flush=True)
        return result


def _last_line(done) -> str:
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return lines[-1] if lines else "done"


def _responses(database_url: str) -> int:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT count(*) FROM response").scalar()
    finally:
        engine.dispose()


def _survey_answers(slug: str, html: str) -> dict:
    """A valid answer set for the survey page shown (its rotating module, if any)."""
    from surveys import catalog
    from tests.helpers import module_in_page, valid_answers

    survey = catalog().current(slug)
    return valid_answers(survey, module=module_in_page(survey, html))


def run(database_url: str, redis_url: str, responses: int = 2000) -> None:
    """The whole check; raises on the first failure (after printing it)."""
    env = production_env(database_url, redis_url)
    email, password = "prod-check@laocai.gov.vn", secrets.token_urlsafe(18)
    step = Steps(secrets=(password, env["SECRET_KEY"]))
    services: list[Service] = []
    try:
        step(
            "fresh database " + sa.make_url(database_url).render_as_string(hide_password=True),
            lambda: recreate_pg_database(database_url) or "dropped and created",
        )
        for args in (
            ["db", "upgrade"],
            ["load-units"],
            ["seed-demo", "--responses", str(responses)],
            ["create-user", "--email", email, "--role", "analyst", "--password", password],
        ):
            step(
                "flask " + " ".join(a if a != password else "***" for a in args),
                lambda args=args: _last_line(flask(args, env)),
            )

        web, base = step("gunicorn -c deploy/gunicorn.conf.py (production settings)", lambda: start_web(env))
        services.append(web)
        services.append(step("job worker: flask --app wsgi worker", lambda: start_worker(env)))
        site = Site(base)
        step("GET /healthz", lambda: site.get("/healthz").json())

        def citizen():
            before = _responses(database_url)
            # commune, point id, service area, survey, link: as printed for the posters.
            *_, slug, link = flask(["survey-links"], env).stdout.splitlines()[0].split("\t")
            path = "/s/" + link.rsplit("/s/", 1)[1]
            page = site.get(path)
            assert page.status_code == 200, f"GET {path}: {page.status_code}"
            fields = site.hidden_fields(page.text)
            sent = site.post(path, {**fields, **_survey_answers(slug, page.text), "send": "1"})
            assert sent.status_code == 303 and "/thanks/" in sent.headers["Location"], (
                f"POST {path}: {sent.status_code} {sent.headers.get('Location')}"
            )
            thanks = site.get(sent.headers["Location"])
            assert thanks.status_code == 200, f"thank-you page: {thanks.status_code}"
            after = _responses(database_url)
            assert after == before + 1, f"responses stored: {before} -> {after}"
            return f"poster link {link} -> 303 thank-you page; responses {before} -> {after}"

        step("citizen survey from a poster link", citizen)

        def login():
            r = site.login(email, password)
            assert r.status_code == 302, f"POST /login: {r.status_code}"
            cookie = next(c for c in site.http.cookies if c.name == "session")
            assert cookie.secure, "the session cookie is not Secure in production"
            page = site.get("/analyst/exports")
            assert page.status_code == 200, f"GET /analyst/exports: {page.status_code}"
            return f"302 to {r.headers['Location']}; Secure session cookie; /analyst/exports 200"

        step("staff log-in (analyst)", login)

        def export(kind: str, fmt: str):
            r = site.start_export(kind=kind, fmt=fmt)
            assert r.status_code == 303, f"POST /analyst/exports: {r.status_code} {r.text[:300]}"
            job_url = r.headers["Location"]
            page = site.get(job_url)
            assert page.status_code == 200, f"GET {job_url}: {page.status_code}"
            seen: list[dict] = []
            final = site.wait_for_job(job_url, seen=seen)
            assert final["status"] == "done", f"job ended {final}"
            download = site.get(final["download_url"])
            assert download.status_code == 200, f"download: {download.status_code}"
            rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
            assert len(rows) > 1, "the file has no data rows"
            progress = " -> ".join(f"{s['status']} {s['rows_done']}/{s['rows_total']}" for s in seen)
            return f"{job_url}: {progress}; {len(download.content)} bytes, {len(rows) - 1} rows"

        step("response export (CSV): start, poll, download", lambda: export("responses", "csv"))
        step("score export (CSV): start, poll, download", lambda: export("scores", "csv"))
        print("prod-check passed", flush=True)
    except Exception:
        for service in services:
            print(f"----- {service.name} log (last 4000 characters) -----\n{service.output()[-4000:]}", flush=True)
        raise
    finally:
        for service in reversed(services):
            service.stop()
        removed = remove_redis_keys(env)
        print(f"stopped {len(services)} processes; removed {removed} Redis keys of this run", flush=True)


def main() -> int:
    database_url = os.environ.get("PROD_CHECK_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/feedback_prod_check")
    redis_url = os.environ.get("PROD_CHECK_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        run(database_url, redis_url, responses=int(os.environ.get("PROD_CHECK_RESPONSES", 2000)))
    except Exception:  # noqa: BLE001 - printed above with its step; exit non-zero
        print("prod-check FAILED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
