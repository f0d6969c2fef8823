#!/usr/bin/python3
"""tests/hub/make_pyclient_fixtures.py — writes tests/fixtures/hub/pyclient/*.http: the requests
huggingface_hub 0.16-0.20 sends for `HfApi().create_repo("alice/tiny")` followed by
`HfApi().upload_folder(folder_path=FOLDER, repo_id="alice/tiny")`, byte for byte as `requests`
serialises them (header names, order and values, `json.dumps` bodies with its default separators).

Sources, read in huggingface_hub's own code (hf_api.py create_repo / create_commit /
_fetch_upload_modes, _commit_api.py _prepare_commit_payload, lfs.py post_lfs_batch_info /
lfs_upload / _upload_multi_part / _get_completion_payload) and requests 2.31 (session default
headers, PreparedRequest: Content-Length before a json Content-Type, HTTPBasicAuth last):
  - create_repo: POST /api/repos/create, json {"name", "organization", "private"}, Bearer.
  - preupload: POST /api/models/{repo}/preupload/main, json {"files": [{"path", "sample" (base64 of
    the first 512 bytes), "size", "sha"}]}, Bearer.
  - LFS batch: POST /{repo}.git/info/lfs/objects/batch, headers Accept and Content-Type
    application/vnd.git-lfs+json, json {"operation": "upload", "transfers": ["basic", "multipart"],
    "objects": [{"oid", "size"}], "hash_algo": "sha256"}, HTTPBasicAuth("access_token", token).
  - basic transfer: PUT {actions.upload.href}, the file as the body, no auth.
  - multipart: PUT each header["1".."N"] URL with chunk_size bytes (no auth), the response's ETag
    collected; then POST {actions.upload.href} with LFS headers and json {"oid", "parts":
    [{"partNumber", "etag"}]}, no auth.
  - verify: POST {actions.verify.href}, json {"oid", "size"}, HTTPBasicAuth("USER", token).
  - commit: POST /api/models/{repo}/commit/main, Content-Type application/x-ndjson, Bearer; lines
    {"key": "header", "value": {"summary", "description"}}, {"key": "file", "value": {"content",
    "path", "encoding": "base64"}}, {"key": "lfsFile", "value": {"path", "algo", "oid"}} (no size).
Placeholders the replay fills from the server's answers (the client takes them from there too):
{HOST}, {UPLOAD:oid} / {PART:oid:n} / {VERIFY:oid} (paths of the batch hrefs), {ETAG:oid:n}, and
{FILE:relpath:offset:len} bodies; Content-Length is literal unless the body has a placeholder
({LEN}). Run from the repository root; the multipart chunk is the server's --multipart-chunk 32768.
"""
import base64, hashlib, json, math, os

FIX = "tests/fixtures/hub/pyclient"
FOLDER = ["tests/fixtures/hub/bert_seqcls/config.json", "tests/fixtures/hub/bert_seqcls/model.safetensors",
          FIX + "/training_args.bin"]
TOKEN = "hf_pyclient_alice_write_0123456789"
CHUNK = 32768
UA = "unknown/None; hf_hub/0.20.3; python/3.11.2"
SESSION = [("Accept-Encoding", "gzip, deflate"), ("Accept", "*/*"), ("Connection", "keep-alive")]
LFS = ["basic", "multipart"]


def basic(user):
    return "Basic " + base64.b64encode(f"{user}:{TOKEN}".encode()).decode()


def req(name, method, path, headers, body=b"", body_text=None):
    head = [f"{method} {path} HTTP/1.1", "Host: {HOST}"]
    head += [f"{k}: {v}" for k, v in headers]
    if body_text is not None:
        head.append("Content-Length: {LEN}")
        payload = body_text.encode()
    else:
        if body or method in ("POST", "PUT"):
            head.append(f"Content-Length: {len(body)}")
        payload = body
    with open(f"{FIX}/{name}.http", "wb") as f:
        f.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)


def hf_json(name, method, path, obj, extra=()):
    # requests: session headers (User-Agent replaced in place by hf's lowercase user-agent), then the
    # request's own, then Content-Length and the json Content-Type
    body = json.dumps(obj).encode()
    hdr = [("user-agent", UA)] + SESSION + [("authorization", f"Bearer {TOKEN}")] + list(extra)
    hdr += [("Content-Length", str(len(body))), ("Content-Type", "application/json")]
    head = [f"{method} {path} HTTP/1.1", "Host: {HOST}"] + [f"{k}: {v}" for k, v in hdr]
    with open(f"{FIX}/{name}.http", "wb") as f:
        f.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)


def main():
    for n in os.listdir(FIX):
        if n.endswith(".http"):
            os.remove(f"{FIX}/{n}")
    files = []
    for p in FOLDER:
        data = open(p, "rb").read()
        files.append((os.path.basename(p), p, data, hashlib.sha256(data).hexdigest()))
    files.sort()
    hf_json("01_create_repo", "POST", "/api/repos/create", {"name": "tiny", "organization": "alice", "private": False})
    hf_json("02_preupload", "POST", "/api/models/alice/tiny/preupload/main",
            {"files": [{"path": n, "sample": base64.b64encode(d[:512]).decode("ascii"), "size": len(d), "sha": h}
                       for n, _, d, h in files]})
    lfs = [(n, p, d, h) for n, p, d, h in files if not n.endswith(".json")]
    body = json.dumps({"operation": "upload", "transfers": LFS,
                       "objects": [{"oid": h, "size": len(d)} for _, _, d, h in lfs], "hash_algo": "sha256"}).encode()
    hdr = [("User-Agent", "python-requests/2.31.0")] + SESSION[:1] + [("Accept", "application/vnd.git-lfs+json")] + \
        SESSION[2:] + [("Content-Type", "application/vnd.git-lfs+json"), ("Content-Length", str(len(body))),
                       ("Authorization", basic("access_token"))]
    head = ["POST /alice/tiny.git/info/lfs/objects/batch HTTP/1.1", "Host: {HOST}"] + [f"{k}: {v}" for k, v in hdr]
    with open(f"{FIX}/03_lfs_batch.http", "wb") as f:
        f.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    plain = [("User-Agent", "python-requests/2.31.0")] + SESSION
    step = 4
    for n, p, d, h in lfs:
        if len(d) > CHUNK:
            parts = math.ceil(len(d) / CHUNK)
            for k in range(parts):
                ln = min(CHUNK, len(d) - k * CHUNK)
                with open(f"{FIX}/{step:02d}_part_{n}_{k + 1}.http", "wb") as f:
                    f.write(("\r\n".join([f"PUT {{PART:{h}:{k + 1}}} HTTP/1.1", "Host: {HOST}"] +
                                         [f"{a}: {b}" for a, b in plain] + [f"Content-Length: {ln}"]) +
                             f"\r\n\r\n{{FILE:{p}:{k * CHUNK}:{ln}}}").encode())
                step += 1
            comp = '{"oid": "%s", "parts": [%s]}' % (h, ", ".join(
                '{"partNumber": %d, "etag": "{ETAG:%s:%d}"}' % (k + 1, h, k + 1) for k in range(parts)))
            lh = [("User-Agent", "python-requests/2.31.0"), SESSION[0], ("Accept", "application/vnd.git-lfs+json"),
                  SESSION[2], ("Content-Type", "application/vnd.git-lfs+json")]
            req(f"{step:02d}_complete_{n}", "POST", f"{{UPLOAD:{h}}}", lh, body_text=comp)
        else:
            with open(f"{FIX}/{step:02d}_put_{n}.http", "wb") as f:
                f.write(("\r\n".join([f"PUT {{UPLOAD:{h}}} HTTP/1.1", "Host: {HOST}"] + [f"{a}: {b}" for a, b in plain] +
                                     [f"Content-Length: {len(d)}"]) + f"\r\n\r\n{{FILE:{p}:0:{len(d)}}}").encode())
        step += 1
        vb = json.dumps({"oid": h, "size": len(d)}).encode()
        vh = plain + [("Content-Length", str(len(vb))), ("Content-Type", "application/json"), ("Authorization", basic("USER"))]
        with open(f"{FIX}/{step:02d}_verify_{n}.http", "wb") as f:
            f.write(("\r\n".join([f"POST {{VERIFY:{h}}} HTTP/1.1", "Host: {HOST}"] + [f"{a}: {b}" for a, b in vh]) +
                     "\r\n\r\n").encode() + vb)
        step += 1
    lines = [{"key": "header", "value": {"summary": "Upload folder using huggingface_hub", "description": ""}}]
    for n, p, d, h in files:
        if n.endswith(".json"):
            lines.append({"key": "file", "value": {"content": base64.b64encode(d).decode(), "path": n, "encoding": "base64"}})
        else:
            lines.append({"key": "lfsFile", "value": {"path": n, "algo": "sha256", "oid": h}})
    body = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
    hdr = [("user-agent", UA)] + SESSION + [("Content-Type", "application/x-ndjson"), ("authorization", f"Bearer {TOKEN}"),
                                           ("Content-Length", str(len(body)))]
    with open(f"{FIX}/{step:02d}_commit.http", "wb") as f:
        f.write(("\r\n".join(["POST /api/models/alice/tiny/commit/main HTTP/1.1", "Host: {HOST}"] +
                             [f"{a}: {b}" for a, b in hdr]) + "\r\n\r\n").encode() + body)


if __name__ == "__main__":
    main()
