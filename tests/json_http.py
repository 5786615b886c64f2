"""The HTTP plumbing the API doubles share: JSON answers, no access log."""
import http.server
import json


class JsonHandler(http.server.BaseHTTPRequestHandler):
    def _reply(self, status: int, answer: dict):
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass
