#!/usr/bin/env python3
"""A loopback TCP proxy for fault tests: `tcp_proxy.py HOST:PORT [LISTEN_PORT]` forwards
127.0.0.1:<LISTEN_PORT, or a random port> there (a fixed port lets a test start it again after a kill).

Freeze it with SIGSTOP to make a peer that goes silent while TCP stays open; kill it to cut every
connection at once. The first line on stdout is `listening 127.0.0.1:<port>`.
"""
import signal
import socket
import sys
import threading


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
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    # A parent (a test runner) may have SIGTERM ignored or blocked; we must still stop on it.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    host, port = sys.argv[1].rsplit(":", 1)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0))
    server.listen(64)
    print("listening 127.0.0.1:%d" % server.getsockname()[1], flush=True)
    while True:
        client, _ = server.accept()
        upstream = socket.create_connection((host, int(port)))
        threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


if __name__ == "__main__":
    main()
