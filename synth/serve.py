"""A small OpenAI-compatible server over a local transformers model (for tests and laptops).

    python -m curate.synth.serve MODEL_DIR --port 8000
    curate synth problems.jsonl --output out --backend http --url http://127.0.0.1:8000/v1

Serves ``POST /v1/completions`` (prompt as a string or a list of strings; choice ``index`` =
prompt_no * n + sample_no, as in the OpenAI API), ``POST /v1/chat/completions`` and
``GET /v1/models``. One generate call runs at a time; it listens on loopback by default.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from curate.synth.local_backend import LocalBackend


class CompletionHandler(BaseHTTPRequestHandler):
    """Request handler; ``self.server.backend`` is a LocalBackend (no cache)."""

    server_version = "curate-synth/1"

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet by default
        if getattr(self.server, "verbose", False):
            super().log_message(fmt, *args)

    def _send(self, code: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": self.server.model_id, "object": "model"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def read_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_POST(self) -> None:
        route = self.path.rstrip("/")
        if route not in ("/v1/completions", "/v1/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            body = self.read_body()
        except ValueError as e:
            self._send(400, {"error": {"message": f"bad JSON: {e}"}})
            return
        self.server.log.append({"route": route, "body": body})
        try:
            self._send(200, self.complete(route, body))
        except (KeyError, TypeError, ValueError) as e:
            self._send(400, {"error": {"message": str(e)}})
        except Exception as e:  # noqa: BLE001 - the client gets a 500 it can retry, the server lives on
            self._send(500, {"error": {"message": f"{type(e).__name__}: {e}"}})

    def complete(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        backend: LocalBackend = self.server.backend
        backend.load()
        n = int(body.get("n") or 1)
        sampling = {"max_new_tokens": int(body.get("max_tokens") or 16), "temperature": float(body.get("temperature", 1.0) or 0.0),
                    "top_p": float(body.get("top_p") or 1.0), "seed": body.get("seed")}
        if route.endswith("chat/completions"):
            msgs = body["messages"]
            tok = backend.tokenizer
            if getattr(tok, "chat_template", None):
                prompt = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            else:
                prompt = "\n".join(str(m["content"]) for m in msgs)
            prompts = [prompt]
        else:
            prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
        outs = backend.generate(prompts, n=n, **sampling)
        choices = []
        for p, texts in enumerate(outs):
            for j, t in enumerate(texts):
                c = {"index": p * n + j, "finish_reason": t.finish_reason}
                c.update({"message": {"role": "assistant", "content": t.text}} if route.endswith("chat/completions")
                         else {"text": t.text})
                choices.append(c)
        obj = "chat.completion" if route.endswith("chat/completions") else "text_completion"
        return {"id": f"cmpl-{uuid.uuid4().hex[:12]}", "object": obj, "created": int(time.time()),
                "model": self.server.model_id, "choices": choices}


def make_server(model_dir: str, host: str = "127.0.0.1", port: int = 0, handler=CompletionHandler,
                batch_size: int = 8) -> ThreadingHTTPServer:
    """A ready (not yet serving) server; ``server.log`` records every completion request."""
    srv = ThreadingHTTPServer((host, port), handler)
    srv.daemon_threads = True
    srv.backend = LocalBackend(model_dir, batch_size=batch_size, chat_template=False)  # chat route applies it itself
    srv.model_id = srv.backend.model_name
    srv.log = []
    return srv


def serve_in_thread(srv: ThreadingHTTPServer) -> threading.Thread:
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    return t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--batch-size", type=int, default=8)
    a = ap.parse_args(argv)
    srv = make_server(a.model_dir, a.host, a.port, batch_size=a.batch_size)
    srv.verbose = True
    print(f"serving {a.model_dir} on http://{a.host}:{srv.server_address[1]}/v1")
    srv.serve_forever()


if __name__ == "__main__":
    main()
