"""A local HTTP server that follows KFP's v2beta1 REST API, for the endpoints `kubeflow.schedule` uses.

It keeps experiments, pipelines, versions, recurring runs and runs in memory,
answers in the API's JSON shapes (int64 as strings, `recurringRuns` in the
recurring-run list, as the server's protos name it), applies display-name
filters, rejects what the real server rejects (a package that is not a
PipelineSpec, a 5-field cron, references to unknown objects), and records every
request so that tests can assert the exact calls.
"""
from __future__ import annotations

import dataclasses
import email.parser
import http.server
import itertools
import json
import re
import threading
import urllib.parse

import yaml

from tests.json_http import JsonHandler

API = "/apis/v2beta1"
NOW = "2026-11-27T02:00:00Z"


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict
    body: dict | None = None

    @property
    def call(self) -> str:
        return f"{self.method} {self.path}"


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class KfpServerDouble:
    def __init__(self):
        self.requests: list[Request] = []
        self.experiments: dict[str, dict] = {}
        self.pipelines: dict[str, dict] = {}
        self.versions: dict[str, dict] = {}          # version id -> version
        self.uploaded_specs: dict[str, list] = {}    # version id -> YAML documents
        self.recurring_runs: dict[str, dict] = {}
        self.runs: dict[str, dict] = {}
        self._ids = itertools.count(1)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()

    def calls(self) -> list[str]:
        return [request.call for request in self.requests]

    def _new_id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids)}"

    # --- endpoints -----------------------------------------------------------------

    def handle(self, request: Request, raw_body: bytes, content_type: str):
        routes = [
            ("GET", r"/healthz", lambda: {"multi_user": False}),
            ("GET", r"/experiments", lambda: {"experiments": self._listed(
                self.experiments.values(), request)}),
            ("POST", r"/experiments", lambda: self._create_experiment(request.body)),
            ("GET", r"/pipelines", lambda: {"pipelines": self._listed(
                self.pipelines.values(), request)}),
            ("POST", r"/pipelines/upload", lambda: self._upload(
                request, raw_body, content_type)),
            ("POST", r"/pipelines/upload_version", lambda: self._upload_version(
                request, raw_body, content_type)),
            ("GET", r"/pipelines/(?P<pipeline_id>[^/]+)/versions", lambda pipeline_id: {
                "pipeline_versions": self._listed(
                    [v for v in self.versions.values() if v["pipeline_id"] == pipeline_id],
                    request)}),
            ("GET", r"/recurringruns", lambda: {"recurringRuns": self._listed(
                [run for run in self.recurring_runs.values()
                 if run["experiment_id"] == request.query.get("experiment_id", run["experiment_id"])],
                request)}),
            ("POST", r"/recurringruns", lambda: self._create_recurring_run(request.body)),
            ("DELETE", r"/recurringruns/(?P<run_id>[^/:]+)", lambda run_id: self._delete(
                self.recurring_runs, run_id)),
            ("POST", r"/runs", lambda: self._create_run(request.body)),
        ]
        for method, pattern, action in routes:
            match = re.fullmatch(API + pattern, request.path)
            if method == request.method and match:
                return action(**match.groupdict())
        raise ApiError(404, f"no route for {request.call}")

    def _listed(self, items, request: Request) -> list[dict]:
        """Applies the `filter` query parameter (EQUALS predicates on display_name)."""
        items = list(items)
        filter_json = request.query.get("filter")
        if filter_json:
            for predicate in json.loads(filter_json)["predicates"]:
                if predicate["operation"] not in ("EQUALS", 1) or predicate["key"] != "display_name":
                    raise ApiError(400, f"unsupported predicate {predicate}")
                items = [item for item in items
                         if item["display_name"] == predicate["stringValue"]]
        return items[:int(request.query.get("page_size", 20))]

    def _create_experiment(self, body: dict) -> dict:
        experiment = {"experiment_id": self._new_id("experiment"),
                      "display_name": body["display_name"], "created_at": NOW,
                      "storage_state": "AVAILABLE"}
        self.experiments[experiment["experiment_id"]] = experiment
        return experiment

    def _uploaded_documents(self, raw_body: bytes, content_type: str) -> list:
        message = email.parser.BytesParser().parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw_body)
        (part,) = [part for part in message.get_payload()
                   if part.get_param("name", header="content-disposition") == "uploadfile"]
        documents = list(yaml.safe_load_all(part.get_payload(decode=True)))
        from google.protobuf import json_format
        from kfp.pipeline_spec import pipeline_spec_pb2
        try:
            json_format.ParseDict(documents[0], pipeline_spec_pb2.PipelineSpec())
            for platform_document in documents[1:]:
                json_format.ParseDict(platform_document, pipeline_spec_pb2.PlatformSpec())
        except json_format.ParseError as error:
            raise ApiError(400, f"invalid pipeline spec: {error}") from error
        return documents

    def _add_version(self, pipeline_id: str, name: str, documents: list) -> dict:
        version = {"pipeline_id": pipeline_id, "pipeline_version_id": self._new_id("version"),
                   "display_name": name, "created_at": NOW}
        self.versions[version["pipeline_version_id"]] = version
        self.uploaded_specs[version["pipeline_version_id"]] = documents
        return version

    def _upload(self, request: Request, raw_body: bytes, content_type: str) -> dict:
        name = request.query["name"]
        if any(p["display_name"] == name for p in self.pipelines.values()):
            raise ApiError(409, f"a pipeline named {name} already exists")
        documents = self._uploaded_documents(raw_body, content_type)
        pipeline = {"pipeline_id": self._new_id("pipeline"), "display_name": name,
                    "created_at": NOW}
        self.pipelines[pipeline["pipeline_id"]] = pipeline
        self._add_version(pipeline["pipeline_id"], name, documents)  # as the server does
        return pipeline

    def _upload_version(self, request: Request, raw_body: bytes, content_type: str) -> dict:
        pipeline_id = request.query["pipelineid"]
        if pipeline_id not in self.pipelines:
            raise ApiError(404, f"no pipeline {pipeline_id}")
        documents = self._uploaded_documents(raw_body, content_type)
        return self._add_version(pipeline_id, request.query["name"], documents)

    def _check_references(self, body: dict) -> None:
        if body.get("experiment_id") not in self.experiments:
            raise ApiError(404, f"no experiment {body.get('experiment_id')}")
        reference = body.get("pipeline_version_reference") or {}
        version = self.versions.get(reference.get("pipeline_version_id"))
        if version is None or version["pipeline_id"] != reference.get("pipeline_id"):
            raise ApiError(404, f"no pipeline version {reference}")

    def _create_recurring_run(self, body: dict) -> dict:
        self._check_references(body)
        trigger = body.get("trigger") or {}
        cron = (trigger.get("cron_schedule") or {}).get("cron")
        if cron is not None and len(cron.split()) != 6:
            raise ApiError(400, f"invalid cron {cron!r}: KFP's cron has 6 fields")
        run = {**body, "recurring_run_id": self._new_id("recurring-run"), "created_at": NOW,
               "updated_at": NOW, "status": "ENABLED" if body.get("mode") == "ENABLE" else "DISABLED",
               "max_concurrency": str(body.get("max_concurrency", 1))}
        if "periodic_schedule" in trigger:
            trigger["periodic_schedule"]["interval_second"] = str(
                trigger["periodic_schedule"]["interval_second"])
        self.recurring_runs[run["recurring_run_id"]] = run
        return run

    def _create_run(self, body: dict) -> dict:
        self._check_references(body)
        run = {**body, "run_id": self._new_id("run"), "state": "PENDING", "created_at": NOW}
        self.runs[run["run_id"]] = run
        return run

    def _delete(self, collection: dict, object_id: str) -> dict:
        if collection.pop(object_id, None) is None:
            raise ApiError(404, f"no {object_id}")
        return {}

    # --- HTTP --------------------------------------------------------------------

    def _handler(self):
        double = self

        class Handler(JsonHandler):
            def _serve(self):
                url = urllib.parse.urlsplit(self.path)
                raw_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                content_type = self.headers.get("Content-Type", "")
                body = (json.loads(raw_body) if raw_body and "json" in content_type
                        else None)
                request = Request(self.command, url.path, dict(urllib.parse.parse_qsl(url.query)),
                                  body)
                double.requests.append(request)
                try:
                    status, answer = 200, double.handle(request, raw_body, content_type)
                except ApiError as error:
                    status, answer = error.status, {"error": str(error), "message": str(error)}
                self._reply(status, answer)

            do_GET = do_POST = do_DELETE = _serve

        return Handler
