"""A small OpenAI-compatible chat server on 127.0.0.1 that answers like a reasoning model.

Each prompt is answered by the recorded reply whose marker it contains: a reply is a dict with
``content``, optional ``reasoning_content`` (or ``reasoning``) and ``finish_reason``; a list of
replies gives sample j the j-th (cycled). A prompt without a marker gets 400. With
``srv.completion_tokens_only`` set, a request carrying ``max_tokens`` gets the 400 an OpenAI
reasoning model gives. ``srv.bodies`` records every request body.
"""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer

from curate.synth.serve import CompletionHandler


class ReasoningHandler(CompletionHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        srv = self.server
        with srv.lock:
            srv.bodies.append(body)
        if srv.completion_tokens_only and "max_tokens" in body:
            self._send(400, {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this "
                                                  "model. Use 'max_completion_tokens' instead.", "param": "max_tokens"}})
            return
        prompt = body["messages"][-1]["content"]
        hits = [r for marker, r in srv.replies.items() if marker in prompt]
        if self.path != "/v1/chat/completions" or len(hits) != 1:
            self._send(400, {"error": {"message": "no recorded reply for this prompt"}})
            return
        replies = hits[0] if isinstance(hits[0], list) else [hits[0]]
        n = int(body.get("n") or 1)
        choices = []
        for i in range(n):
            r = replies[i % len(replies)]
            msg = {"role": "assistant", "content": r.get("content")}
            for key in ("reasoning_content", "reasoning"):
                if key in r:
                    msg[key] = r[key]
            choices.append({"index": i, "finish_reason": r.get("finish_reason", "stop"), "message": msg})
        self._send(200, {"id": "r", "object": "chat.completion", "model": body.get("model"), "choices": choices})


def serve(replies: dict, completion_tokens_only: bool = False) -> ThreadingHTTPServer:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), ReasoningHandler)
    srv.daemon_threads = True
    srv.replies, srv.bodies, srv.lock = replies, [], threading.Lock()
    srv.completion_tokens_only = completion_tokens_only
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def url(srv: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/v1"


def stop(srv: ThreadingHTTPServer) -> None:
    srv.shutdown()
    srv.server_close()
