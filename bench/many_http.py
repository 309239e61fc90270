#!/usr/bin/env python3
"""Many tiny HTTP backends in one process: a listener on each of COUNT ports of one loopback address.

Every request gets `200 OK` and the connection is closed, except on the "flapping" ports
(every FLAP_EVERY-th port), which answer `503` during alternate FLAP_PERIOD-second windows so
their targets go down and come back while the benchmark runs. One thread, one epoll; cheap
enough for a few thousand probes per second on one core.

    many_http.py --address 127.0.0.1 --first-port 20000 --count 10000 [--flap-every 10]
                 [--flap-period 20] [--seconds 600]

Prints `ready N` on stdout once every port listens; exits after --seconds or on SIGTERM.
"""

import argparse
import errno
import resource
import select
import signal
import socket
import sys
import time

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
DOWN = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndown"


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        sys.exit(f"many_http: need {need} open files, limit is {soft}")


def listen_all(address, first_port, count):
    listeners = {}
    for port in range(first_port, first_port + count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(64)
        sock.setblocking(False)
        listeners[sock.fileno()] = (sock, port)
    return listeners


def answer_for(port, args, now):
    if args.flap_every and port % args.flap_every == 0:
        window = int(now // args.flap_period)
        if (window + port // args.flap_every) % 2 == 0:
            return DOWN
    return OK


def serve(args):
    raise_nofile(args.count + 4096)
    listeners = listen_all(args.address, args.first_port, args.count)
    poller = select.epoll(sizehint=args.count + 1024)
    for fd in listeners:
        poller.register(fd, select.EPOLLIN)
    conns = {}  # fd -> (socket, port, buffer)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    print(f"ready {len(listeners)}", flush=True)
    deadline = time.monotonic() + args.seconds
    served = 0
    while not stop and time.monotonic() < deadline:
        try:
            events = poller.poll(0.5)
        except InterruptedError:
            continue
        now = time.time()
        for fd, _ in events:
            if fd in listeners:
                sock, port = listeners[fd]
                while True:
                    try:
                        conn, _ = sock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as e:
                        if e.errno in (errno.EMFILE, errno.ENFILE):
                            break
                        raise
                    conn.setblocking(False)
                    conns[conn.fileno()] = (conn, port, b"")
                    poller.register(conn.fileno(), select.EPOLLIN)
                continue
            conn, port, buf = conns[fd]
            try:
                data = conn.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            buf += data
            if data and b"\r\n\r\n" not in buf and len(buf) < 65536:
                conns[fd] = (conn, port, buf)
                continue
            if data:
                try:
                    conn.send(answer_for(port, args, now))
                    served += 1
                except OSError:
                    pass
            poller.unregister(fd)
            del conns[fd]
            conn.close()
    print(f"served {served}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--first-port", type=int, default=20000)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--flap-every", type=int, default=10)
    parser.add_argument("--flap-period", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=600.0)
    args = parser.parse_args()
    if not args.address.startswith("127."):
        sys.exit("many_http: loopback addresses only")
    serve(args)


if __name__ == "__main__":
    main()
