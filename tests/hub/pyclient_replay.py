#!/usr/bin/python3
"""tests/hub/pyclient_replay.py CLI SOURCE_DIR — plays huggingface_hub's upload requests
(tests/fixtures/hub/pyclient/*.http, written by make_pyclient_fixtures.py) byte for byte against
`automodel hub serve`, checking every answer as the client validates it, then reads the upload back
with `automodel download`. Also: HTTP Basic auth (token as the password, any user name) on every
endpoint that takes a token, a wrong Basic token is 401, and a deletedFolder path with a trailing
'/' as CommitOperationDelete sends it. Standard library only."""
import base64, glob, json, math, os, re, shutil, socket, subprocess, sys, tempfile, time

CLI, SRC = sys.argv[1], sys.argv[2]
FIX = os.path.join(SRC, "tests/fixtures/hub/pyclient")
TOKEN = "hf_pyclient_alice_write_0123456789"
CHUNK = 32768
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def exchange(port, raw):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(raw)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if "content-length" in hdrs:
        n = int(hdrs["content-length"])
        while len(body) < n:
            d = s.recv(65536)
            if not d:
                break
            body += d
    elif hdrs.get("transfer-encoding", "").lower() == "chunked":
        while not body.endswith(b"0\r\n\r\n"):
            d = s.recv(65536)
            if not d:
                break
            body += d
        out, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size.split(b";")[0], 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    s.close()
    return status, hdrs, body


def fill(raw, ctx):
    """Replace the placeholders of one recorded request with what the server answered."""
    head, _, body = raw.partition(b"\r\n\r\n")
    head = head.decode()
    body_txt = None
    m = re.fullmatch(rb"\{FILE:([^:}]+):(\d+):(\d+)\}", body)
    if m:
        data = open(os.path.join(SRC, m.group(1).decode()), "rb").read()
        off, ln = int(m.group(2)), int(m.group(3))
        body = data[off:off + ln]
    else:
        body_txt = body.decode()
        body_txt = re.sub(r"\{ETAG:(\w+):(\d+)\}", lambda x: json.dumps(ctx["etag"][(x.group(1), int(x.group(2)))])[1:-1],
                          body_txt)
        body = body_txt.encode()
    head = head.replace("{HOST}", ctx["host"]).replace("{LEN}", str(len(body)))
    head = re.sub(r"\{UPLOAD:(\w+)\}", lambda x: ctx["upload"][x.group(1)], head)
    head = re.sub(r"\{VERIFY:(\w+)\}", lambda x: ctx["verify"][x.group(1)], head)
    head = re.sub(r"\{PART:(\w+):(\d+)\}", lambda x: ctx["parts"][x.group(1)][int(x.group(2)) - 1], head)
    cl = re.search(r"Content-Length: (\d+)", head)
    assert not cl or int(cl.group(1)) == len(body), "recorded Content-Length differs from the body"
    return (head + "\r\n\r\n").encode() + body


def path_of(url):
    return re.sub(r"^https?://[^/]+", "", url)


def main():
    work = tempfile.mkdtemp(prefix="am_hubpy_")
    server = None
    try:
        with open(os.path.join(work, "tokens"), "w") as f:
            f.write(f"{TOKEN} alice write\nhf_pyclient_bob_read_0123456789 bob read\n")
        os.chmod(os.path.join(work, "tokens"), 0o600)
        server = subprocess.Popen([CLI, "hub", "serve", os.path.join(work, "root"), "--port", "0", "--tokens",
                                   os.path.join(work, "tokens"), "--port-file", os.path.join(work, "port"),
                                   "--multipart-chunk", str(CHUNK)], stderr=open(os.path.join(work, "serve.log"), "w"))
        for _ in range(200):
            if os.path.exists(os.path.join(work, "port")) and os.path.getsize(os.path.join(work, "port")):
                break
            time.sleep(0.05)
        port = int(open(os.path.join(work, "port")).read())
        ctx = {"host": f"127.0.0.1:{port}", "upload": {}, "verify": {}, "parts": {}, "etag": {}}
        steps = sorted(glob.glob(os.path.join(FIX, "*.http")))
        check(len(steps) >= 8, f"{len(steps)} recorded requests")
        for p in steps:
            name = os.path.basename(p)
            raw = fill(open(p, "rb").read(), ctx)
            status, hdrs, body = exchange(port, raw)
            check(status == 200, f"{name}: HTTP {status} {body[:200]!r}")
            if status != 200:
                continue
            if "preupload" in name:
                files = json.loads(body)["files"]
                modes = {f["path"]: f["uploadMode"] for f in files}
                check(modes == {"config.json": "regular", "model.safetensors": "lfs", "training_args.bin": "lfs"},
                      f"preupload modes {modes}")
                check(all(isinstance(f.get("shouldIgnore"), bool) for f in files), "preupload shouldIgnore booleans")
            elif "lfs_batch" in name:
                check(hdrs.get("content-type", "").startswith("application/vnd.git-lfs+json"), "batch content type")
                req_objs = json.loads(raw.partition(b"\r\n\r\n")[2])["objects"]
                sizes = {o["oid"]: o["size"] for o in req_objs}
                for o in json.loads(body)["objects"]:
                    # lfs.py _validate_batch_actions / _validate_lfs_action / _get_sorted_parts_urls
                    check(isinstance(o.get("oid"), str) and isinstance(o.get("size"), int) and "error" not in o,
                          f"batch object {o.get('oid', '?')[:12]} oid/size")
                    up, ver = o["actions"]["upload"], o["actions"]["verify"]
                    check(isinstance(up.get("href"), str) and isinstance(ver.get("href"), str), "batch hrefs")
                    ctx["upload"][o["oid"]] = path_of(up["href"])
                    ctx["verify"][o["oid"]] = path_of(ver["href"])
                    hdr = up.get("header", {})
                    if "chunk_size" in hdr:
                        cs = int(hdr["chunk_size"])
                        urls = [u for _, u in sorted((int(k), u) for k, u in hdr.items() if k.isdigit())]
                        check(len(urls) == math.ceil(sizes[o["oid"]] / cs), f"multipart: {len(urls)} part URLs")
                        ctx["parts"][o["oid"]] = [path_of(u) for u in urls]
                    else:
                        check(sizes[o["oid"]] <= CHUNK, "basic transfer for a file under the chunk size")
            elif "_part_" in name:
                oid = re.search(r"\{PART:(\w+):(\d+)\}", open(p, "rb").read().decode("latin-1"))
                check(bool(hdrs.get("etag")), f"{name}: part ETag")
                ctx["etag"][(oid.group(1), int(oid.group(2)))] = hdrs.get("etag", "")
            elif "commit" in name:
                info = json.loads(body)
                check(isinstance(info.get("commitOid"), str) and isinstance(info.get("commitUrl"), str),
                      "commit answer has commitUrl and commitOid")
        # what was uploaded, read back by our client
        env = dict(os.environ, HF_HOME=os.path.join(work, "home"), HF_ENDPOINT=f"http://127.0.0.1:{port}")
        env.pop("HF_TOKEN", None)
        snap = subprocess.run([CLI, "download", "alice/tiny"], env=env, capture_output=True, text=True).stdout.strip()
        for rel, src in [("config.json", "tests/fixtures/hub/bert_seqcls/config.json"),
                         ("model.safetensors", "tests/fixtures/hub/bert_seqcls/model.safetensors"),
                         ("training_args.bin", "tests/fixtures/hub/pyclient/training_args.bin")]:
            got = os.path.join(snap, rel)
            check(os.path.exists(got) and open(got, "rb").read() == open(os.path.join(SRC, src), "rb").read(),
                  f"downloaded {rel} equals the uploaded file")

        def call(method, path, auth, body=b"", ctype="application/json"):
            h = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
            if auth:
                h += f"Authorization: {auth}\r\n"
            if body or method == "POST":
                h += f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            return exchange(port, (h + "\r\n").encode() + body)

        def basic(user, tok):
            return "Basic " + base64.b64encode(f"{user}:{tok}".encode()).decode()

        batch = json.dumps({"operation": "upload", "transfers": ["basic"], "objects": [
            {"oid": "ab" * 32, "size": 10}], "hash_algo": "sha256"}).encode()
        bpath = "/alice/tiny.git/info/lfs/objects/batch"
        st, _, b = call("POST", bpath, basic("access_token", "hf_wrong_token_0000"), batch, "application/vnd.git-lfs+json")
        check(st == 401, f"Basic auth with a wrong token: {st}")
        st, _, b = call("POST", bpath, basic("access_token", TOKEN[:-1]), batch, "application/vnd.git-lfs+json")
        check(st == 401, f"Basic auth with a truncated token: {st}")
        st, _, b = call("POST", bpath, "Basic !!!notbase64", batch, "application/vnd.git-lfs+json")
        check(st == 401, f"Basic auth that is not base64: {st}")
        st, _, b = call("POST", bpath, "Basic " + base64.b64encode(TOKEN.encode()).decode(), batch,
                        "application/vnd.git-lfs+json")
        check(st == 401, f"Basic auth without 'user:': {st}")
        st, _, b = call("POST", bpath, basic("hf_pyclient_bob_read_0123456789".replace("hf", "x"), "hf_pyclient_bob_read_0123456789"),
                        batch, "application/vnd.git-lfs+json")
        check(st == 403, f"Basic auth with a read token on an upload batch: {st}")
        st, _, b = call("POST", bpath, basic("anyone", TOKEN), batch, "application/vnd.git-lfs+json")
        check(st == 200 and "actions" in json.loads(b)["objects"][0], f"Basic auth, any user name: {st}")
        st, _, b = call("GET", "/api/whoami-v2", basic("access_token", TOKEN))
        check(st == 200 and json.loads(b)["name"] == "alice", f"whoami with Basic auth: {st}")
        st, _, b = call("GET", "/api/whoami-v2", basic("access_token", "nope"))
        check(st == 401, f"whoami with a wrong Basic token: {st}")
        st, _, b = call("POST", "/api/repos/create", basic("access_token", TOKEN),
                        json.dumps({"name": "priv", "organization": "alice", "private": True}).encode())
        check(st == 200, f"create_repo with Basic auth: {st}")
        st, _, b = call("GET", "/api/models/alice/priv", basic("x", TOKEN))
        check(st == 200, f"private repo info with Basic auth: {st}")
        st, _, b = call("GET", "/api/models/alice/priv", basic("x", "hf_wrong"))
        check(st in (401, 404), f"private repo info with a wrong Basic token: {st}")
        nd = (json.dumps({"key": "header", "value": {"summary": "add sub", "description": ""}}) + "\n" +
              json.dumps({"key": "file", "value": {"content": base64.b64encode(b"hi").decode(), "path": "sub/a.txt",
                                                   "encoding": "base64"}}) + "\n").encode()
        st, _, b = call("POST", "/api/models/alice/tiny/commit/main", basic("access_token", TOKEN), nd, "application/x-ndjson")
        check(st == 200, f"commit with Basic auth: {st} {b[:200]!r}")
        nd = (json.dumps({"key": "header", "value": {"summary": "rm sub", "description": ""}}) + "\n" +
              json.dumps({"key": "deletedFolder", "value": {"path": "sub/"}}) + "\n").encode()
        st, _, b = call("POST", "/api/models/alice/tiny/commit/main", f"Bearer {TOKEN}", nd, "application/x-ndjson")
        check(st == 200, f"deletedFolder 'sub/' (CommitOperationDelete's trailing slash): {st} {b[:200]!r}")
        st, _, b = call("GET", "/api/models/alice/tiny/tree/main/sub", None)
        check(st == 404 or json.loads(b) == [], f"sub/ is gone: {st}")
    finally:
        if server:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"FAILED: {len(failures)} check(s)")
        sys.exit(1)
    print("huggingface_hub request replay: ok")


main()
