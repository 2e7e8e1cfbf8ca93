"""The deployment entry points: gunicorn serving the app factory, configured by environment."""

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_serves_the_app_from_environment(hotline_settings):
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(PACKAGE_DIR),
        "HOTLINE_DATABASE_URL": hotline_settings.database_url,
        "HOTLINE_AMQP_URL": hotline_settings.amqp_url,
        "HOTLINE_REGION_CODE": hotline_settings.region_code,
        "HOTLINE_API_TOKEN": hotline_settings.api_token,
    }
    server = subprocess.Popen(
        [
            "/usr/bin/gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "hotline.app:create_app()",
        ],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/open311/v2/services.json"
                ) as response:
                    assert "路灯故障" in response.read().decode()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "gunicorn did not answer in 20 s"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_gunicorn_names_missing_settings():
    result = subprocess.run(
        ["/usr/bin/gunicorn", "--bind", f"127.0.0.1:{free_port()}", "hotline.app:create_app()"],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(PACKAGE_DIR)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0 and "HOTLINE_DATABASE_URL" in result.stderr
