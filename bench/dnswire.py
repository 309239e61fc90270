"""Just enough DNS wire format for the benchmark: send one query, read rcode and A answers."""

import socket
import struct
import time


def _skip_name(msg, pos):
    while True:
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + length
        if length == 0:
            return pos


def parse_reply(msg):
    """(rcode, [A addresses in the answer section]) of a reply message."""
    if len(msg) < 12:
        raise ValueError("short reply")
    _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    pos = 12
    for _ in range(qd):
        pos = _skip_name(msg, pos) + 4
    answers = []
    for _ in range(an):
        pos = _skip_name(msg, pos)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[pos : pos + 10])
        pos += 10
        if rtype == 1 and rdlen == 4:
            answers.append(socket.inet_ntoa(msg[pos : pos + 4]))
        pos += rdlen
    return flags & 0x000F, answers


def ask(port, wire, timeout=0.5, tcp=False):
    """Sends one query message (without length prefix) to 127.0.0.1:port; returns the reply."""
    qid = wire[:2]
    if tcp:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(struct.pack("!H", len(wire)) + wire)
            head = _recv_exact(sock, 2)
            return _recv_exact(sock, struct.unpack("!H", head)[0])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(wire, ("127.0.0.1", port))
        while True:
            reply, _ = sock.recvfrom(65535)
            if reply[:2] == qid:
                return reply


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


def read_messages(path, limit=None):
    """Messages of a length-prefixed (dnsperf -B) file, at most `limit` of them."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 2 <= len(data) and (limit is None or len(out) < limit):
        (length,) = struct.unpack("!H", data[pos : pos + 2])
        out.append(data[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return out


def with_id(wire, qid):
    return struct.pack("!H", qid & 0xFFFF) + wire[2:]


def wait_answering(port, wire, deadline_s, proc=None):
    """Polls until the server answers `wire` over UDP; returns the seconds waited, or None."""
    start = time.monotonic()
    qid = 1
    while time.monotonic() - start < deadline_s:
        if proc is not None and proc.poll() is not None:
            return None
        qid += 1
        try:
            ask(port, with_id(wire, qid), timeout=0.02)
            return time.monotonic() - start
        except (OSError, ValueError):
            time.sleep(0.005)
    return None
