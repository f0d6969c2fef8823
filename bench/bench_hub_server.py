#!/usr/bin/env python3
"""bench/bench_hub_server.py — the hub server under the attacks of issue 18, measured on loopback.

  python3 bench/bench_hub_server.py build/automodel [--quick]

1. Peak server RSS (VmHWM of the `automodel hub serve` process) while a client without a token
   sends a 1 GiB body from /dev/zero: once announced by Content-Length, once chunked.
2. Latency of normal requests from 127.0.0.1 while 1,000 half-sent requests (slow loris) come
   from 127.0.0.2: with the default per-address limit, and with the limit lifted (as if the
   1,000 came from 1,000 addresses: event-driven workers must still not let them block anyone).
3. Cost of fsync per commit: N small commits with and without --no-fsync, in ROOT's filesystem.
Only the standard library; everything on loopback; every loop bounded.
"""
import http.client, json, os, socket, subprocess, sys, tempfile, time, threading, base64

AM = sys.argv[1] if len(sys.argv) > 1 else "build/automodel"
QUICK = "--quick" in sys.argv
TOKEN = "tok_bench_0123456789abcdef"


def start(root, *flags):
    pf = os.path.join(root, "..", "port-%d" % time.monotonic_ns())
    toks = os.path.join(root, "..", "tokens")
    with open(toks, "w") as f:
        f.write("%s alice write\n" % TOKEN)
    os.chmod(toks, 0o600)
    p = subprocess.Popen([AM, "hub", "serve", root, "--port", "0", "--port-file", pf, "--tokens", toks, *flags],
                         stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(pf):
            return p, int(open(pf).read())
        time.sleep(0.05)
    p.kill()
    raise SystemExit("the server did not start")


def stop(p):
    p.terminate()
    p.wait(10)


def status_kb(pid, key):
    for line in open("/proc/%d/status" % pid):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return -1


def req(port, method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Authorization": "Bearer " + TOKEN}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def unauth_body(port, pid, chunked):
    before = status_kb(pid, "VmHWM")
    s = socket.create_connection(("127.0.0.1", port))
    te = "Transfer-Encoding: chunked" if chunked else "Content-Length: %d" % (1 << 30)
    s.sendall(("POST /api/models/alice/m/commit/main HTTP/1.1\r\nHost: x\r\n"
               "Content-Type: application/x-ndjson\r\n%s\r\n\r\n" % te).encode())
    sent, t0 = 0, time.monotonic()
    zero = open("/dev/zero", "rb")
    try:
        while sent < (1 << 30):
            block = zero.read(1 << 20)
            if chunked:
                block = b"%x\r\n" % len(block) + block + b"\r\n"
            s.sendall(block)
            sent += 1 << 20
    except OSError:
        pass
    s.settimeout(5)
    try:
        answer = s.recv(200).split(b"\r\n")[0].decode(errors="replace")
    except OSError:
        answer = "(connection closed)"
    s.close()
    after = status_kb(pid, "VmHWM")
    print("  %-14s body: sent %4d MiB before the server hung up (%.2f s); answer %r; server VmHWM %d -> %d KiB"
          % ("chunked" if chunked else "Content-Length", sent >> 20, time.monotonic() - t0, answer, before, after))


def slow_loris(port, n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /api/models/alice/m HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        except OSError:
            pass
        socks.append(s)
    time.sleep(0.5)
    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            alive += 0 if s.recv(1) == b"" else 1
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    lat = []
    for _ in range(50):
        t0 = time.monotonic()
        st, _ = req(port, "GET", "/api/models/alice/m", timeout=60)
        lat.append((time.monotonic() - t0) * 1000)
        assert st == 200, st
    lat.sort()
    for s in socks:
        s.close()
    return alive, lat[len(lat) // 2], lat[-1]


def commits(port, n):
    t0 = time.monotonic()
    for i in range(n):
        lines = [{"key": "header", "value": {"summary": "c%d" % i}},
                 {"key": "file", "value": {"path": "f%d.txt" % (i % 10), "encoding": "base64",
                                           "content": base64.b64encode(b"x%d" % i).decode()}}]
        st, body = req(port, "POST", "/api/models/alice/m/commit/main", "\n".join(json.dumps(l) for l in lines),
                       {"Content-Type": "application/x-ndjson"})
        assert st == 200, body
    return (time.monotonic() - t0) * 1000 / n


def main():
    work = tempfile.mkdtemp(prefix="am_bench_hub_")
    root = os.path.join(work, "root")
    os.makedirs(root)
    print("CPU: %s; ROOT on %s" % (next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
                                  subprocess.run(["df", "-T", root], capture_output=True, text=True).stdout.split("\n")[1].split()[1]))
    p, port = start(root)
    req(port, "POST", "/api/repos/create", json.dumps({"name": "m"}))
    print("1. unauthenticated 1 GiB body (server RSS at start %d KiB)" % status_kb(p.pid, "VmRSS"))
    unauth_body(port, p.pid, False)
    unauth_body(port, p.pid, True)
    n = 200 if QUICK else 1000
    print("2. normal GET latency during a %d-connection slow loris from 127.0.0.2" % n)
    base = slow_loris(port, 0)
    print("   no attack:                       p50 %.1f ms, max %.1f ms" % (base[1], base[2]))
    a = slow_loris(port, n)
    print("   default limits (64 per address): %4d kept, p50 %.1f ms, max %.1f ms" % a)
    stop(p)
    p, port = start(root, "--max-connections-per-ip", "4096", "--max-connections", "4096")
    a = slow_loris(port, n)
    print("   per-address limit lifted:        %4d kept, p50 %.1f ms, max %.1f ms" % a)
    stop(p)
    nc = 50 if QUICK else 200
    print("3. commit cost (%d small commits, one file each, over HTTP)" % nc)
    p, port = start(root)
    with_sync = commits(port, nc)
    stop(p)
    p, port = start(root, "--no-fsync")
    without = commits(port, nc)
    stop(p)
    print("   fsync: %.2f ms/commit, --no-fsync: %.2f ms/commit, fsync cost %.2f ms/commit" % (with_sync, without, with_sync - without))
    subprocess.run(["rm", "-rf", work])


main()
