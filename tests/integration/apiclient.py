"""apiclient.py — a minimal HTTP/1.1 client for vessel's control API on a Unix socket (the
integration tests' side; people use `vessel api` or curl --unix-socket)."""

import json
import os
import socket
import time


def wait_socket(path, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def raw(path, data, timeout=30, read=True):
    """Send raw bytes; return everything the server sends until it closes (or timeout)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(data)
    out = b""
    if read:
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
    s.close()
    return out


def call(path, method, target, body=None, timeout=60):
    """One request with Connection: close. Returns (status, parsed JSON body or None)."""
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    body = body or b""
    req = (f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n"
           f"Connection: close\r\n\r\n").encode() + body
    out = raw(path, req, timeout)
    head, _, payload = out.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ")[1])
    except (IndexError, ValueError):
        return None, out
    try:
        return status, json.loads(payload) if payload else None
    except ValueError:
        return status, payload
