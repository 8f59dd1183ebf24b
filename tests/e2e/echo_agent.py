#!/usr/bin/env python3
"""A hostile agent on loopback that echoes every secret it is sent.

usage: echo_agent.py [--log FILE]

It prints "listening on http://127.0.0.1:PORT" once it accepts connections,
like `canary stub`, and serves until SIGTERM.  The secrets of a request are
the Bearer token and the Basic credentials of its Authorization header, its
X-Api-Key header and the words after the first of the last user message.
Each answer quotes all of them in every form, in an order that moves on by
one form per request (so that excerpts cut at different places show every
form first in turn).  The last part of the path, or else the first word of
the message, picks where:

  content   a 200 completion whose content holds them
  error     a 401 whose error message holds them
  html      a 502 HTML page whose title and body hold them
  header    a 200 completion with them in X-Agent-Fingerprint
  badjson   a 200 body that breaks off as invalid JSON before them
  ok        a 200 plain-text answer "ok"
  nul       a 200 plain-text answer "ok", a NUL byte, then "your SSN is
            123-45-6789"
  nuljson   a 200 completion whose content holds that raw NUL byte
  (path /judge) a judge verdict whose reason holds them
  (path /hook)  a webhook: the body is appended to the log, 200

Nothing but the webhook bodies is logged: the log is canary's output.
"""
import base64
import html
import itertools
import json
import re
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTER = itertools.count()
NUL_TEXT = "ok\0 your SSN is 123-45-6789"
LOCK = threading.Lock()


def forms(s):
    """s as servers echo it: raw, JSON, percent, form and character
    references, base64 and base64url (of s, "Bearer s" and a Basic
    credential), folded, and cut off."""
    out = [s, json.dumps(s)[1:-1], json.dumps(s, ensure_ascii=False)[1:-1],
           re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(),
                  json.dumps(s)[1:-1]).replace("/", "\\/"),
           urllib.parse.quote(s, safe=""), urllib.parse.quote_plus(s),
           re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), urllib.parse.quote(s)),
           html.escape(s), "".join("&#%d;" % ord(c) for c in s),
           re.sub(r"[\x00-\x20\x7f]+", " ", s), s[:len(s) * 2 // 3] + "..."]
    for wrap in ("%s", "Bearer %s", "canary:%s"):
        raw = (wrap % s).encode()
        out += [base64.b64encode(raw).decode(),
                base64.urlsafe_b64encode(raw).decode().rstrip("=")]
    return out


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # canary opens 16 connections at once


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, ctype="application/json", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            # Header bytes as sent: UTF-8 passed through latin-1.
            self.send_header(name, value.encode().decode("latin-1"))
        self.end_headers()
        self.wfile.write(data)

    def secrets(self, body):
        found = []
        for name, value in self.headers.items():
            value = value.encode("latin-1").decode("utf-8", "replace")
            if name.lower() == "authorization":
                found.append(value)
                kind, _, cred = value.partition(" ")
                if kind == "Bearer":
                    found.append(cred)
                elif kind == "Basic":
                    plain = base64.b64decode(cred).decode("utf-8", "replace")
                    found += [plain, plain.partition(":")[2]]
            elif name.lower() == "x-api-key":
                found.append(value)
        words = ""
        try:
            words = json.loads(body)["messages"][-1]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            pass
        mode, _, secret = words.partition(" ")
        if secret:
            found.append(secret)
        return mode, found

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.endswith("/hook"):
            with LOCK, open(LOG, "ab") as f:
                f.write(body + b"\n")
            self.answer(200, "{}")
            return
        mode, found = self.secrets(body)
        if self.path.rsplit("/", 1)[-1] in ("ok", "nul", "nuljson"):
            mode = self.path.rsplit("/", 1)[-1]
        every = [f for s in found for f in forms(s)]
        turn = next(COUNTER) % max(len(every), 1)
        text = " | ".join(every[turn:] + every[:turn])
        if self.path.endswith("/judge"):
            mode, verdict = "content", {"pass": False, "score": 0.1, "reason": text}
            text = json.dumps(verdict)
        completion = {"id": "echo", "object": "chat.completion", "model": "echo",
                      "choices": [{"index": 0, "finish_reason": "stop",
                                   "message": {"role": "assistant", "content": text}}]}
        if mode == "error":
            self.answer(401, json.dumps({"error": {"message": text, "code": "bad_key"}}))
        elif mode == "html":
            page = "<html><head><title>%s</title></head><body>%s</body></html>" % (text, text)
            self.answer(502, page, "text/html")
        elif mode == "header":
            completion["choices"][0]["message"]["content"] = "ok"
            self.answer(200, json.dumps(completion),
                        headers=[("X-Agent-Fingerprint", text)])
        elif mode == "badjson":
            self.answer(200, '{"choices": [' + text)
        elif mode in ("ok", "nul"):
            self.answer(200, NUL_TEXT if mode == "nul" else "ok", "text/plain")
        elif mode == "nuljson":
            completion["choices"][0]["message"]["content"] = "@"
            self.answer(200, json.dumps(completion).replace("@", NUL_TEXT))
        else:
            self.answer(200, json.dumps(completion))


def main():
    global LOG
    LOG = sys.argv[sys.argv.index("--log") + 1] if "--log" in sys.argv else "/dev/null"
    server = Server(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
