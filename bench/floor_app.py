"""The bare-Flask floor for bench/run.py: what gunicorn and Flask cost before any gate work.

It reads the JSON body and answers a small JSON document, under the same gunicorn worker model as
the webhook, so the ratio webhook/floor is the price of the gate itself.
"""

from __future__ import annotations

from flask import Flask, jsonify, request

app = Flask("ecs_admission_floor")


@app.post("/v1/admit")
def admit():
    body = request.get_json(force=True, silent=True)
    return jsonify({"allowed": True, "keys": len(body) if isinstance(body, dict) else 0})


@app.get("/readyz")
def ready():
    return jsonify({"status": "ready"})
