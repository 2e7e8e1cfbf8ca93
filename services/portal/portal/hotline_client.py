"""A small client for the hotline API, on the standard library so the portal needs no
HTTP package beyond Flask."""

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT_SECONDS = 10


class HotlineError(RuntimeError):
    """The hotline refused the call or could not be reached; the message is for the citizen.
    http_status is what the portal answers: 400 when the citizen's input was refused."""

    def __init__(self, message: str, http_status: int = 502):
        super().__init__(message)
        self.http_status = http_status


class HotlineClient:
    def __init__(self, base_url: str, ca_file: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.tls = ssl.create_default_context(cafile=ca_file)

    def _call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(
                request, timeout=TIMEOUT_SECONDS, context=self.tls
            ) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise HotlineError(
                _open311_description(error), 400 if error.code == 400 else 502
            ) from error
        except (urllib.error.URLError, OSError) as error:
            raise HotlineError("12345 热线服务暂时无法连接，请稍后再试") from error

    def services(self) -> list[dict]:
        return self._call("GET", "/open311/v2/services.json")

    def create_request(self, fields: dict) -> str:
        created = self._call("POST", "/open311/v2/requests.json", {**fields, "source": "portal"})
        return created[0]["service_request_id"]

    def find_request(self, ticket: str) -> dict | None:
        found = self._call(
            "GET", f"/open311/v2/requests/{urllib.parse.quote(ticket, safe='')}.json"
        )
        return found[0] if found else None

    def evaluate(self, rating: int, comment: str, ticket: str | None) -> None:
        self._call(
            "POST",
            "/open311/v2/evaluations.json",
            {"rating": rating, "comment": comment, "service_request_id": ticket},
        )


def _open311_description(error: urllib.error.HTTPError) -> str:
    try:
        return json.load(error)[0]["description"]
    except (ValueError, KeyError, IndexError, TypeError):
        return f"12345 热线服务返回错误 {error.code}"
