/* hub/hash.c — the hashes the hub protocol names objects by (sha256 for LFS, git's blob sha1 for
 * regular files), from OpenSSL's libcrypto (EVP, which picks the CPU's SHA instructions); base64
 * for NDJSON commits and preupload samples, and random tokens. None of this is used for secrecy
 * except am__random_hex, which reads the kernel's random source. */
#include "core/error.h"
#include "hub/hub.h"
#include <errno.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One streaming digest: an EVP context, freed by _final or _discard. */
static am_status digest_init(am__digest *c, const EVP_MD *md, const char *name) {
    c->failed = false;
    c->ctx = EVP_MD_CTX_new();
    if (c->ctx && EVP_DigestInit_ex(c->ctx, md, NULL) == 1) return AM_OK;
    am_status code = c->ctx ? AM_ERR_INTERNAL : AM_ERR_NO_MEMORY;
    EVP_MD_CTX_free(c->ctx);
    c->ctx = NULL;
    c->failed = true;
    return am__error(code, "cannot start a %s digest (libcrypto%s)", name, code == AM_ERR_NO_MEMORY ? ": out of memory" : " refused it");
}
static void digest_update(am__digest *c, const void *p, size_t n) {
    if (!c->failed && n && EVP_DigestUpdate(c->ctx, p, n) != 1) c->failed = true;
}
static am_status digest_final(am__digest *c, uint8_t *out, const char *name) {
    bool ok = !c->failed && EVP_DigestFinal_ex(c->ctx, out, NULL) == 1;
    am__digest_discard(c);
    return ok ? AM_OK : am__error(AM_ERR_NO_MEMORY, "%s digest failed (libcrypto)", name);
}
void am__digest_discard(am__digest *c) {
    EVP_MD_CTX_free(c->ctx);
    c->ctx = NULL;
}

am_status am__sha256_init(am__sha256 *c) { return digest_init(c, EVP_sha256(), "SHA-256"); }
void am__sha256_update(am__sha256 *c, const void *p, size_t n) { digest_update(c, p, n); }
am_status am__sha256_final(am__sha256 *c, uint8_t out[32]) { return digest_final(c, out, "SHA-256"); }
am_status am__sha1_init(am__sha1 *c) { return digest_init(c, EVP_sha1(), "SHA-1"); }
void am__sha1_update(am__sha1 *c, const void *p, size_t n) { digest_update(c, p, n); }
am_status am__sha1_final(am__sha1 *c, uint8_t out[20]) { return digest_final(c, out, "SHA-1"); }

/* git's blob header: "blob <size>" and its NUL. */
static size_t blob_header(char hdr[32], uint64_t size) {
    return (size_t)snprintf(hdr, 32, "blob %llu", (unsigned long long)size) + 1;
}

am_status am__sha256_hex(const void *p, size_t n, char hex[65]) {
    uint8_t d[32];
    am__sha256 c;
    am_status st = am__sha256_init(&c);
    if (st) return st;
    am__sha256_update(&c, p, n);
    if ((st = am__sha256_final(&c, d))) return st;
    am__hex(d, 32, hex);
    return AM_OK;
}

am_status am__sha1_hex(const void *p, size_t n, bool git_blob, char hex[41]) {
    uint8_t d[20];
    char hdr[32];
    am__sha1 c;
    am_status st = am__sha1_init(&c);
    if (st) return st;
    if (git_blob) am__sha1_update(&c, hdr, blob_header(hdr, n));
    am__sha1_update(&c, p, n);
    if ((st = am__sha1_final(&c, d))) return st;
    am__hex(d, 20, hex);
    return AM_OK;
}

void am__hex(const uint8_t *p, size_t n, char *out) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) out[2 * i] = d[p[i] >> 4], out[2 * i + 1] = d[p[i] & 15];
    out[2 * n] = 0;
}

am_status am__hash_file(const char *path, char sha256_hex[65], char sha1_hex[41], uint64_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return am__error(errno == ENOENT ? AM_ERR_NOT_FOUND : AM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return am__error(AM_ERR_IO, "%s: not a regular file", path);
    }
    am__sha256 s2 = {0};
    am__sha1 s1 = {0};
    uint8_t *buf = NULL;
    uint64_t total = 0;
    am_status st = sha256_hex ? am__sha256_init(&s2) : AM_OK;
    if (!st && sha1_hex) st = am__sha1_init(&s1);
    if (st) goto out;
    char hdr[32];
    if (sha1_hex) am__sha1_update(&s1, hdr, blob_header(hdr, (uint64_t)sb.st_size)); /* git hashes the header with its NUL */
    size_t cap = 1 << 20;
    if (!(buf = malloc(cap))) {
        st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            st = am__error(AM_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0) break;
        if (sha256_hex) am__sha256_update(&s2, buf, (size_t)r);
        if (sha1_hex) am__sha1_update(&s1, buf, (size_t)r);
        total += (uint64_t)r;
    }
    if (total != (uint64_t)sb.st_size) {
        st = am__error(AM_ERR_IO, "%s: changed while being hashed", path);
        goto out;
    }
    uint8_t d[32];
    if (sha256_hex && !(st = am__sha256_final(&s2, d))) am__hex(d, 32, sha256_hex);
    if (!st && sha1_hex && !(st = am__sha1_final(&s1, d))) am__hex(d, 20, sha1_hex);
    if (!st && size) *size = total;
out:
    am__digest_discard(&s2);
    am__digest_discard(&s1);
    free(buf);
    close(fd);
    return st;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *am__base64_encode(const void *data, size_t n, size_t *out_len) {
    const uint8_t *p = data;
    size_t ol = 4 * ((n + 2) / 3);
    char *o = malloc(ol + 1);
    if (!o) return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        o[j++] = B64[v >> 18 & 63];
        o[j++] = B64[v >> 12 & 63];
        o[j++] = i + 1 < n ? B64[v >> 6 & 63] : '=';
        o[j++] = i + 2 < n ? B64[v & 63] : '=';
    }
    o[j] = 0;
    if (out_len) *out_len = j;
    return o;
}

static int b64v(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

bool am__base64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len) {
    while (n && s[n - 1] == '=') n--;
    if (n % 4 == 1) return false;
    uint8_t *o = malloc(n / 4 * 3 + 3);
    if (!o) return false;
    size_t j = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64v(s[i]);
        if (v < 0) {
            free(o);
            return false;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[j++] = (uint8_t)(acc >> bits);
        }
    }
    *out = o;
    *out_len = j;
    return true;
}

char *am__hub_auth_token(const char *h) {
    if (!h) return NULL;
    if (!strncasecmp(h, "Bearer ", 7)) {
        h += 7;
        while (*h == ' ') h++;
        return *h ? am__strdup(h) : NULL;
    }
    if (strncasecmp(h, "Basic ", 6)) return NULL;
    h += 6;
    while (*h == ' ') h++;
    size_t bl = strlen(h), dl = 0;
    while (bl && (h[bl - 1] == ' ' || h[bl - 1] == '\t')) bl--;
    uint8_t *dec = NULL;
    if (!bl || !am__base64_decode(h, bl, &dec, &dl)) return NULL;
    char *colon = memchr(dec, ':', dl), *tok = NULL;
    if (colon && !memchr(dec, 0, dl) && (size_t)(colon + 1 - (char *)dec) < dl)
        tok = strndup(colon + 1, dl - (size_t)(colon + 1 - (char *)dec));
    free(dec);
    return tok;
}

void am__random_hex(char *out, size_t nhex) {
    uint8_t b[64];
    size_t nb = (nhex + 1) / 2;
    if (nb > sizeof b) nb = sizeof b;
    if (getrandom(b, nb, 0) != (ssize_t)nb) {
        /* no kernel randomness: still unique per process and call, which is all temp names need */
        static unsigned long ctr;
        uint64_t x = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL) ^ (uint64_t)(++ctr * 0x9e3779b97f4a7c15ull);
        for (size_t i = 0; i < nb; i++) b[i] = (uint8_t)(x >> (8 * (i % 8))) ^ (uint8_t)i;
    }
    char tmp[129];
    am__hex(b, nb, tmp);
    memcpy(out, tmp, nhex);
    out[nhex] = 0;
}
