#!/usr/bin/env python3
"""Allow-listed forward HTTP proxy for a disposable test host's apt.

Listens on the host side of the test host's veth (e.g. 10.77.0.1:3142) and forwards only to the
hosts given with --allow: plain HTTP on port 80 (absolute-form requests, as apt sends them through
Acquire::http::Proxy) and CONNECT to port 443. Everything else gets 403. The guest has no route out;
this process is its only way to the Debian archive, and nothing else is reachable through it.

One request per client connection (the upstream is asked to close), which apt handles by reconnecting.
Exits by itself when the process given with --watch-pid is gone (the test host's systemd-nspawn).
"""
import argparse
import os
import socket
import socketserver
import sys
import threading
import time

HOP_BY_HOP = {
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
}
MAX_HEAD = 64 * 1024


def log(msg):
    sys.stderr.write("%s apt-proxy: %s\n" % (time.strftime("%H:%M:%S", time.gmtime()), msg))
    sys.stderr.flush()


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def splice(a, b):
    """Copies both directions until both sides are done."""
    t = threading.Thread(target=pipe, args=(b, a), daemon=True)
    t.start()
    pipe(a, b)
    t.join()


class Handler(socketserver.BaseRequestHandler):
    allow = frozenset()

    def read_head(self):
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.request.recv(65536)
            if not chunk:
                return None, b""
            buf += chunk
            if len(buf) > MAX_HEAD:
                return None, b""
        head, rest = buf.split(b"\r\n\r\n", 1)
        return head.decode("latin-1"), rest

    def refuse(self, status, why):
        body = (why + "\n").encode()
        self.request.sendall(
            b"HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (status.encode(), len(body), body)
        )

    def handle(self):
        self.request.settimeout(300)
        head, rest = self.read_head()
        if not head:
            return
        lines = head.split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            return self.refuse("400 Bad Request", "bad request line")
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            if host.lower() not in self.allow or port != "443":
                log("denied CONNECT %s" % target)
                return self.refuse("403 Forbidden", "not on the test host proxy's allow list: " + target)
            upstream = self.connect(host, 443)
            if upstream is None:
                return self.refuse("502 Bad Gateway", "cannot reach " + target)
            log("CONNECT %s" % target)
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            with upstream:
                splice(self.request, upstream)
            return
        if not target.startswith("http://"):
            return self.refuse("400 Bad Request", "only absolute http:// URLs and CONNECT are proxied")
        hostport, _, path = target[len("http://"):].partition("/")
        host, _, port = hostport.partition(":")
        if host.lower() not in self.allow or port not in ("", "80"):
            log("denied %s %s" % (method, target))
            return self.refuse("403 Forbidden", "not on the test host proxy's allow list: " + hostport)
        upstream = self.connect(host, 80)
        if upstream is None:
            return self.refuse("502 Bad Gateway", "cannot reach " + host)
        out = ["%s /%s %s" % (method, path, version)]
        for line in lines[1:]:
            name = line.split(":", 1)[0].strip().lower()
            if name in HOP_BY_HOP:
                continue
            out.append(line)
        out.append("Connection: close")
        log("%s %s" % (method, target))
        with upstream:
            upstream.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + rest)
            splice(self.request, upstream)

    @staticmethod
    def connect(host, port):
        try:
            s = socket.create_connection((host, port), timeout=30)
            s.settimeout(300)
            return s
        except OSError as e:
            log("cannot reach %s:%d: %s" % (host, port, e))
            return None


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", required=True, help="address:port on the host side of the veth")
    p.add_argument("--allow", required=True, help="comma-separated host names")
    p.add_argument("--watch-pid", type=int, help="exit when this process is gone")
    a = p.parse_args()
    addr, _, port = a.listen.rpartition(":")
    Handler.allow = frozenset(h.strip().lower() for h in a.allow.split(",") if h.strip())
    srv = Server((addr, int(port)), Handler)
    log("listening on %s, allowing %s" % (a.listen, ", ".join(sorted(Handler.allow))))
    if a.watch_pid:
        def running(pid):
            try:
                with open("/proc/%d/stat" % pid) as f:
                    return f.read().rsplit(") ", 1)[1][0] != "Z"
            except OSError:
                return False

        def watch():
            while running(a.watch_pid):
                time.sleep(1)
            log("watched process %d is gone; exiting" % a.watch_pid)
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
