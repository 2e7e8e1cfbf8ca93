"""The portal app (Flask). Served by gunicorn: `gunicorn 'portal.app:create_app()'`."""

import hmac
import secrets

from flask import Flask, abort, render_template, request, session

from portal import settings
from portal.hotline_client import HotlineClient, HotlineError

STATUS_NAMES = {"open": "已受理", "in_progress": "办理中", "closed": "已办结"}


def create_app(config: settings.Settings | None = None) -> Flask:
    config = config or settings.from_environment()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_SECURE=config.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    hotline = HotlineClient(config.hotline_url, config.hotline_ca_file)

    @app.context_processor
    def page_globals():
        return {
            "region_name": config.region_name,
            "sections": config.sections,
            "csrf_token": csrf_token,
            "status_names": STATUS_NAMES,
        }

    @app.before_request
    def check_csrf():
        if request.method == "POST":
            expected = session.get("csrf_token", "")
            sent = request.form.get("csrf_token", "")
            if not expected or not hmac.compare_digest(sent, expected):
                abort(400, "表单已过期，请刷新页面后重新提交")

    @app.errorhandler(400)
    def bad_request(error):
        return render_template("base.html", error=error.description), 400

    @app.after_request
    def security_headers(response):
        # nginx sets these too; the app sets them so it is safe on its own as well.
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.get("/")
    def home():
        return render_template("home.html")

    @app.get("/sections/<section_id>")
    def section(section_id):
        found = next((s for s in config.sections if s["id"] == section_id), None)
        if found is None:
            abort(404)
        return render_template("section.html", section=found)

    @app.route("/submit", methods=["GET", "POST"])
    def submit():
        services = []
        try:
            services = hotline.services()
            if request.method == "GET":
                return render_template("submit.html", services=services, form={})
            fields = {
                name: request.form.get(name, "").strip()
                for name in ("service_code", "description", "address_string", "first_name", "phone")
            }
            ticket = hotline.create_request(fields)
        except HotlineError as error:
            return render_template(
                "submit.html", services=services, form=request.form, error=str(error)
            ), error.http_status
        return render_template("ticket.html", ticket=ticket)

    @app.get("/status")
    def status():
        ticket = request.args.get("ticket", "").strip()
        found, error = None, None
        if ticket:
            try:
                found = hotline.find_request(ticket)
            except HotlineError as failure:
                error = str(failure)
            if found is None and error is None:
                error = f"未找到工单 {ticket}"
        return render_template("status.html", ticket=ticket, found=found, error=error)

    @app.route("/evaluate", methods=["GET", "POST"])
    def evaluate():
        if request.method == "GET":
            return render_template("evaluate.html")
        try:
            rating = int(request.form.get("rating", ""))
            if not 1 <= rating <= 5:
                raise ValueError
        except ValueError:
            return render_template("evaluate.html", error="请选择 1 到 5 分的评价"), 400
        try:
            hotline.evaluate(
                rating,
                request.form.get("comment", "").strip(),
                request.form.get("ticket", "").strip() or None,
            )
        except HotlineError as error:
            return render_template("evaluate.html", error=str(error)), error.http_status
        return render_template("evaluate.html", thanks=True)

    return app


def csrf_token() -> str:
    # One token per session, kept in the signed session cookie: enough for plain forms.
    if "csrf_token" not in session:
        session["csrf_token"] = secrets.token_urlsafe(32)
    return session["csrf_token"]
