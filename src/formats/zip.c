/* formats/zip.c — the zip container of torch.save archives: a validating reader over a mapped
 * buffer (central directory, ZIP64, stored/deflate) and a streaming writer of stored, aligned
 * entries that PyTorch's own reader (miniz) and Python's zipfile accept. */
#include "formats/zip.h"
#include "core/error.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

/* a range [off, off+n) lies inside [0, len) without overflowing */
static bool in_bounds(uint64_t off, uint64_t n, uint64_t len) { return off <= len && n <= len - off; }

/* Names are only ever looked up, never used as paths, but a name that would escape a folder or
 * hide a NUL is a sign of a crafted archive, and refusing it costs nothing. */
static bool name_ok(const uint8_t *p, size_t n) {
    if (n == 0 || p[0] == '/') return false;
    size_t comp_start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && (p[i] == 0 || p[i] == '\\')) return false;
        if (i == n || p[i] == '/') {
            if (i - comp_start == 2 && p[comp_start] == '.' && p[comp_start + 1] == '.') return false;
            comp_start = i + 1;
        }
    }
    return true;
}

static int cmp_entry_name(const void *a, const void *b) {
    return strcmp(((const am__zip_entry *)a)->name, ((const am__zip_entry *)b)->name);
}

void am__zip_free(am__zip *z) {
    if (!z) return;
    for (size_t i = 0; i < z->n_entries; i++) free(z->entries[i].name);
    free(z->entries);
    free(z->origin);
    free(z);
}

static am_status bad(am__zip *z, const char *origin, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static am_status bad(am__zip *z, const char *origin, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    am__zip_free(z);
    return am__error(AM_ERR_FORMAT, "%s: %s", origin, msg);
}

/* The zip64 extended-information extra field (id 1) holds, in this order, only those of
 * size/compressed size/offset whose 32-bit field is 0xFFFFFFFF. */
static bool read_zip64_extra(const uint8_t *extra, size_t n, uint64_t *usize, uint64_t *csize, uint64_t *off,
                             bool need_u, bool need_c, bool need_o) {
    size_t i = 0;
    while (i + 4 <= n) {
        uint16_t id = rd16(extra + i), len = rd16(extra + i + 2);
        if (i + 4 + len > n) return false;
        if (id == 1) {
            const uint8_t *p = extra + i + 4;
            size_t k = 0;
            if (need_u) {
                if (k + 8 > len) return false;
                *usize = rd64(p + k), k += 8;
            }
            if (need_c) {
                if (k + 8 > len) return false;
                *csize = rd64(p + k), k += 8;
            }
            if (need_o) {
                if (k + 8 > len) return false;
                *off = rd64(p + k), k += 8;
            }
            return true;
        }
        i += 4 + (size_t)len;
    }
    return !need_u && !need_c && !need_o;
}

am_status am__zip_open(const void *vbuf, size_t len, const char *origin, am__zip **out) {
    const uint8_t *buf = vbuf;
    *out = NULL;
    if (!origin) origin = "<zip>";
    if (len < 22 || !buf) return bad(NULL, origin, "not a zip archive: too short (%zu bytes)", len);

    /* The end record sits at the end, after a comment of at most 64 KiB. */
    size_t eocd = SIZE_MAX;
    size_t lo = len > 22 + 65535 ? len - 22 - 65535 : 0;
    for (size_t p = len - 22 + 1; p-- > lo;) {
        if (rd32(buf + p) == SIG_EOCD && p + 22 + rd16(buf + p + 20) <= len) {
            eocd = p;
            break;
        }
    }
    if (eocd == SIZE_MAX) return bad(NULL, origin, "not a zip archive: no end-of-central-directory record");
    const uint8_t *e = buf + eocd;
    if (rd16(e + 4) != 0 || rd16(e + 6) != 0) return bad(NULL, origin, "multi-disk zip archives are not supported");
    uint64_t n_entries = rd16(e + 10), cd_size = rd32(e + 12), cd_off = rd32(e + 16);
    uint64_t cd_limit = eocd; /* the central directory ends before this */

    if (eocd >= 20 && rd32(buf + eocd - 20) == SIG_LOCATOR64) {
        const uint8_t *loc = buf + eocd - 20;
        uint64_t z64 = rd64(loc + 8);
        if (rd32(loc + 4) != 0 || rd32(loc + 16) > 1) return bad(NULL, origin, "multi-disk zip archives are not supported");
        if (!in_bounds(z64, 56, eocd - 20)) return bad(NULL, origin, "zip: ZIP64 end record offset %llu out of range", (unsigned long long)z64);
        const uint8_t *r = buf + z64;
        if (rd32(r) != SIG_EOCD64) return bad(NULL, origin, "zip: bad ZIP64 end record signature at offset %llu", (unsigned long long)z64);
        if (rd32(r + 16) != 0 || rd32(r + 20) != 0) return bad(NULL, origin, "multi-disk zip archives are not supported");
        /* the 32-bit fields of the end record hold the value or the 0xFFFF.. sentinel (every writer:
         * zipfile, miniz as torch.save uses it, ours); a value that is neither is a crafted or
         * corrupt archive, refused rather than silently overridden */
        if (cd_off != 0xFFFFFFFFu && cd_off != rd64(r + 48))
            return bad(NULL, origin, "zip: the end record puts the central directory at offset %llu%s, the ZIP64 record at %llu",
                       (unsigned long long)cd_off, cd_off >= len ? ", outside the file" : "", (unsigned long long)rd64(r + 48));
        if (cd_size != 0xFFFFFFFFu && cd_size != rd64(r + 40))
            return bad(NULL, origin, "zip: the end record gives a central directory of %llu bytes, the ZIP64 record %llu",
                       (unsigned long long)cd_size, (unsigned long long)rd64(r + 40));
        if (n_entries != 0xFFFF && n_entries != rd64(r + 32))
            return bad(NULL, origin, "zip: the end record counts %llu entries, the ZIP64 record %llu", (unsigned long long)n_entries,
                       (unsigned long long)rd64(r + 32));
        n_entries = rd64(r + 32);
        cd_size = rd64(r + 40);
        cd_off = rd64(r + 48);
        cd_limit = z64;
    } else if (n_entries == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
        return bad(NULL, origin, "zip: end record needs ZIP64 but the ZIP64 locator is missing");
    }
    if (!in_bounds(cd_off, cd_size, cd_limit))
        return bad(NULL, origin, "zip: central directory (offset %llu, %llu bytes) lies outside the file",
                   (unsigned long long)cd_off, (unsigned long long)cd_size);
    if (n_entries > cd_size / 46) return bad(NULL, origin, "zip: central directory truncated: %llu entries cannot fit in %llu bytes",
                   (unsigned long long)n_entries, (unsigned long long)cd_size);

    am__zip *z = calloc(1, sizeof *z);
    if (!z || !(z->origin = strdup(origin)) ||
        (n_entries && !(z->entries = calloc((size_t)n_entries, sizeof *z->entries)))) {
        am__zip_free(z);
        return am__error(AM_ERR_NO_MEMORY, "%s: out of memory reading the zip directory", origin);
    }
    z->buf = buf;
    z->len = len;

    const uint8_t *cd = buf + cd_off;
    size_t pos = 0;
    for (uint64_t i = 0; i < n_entries; i++) {
        if (pos + 46 > cd_size || rd32(cd + pos) != SIG_CENTRAL)
            return bad(z, origin, "zip: central directory truncated or corrupt at entry %llu", (unsigned long long)i);
        const uint8_t *c = cd + pos;
        uint16_t flags = rd16(c + 8), method = rd16(c + 10);
        uint32_t crc = rd32(c + 16);
        uint64_t csize = rd32(c + 20), usize = rd32(c + 24), loff = rd32(c + 42);
        size_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
        if (pos + 46 + nlen + xlen + clen > cd_size)
            return bad(z, origin, "zip: central directory entry %llu runs past the directory", (unsigned long long)i);
        const uint8_t *name = c + 46;
        if (!name_ok(name, nlen)) return bad(z, origin, "zip: entry %llu has an unsafe or empty name '%.*s'", (unsigned long long)i,
                       (int)(nlen > 200 ? 200 : nlen), (const char *)name);
        am__zip_entry *en = &z->entries[i];
        if (!(en->name = malloc(nlen + 1))) {
            am__zip_free(z);
            return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
        }
        memcpy(en->name, name, nlen);
        en->name[nlen] = 0;
        z->n_entries = (size_t)i + 1;
        if (!read_zip64_extra(c + 46 + nlen, xlen, &usize, &csize, &loff, usize == 0xFFFFFFFFu,
                              csize == 0xFFFFFFFFu, loff == 0xFFFFFFFFu))
            return bad(z, origin, "zip entry '%s': bad ZIP64 extra field", en->name);
        if (flags & 0x41) {
            return bad(z, origin, "zip entry '%s' is encrypted", en->name);
        }
        if (method != 0 && method != 8) {
            return bad(z, origin, "zip entry '%s' uses compression method %u (only stored and deflate are supported)", en->name, method);
        }
        if (method == 0 && csize != usize) {
            return bad(z, origin, "stored zip entry '%s' has compressed size %llu != size %llu", en->name,
                      (unsigned long long)csize, (unsigned long long)usize);
        }
        /* The local header repeats the name and may carry a different extra field (PyTorch pads
         * with one); its sizes may be zero when a data descriptor follows, so the central
         * directory's sizes are the ones used. */
        if (!in_bounds(loff, 30, cd_off) || rd32(buf + loff) != SIG_LOCAL) {
            return bad(z, origin, "zip entry '%s': local header offset %llu is out of range or corrupt", en->name, (unsigned long long)loff);
        }
        uint64_t lnlen = rd16(buf + loff + 26), lxlen = rd16(buf + loff + 28);
        uint64_t doff = loff + 30 + lnlen + lxlen;
        if (lnlen != nlen || !in_bounds(loff + 30, lnlen, cd_off) || memcmp(buf + loff + 30, name, nlen) != 0) {
            return bad(z, origin, "zip entry '%s': local header name differs from the central directory", en->name);
        }
        if (!in_bounds(doff, csize, cd_off)) {
            return bad(z, origin, "zip entry '%s': data (offset %llu, %llu bytes) runs past the entry area", en->name, (unsigned long long)doff, (unsigned long long)csize);
        }
        en->data_offset = doff;
        en->comp_size = csize;
        en->size = usize;
        en->crc32 = crc;
        en->method = method;
        pos += 46 + nlen + xlen + clen;
    }
    /* Duplicate names would make lookups ambiguous (and differ between readers). */
    if (z->n_entries > 1) {
        am__zip_entry *sorted = malloc(z->n_entries * sizeof *sorted);
        if (!sorted) {
            am__zip_free(z);
            return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
        }
        memcpy(sorted, z->entries, z->n_entries * sizeof *sorted);
        qsort(sorted, z->n_entries, sizeof *sorted, cmp_entry_name);
        for (size_t i = 1; i < z->n_entries; i++)
            if (!strcmp(sorted[i - 1].name, sorted[i].name)) {
                am__error(AM_ERR_FORMAT, "%s: zip entry '%s' appears twice", origin, sorted[i].name);
                free(sorted);
                am__zip_free(z);
                return AM_ERR_FORMAT;
            }
        free(sorted);
    }
    *out = z;
    return AM_OK;
}

const am__zip_entry *am__zip_find(const am__zip *z, const char *name) {
    for (size_t i = 0; i < z->n_entries; i++)
        if (!strcmp(z->entries[i].name, name)) return &z->entries[i];
    return NULL;
}

/* zlib's crc32 takes a uInt length; feed it in pieces. */
static uint32_t crc_of(const uint8_t *p, uint64_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

am_status am__zip_read(const am__zip *z, const am__zip_entry *e, bool verify_crc, const uint8_t **data, void **owned) {
    *data = NULL;
    *owned = NULL;
    const uint8_t *src = z->buf + e->data_offset;
    if (e->method == 0) {
        if (verify_crc && crc_of(src, e->size) != e->crc32)
            return am__error(AM_ERR_FORMAT, "%s: zip entry '%s': CRC mismatch", z->origin, e->name);
        *data = src;
        return AM_OK;
    }
    /* Deflate cannot expand more than ~1032:1; a larger claim is a lie (or a bomb). */
    if (e->size / 1032 > e->comp_size + 1 || e->size > (uint64_t)SIZE_MAX - 1)
        return am__error(AM_ERR_FORMAT, "%s: zip entry '%s': uncompressed size %llu is impossible for %llu compressed bytes",
                         z->origin, e->name, (unsigned long long)e->size, (unsigned long long)e->comp_size);
    uint8_t *dst = malloc(e->size ? (size_t)e->size : 1);
    if (!dst)
        return am__error(AM_ERR_NO_MEMORY, "%s: zip entry '%s': cannot allocate %llu bytes", z->origin, e->name,
                         (unsigned long long)e->size);
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK) {
        free(dst);
        return am__error(AM_ERR_INTERNAL, "%s: zlib init failed", z->origin);
    }
    uint64_t in_left = e->comp_size, out_left = e->size;
    const uint8_t *in = src;
    uint8_t *outp = dst;
    int rc = Z_OK;
    while (rc == Z_OK) {
        uInt ci = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
        uInt co = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;
        s.next_in = (Bytef *)in;
        s.avail_in = ci;
        s.next_out = outp;
        s.avail_out = co;
        rc = inflate(&s, Z_NO_FLUSH);
        in += ci - s.avail_in;
        in_left -= ci - s.avail_in;
        outp += co - s.avail_out;
        out_left -= co - s.avail_out;
        if (rc == Z_BUF_ERROR && (in_left == 0 || out_left == 0)) break;
        if (rc == Z_OK && ci == s.avail_in && co == s.avail_out) break; /* no progress */
    }
    inflateEnd(&s);
    if (rc != Z_STREAM_END || out_left != 0) {
        free(dst);
        return am__error(AM_ERR_FORMAT, "%s: zip entry '%s': corrupt deflate data (%s)", z->origin, e->name,
                         rc == Z_STREAM_END ? "shorter than its declared size" : "stream error or truncated");
    }
    if (crc_of(dst, e->size) != e->crc32) {
        free(dst);
        return am__error(AM_ERR_FORMAT, "%s: zip entry '%s': CRC mismatch", z->origin, e->name);
    }
    *data = dst;
    *owned = dst;
    return AM_OK;
}

/* ---- writer ---- */

typedef struct {
    char *name;
    uint64_t offset, size;
    uint32_t crc;
} wentry;

struct am__zip_writer {
    FILE *f;
    char *origin;
    size_t align;
    bool force64;
    uint64_t pos;
    wentry *e;
    size_t n, cap;
};

static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)v), wr16(p + 2, (uint16_t)(v >> 16)); }
static void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v), wr32(p + 4, (uint32_t)(v >> 32)); }

static am_status wwrite(am__zip_writer *w, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, w->f) != n) return am__error(AM_ERR_IO, "%s: write failed", w->origin);
    w->pos += n;
    return AM_OK;
}

am__zip_writer *am__zip_writer_new(FILE *f, const char *origin, size_t align, bool force_zip64) {
    am__zip_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->origin = strdup(origin ? origin : "<zip>"))) {
        free(w);
        am__error(AM_ERR_NO_MEMORY, "zip writer: out of memory");
        return NULL;
    }
    w->f = f;
    w->align = align ? align : 1;
    w->force64 = force_zip64;
    return w;
}

void am__zip_writer_free(am__zip_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->e[i].name);
    free(w->e);
    free(w->origin);
    free(w);
}

am_status am__zip_writer_add(am__zip_writer *w, const char *name, const void *const *chunks, const size_t *chunk_lens,
                             size_t n) {
    size_t nlen = strlen(name);
    if (nlen > 0xFFFF) return am__error(AM_ERR_INVALID_ARGUMENT, "%s: zip entry name too long", w->origin);
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 16;
        wentry *ne = realloc(w->e, nc * sizeof *ne);
        if (!ne) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", w->origin);
        w->e = ne;
        w->cap = nc;
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    uint64_t size = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = chunks[i];
        size_t left = chunk_lens[i];
        size += left;
        while (left) {
            uInt k = left > (1u << 30) ? (1u << 30) : (uInt)left;
            crc = crc32(crc, p, k);
            p += k;
            left -= k;
        }
    }
    bool z64 = w->force64 || size >= 0xFFFFFFFFu || w->pos >= 0xFFFFFFFFu;
    uint8_t h[30 + 20];
    uint64_t base = w->pos + 30 + nlen + (z64 ? 20 : 0);
    size_t pad = (w->align - (size_t)((base + 4) % w->align)) % w->align;
    wr32(h, SIG_LOCAL);
    wr16(h + 4, z64 ? 45 : 20);
    wr16(h + 6, 0x0800); /* names are UTF-8 */
    wr16(h + 8, 0);      /* stored */
    wr16(h + 10, 0);
    wr16(h + 12, 0x21); /* 1980-01-01, a fixed date keeps outputs reproducible */
    wr32(h + 14, (uint32_t)crc);
    wr32(h + 18, z64 ? 0xFFFFFFFFu : (uint32_t)size);
    wr32(h + 22, z64 ? 0xFFFFFFFFu : (uint32_t)size);
    wr16(h + 26, (uint16_t)nlen);
    wr16(h + 28, (uint16_t)((z64 ? 20 : 0) + 4 + pad));
    wentry *en = &w->e[w->n];
    en->offset = w->pos;
    en->size = size;
    en->crc = (uint32_t)crc;
    if (!(en->name = strdup(name))) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", w->origin);
    w->n++;
    am_status st;
    if ((st = wwrite(w, h, 30)) || (st = wwrite(w, name, nlen))) return st;
    if (z64) {
        uint8_t x[20];
        wr16(x, 1);
        wr16(x + 2, 16);
        wr64(x + 4, size);
        wr64(x + 12, size);
        if ((st = wwrite(w, x, 20))) return st;
    }
    /* PyTorch's "FB" extra field: padding so that the data starts on an aligned offset. */
    uint8_t fb[4];
    wr16(fb, 0x4246);
    wr16(fb + 2, (uint16_t)pad);
    if ((st = wwrite(w, fb, 4))) return st;
    static const char zz[64] = "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ";
    for (size_t left = pad; left;) {
        size_t k = left > sizeof zz ? sizeof zz : left;
        if ((st = wwrite(w, zz, k))) return st;
        left -= k;
    }
    for (size_t i = 0; i < n; i++)
        if ((st = wwrite(w, chunks[i], chunk_lens[i]))) return st;
    return AM_OK;
}

am_status am__zip_writer_finish(am__zip_writer *w) {
    am_status st;
    uint64_t cd_off = w->pos;
    bool any64 = w->force64;
    for (size_t i = 0; i < w->n; i++) {
        const wentry *en = &w->e[i];
        size_t nlen = strlen(en->name);
        bool big_size = w->force64 || en->size >= 0xFFFFFFFFu;
        bool big_off = w->force64 || en->offset >= 0xFFFFFFFFu;
        size_t x64 = (big_size ? 16 : 0) + (big_off ? 8 : 0);
        bool z64 = x64 > 0;
        any64 |= z64;
        uint8_t c[46];
        wr32(c, SIG_CENTRAL);
        wr16(c + 4, (3 << 8) | (z64 ? 45 : 20)); /* made by unix */
        wr16(c + 6, z64 ? 45 : 20);
        wr16(c + 8, 0x0800);
        wr16(c + 10, 0);
        wr16(c + 12, 0);
        wr16(c + 14, 0x21);
        wr32(c + 16, en->crc);
        wr32(c + 20, big_size ? 0xFFFFFFFFu : (uint32_t)en->size);
        wr32(c + 24, big_size ? 0xFFFFFFFFu : (uint32_t)en->size);
        wr16(c + 28, (uint16_t)nlen);
        wr16(c + 30, (uint16_t)(z64 ? 4 + x64 : 0));
        wr16(c + 32, 0);
        wr16(c + 34, 0);
        wr16(c + 36, 0);
        wr32(c + 38, 0100644u << 16);
        wr32(c + 42, big_off ? 0xFFFFFFFFu : (uint32_t)en->offset);
        if ((st = wwrite(w, c, 46)) || (st = wwrite(w, en->name, nlen))) return st;
        if (z64) {
            uint8_t x[28];
            size_t k = 4;
            wr16(x, 1);
            wr16(x + 2, (uint16_t)x64);
            if (big_size) wr64(x + k, en->size), wr64(x + k + 8, en->size), k += 16;
            if (big_off) wr64(x + k, en->offset), k += 8;
            if ((st = wwrite(w, x, k))) return st;
        }
    }
    uint64_t cd_size = w->pos - cd_off;
    any64 |= w->n >= 0xFFFF || cd_off >= 0xFFFFFFFFu || cd_size >= 0xFFFFFFFFu;
    if (any64) {
        uint64_t z64off = w->pos;
        uint8_t r[56 + 20];
        wr32(r, SIG_EOCD64);
        wr64(r + 4, 44);
        wr16(r + 12, (3 << 8) | 45);
        wr16(r + 14, 45);
        wr32(r + 16, 0);
        wr32(r + 20, 0);
        wr64(r + 24, w->n);
        wr64(r + 32, w->n);
        wr64(r + 40, cd_size);
        wr64(r + 48, cd_off);
        wr32(r + 56, SIG_LOCATOR64);
        wr32(r + 60, 0);
        wr64(r + 64, z64off);
        wr32(r + 72, 1);
        if ((st = wwrite(w, r, sizeof r))) return st;
    }
    uint8_t e[22];
    bool s = w->force64;
    wr32(e, SIG_EOCD);
    wr16(e + 4, 0);
    wr16(e + 6, 0);
    wr16(e + 8, (s || w->n >= 0xFFFF) ? 0xFFFF : (uint16_t)w->n);
    wr16(e + 10, (s || w->n >= 0xFFFF) ? 0xFFFF : (uint16_t)w->n);
    wr32(e + 12, (s || cd_size >= 0xFFFFFFFFu) ? 0xFFFFFFFFu : (uint32_t)cd_size);
    wr32(e + 16, (s || cd_off >= 0xFFFFFFFFu) ? 0xFFFFFFFFu : (uint32_t)cd_off);
    wr16(e + 20, 0);
    return wwrite(w, e, 22);
}
