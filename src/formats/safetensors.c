/* formats/safetensors.c — reading (validated, mapped) and writing safetensors files. */
#include "formats/safetensors.h"
#include "core/error.h"
#include "core/json.h"
#include "core/util.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ST_MAX_HEADER 100000000u /* the Rust library's MAX_HEADER_SIZE: 100,000,000 bytes, not 100 MiB */

static bool st_dtype(const char *s, am_dtype *out) {
    static const struct {
        const char *n;
        am_dtype d;
    } k[] = {{"F32", AM_F32}, {"F16", AM_F16}, {"BF16", AM_BF16}, {"F64", AM_F64}, {"I64", AM_I64},
             {"I32", AM_I32}, {"I16", AM_I16}, {"I8", AM_I8},     {"U8", AM_U8},   {"BOOL", AM_BOOL}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!strcmp(s, k[i].n)) {
            *out = k[i].d;
            return true;
        }
    return false;
}

static void st_free_entries(am__st_file *f) {
    for (size_t i = 0; i < f->n; i++) free(f->entries[i].name);
    free(f->entries);
    f->entries = NULL;
    f->n = 0;
    free(f->format);
    f->format = NULL;
}

static int cmp_begin(const void *a, const void *b) {
    const am__st_entry *x = *(const am__st_entry *const *)a, *y = *(const am__st_entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end < y->end ? -1 : x->end > y->end);
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const am__st_entry *const *)a)->name, (*(const am__st_entry *const *)b)->name);
}

/* serde_json refuses 32.0 or 3e1 where the reference library wants an integer (shape, data_offsets),
 * but cJSON reads them as the same double as 32: find such a literal in the raw header text, which
 * has parsed already. Those arrays sit at depth 3 (root object, tensor entry, array). On a find,
 * *tensor / *field point at the raw text of the enclosing keys (with their lengths). */
static size_t st_float_literal_at(const char *s, size_t n, const char **tensor, int *tlen, const char **field, int *flen) {
    int depth = 0;
    bool in_array3 = false;
    const char *key[3] = {"", "", ""};
    int klen[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            size_t b = ++i;
            while (i < n && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
            size_t j = i + 1;
            while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r')) j++;
            if (j < n && s[j] == ':' && depth >= 1 && depth <= 2) {
                key[depth] = s + b;
                klen[depth] = (int)(i - b);
            }
        } else if (c == '{' || c == '[') {
            if (++depth == 3) in_array3 = c == '[';
        } else if (c == '}' || c == ']') depth--;
        else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i;
            bool integral = true;
            for (; j < n && strchr("+-0123456789.eE", s[j]) && s[j]; j++)
                if (s[j] == '.' || s[j] == 'e' || s[j] == 'E') integral = false;
            if (!integral && depth == 3 && in_array3) {
                *tensor = key[1], *tlen = klen[1], *field = key[2], *flen = klen[2];
                return i;
            }
            i = j - 1;
        }
    }
    return SIZE_MAX;
}

static bool json_u64(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (d < 0 || d > 9007199254740992.0 || d != (double)(uint64_t)d) return false;
    *out = (uint64_t)d;
    return true;
}

am_status am__st_parse(const uint8_t *buf, size_t len, const char *path, am__st_file *out) {
    memset(out, 0, sizeof *out);
    if (len < 8) return am__error(AM_ERR_FORMAT, "%s: not a safetensors file: %zu bytes, too short for the 8-byte header length", path, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > len - 8)
        return am__error(AM_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", path, (unsigned long long)hlen, len);
    if (hlen > ST_MAX_HEADER) return am__error(AM_ERR_FORMAT, "%s: header length %llu exceeds the limit of 100,000,000 bytes", path, (unsigned long long)hlen);
    if (hlen < 2) return am__error(AM_ERR_FORMAT, "%s: header of %llu bytes cannot hold a JSON object", path, (unsigned long long)hlen);
    /* the reference reads the header as UTF-8 JSON text (serde_json): padding after the object
     * may only be whitespace; NUL characters (raw or \u0000) are refused */
    cJSON *root = NULL;
    char origin[600];
    snprintf(origin, sizeof origin, "%s: header", path);
    am_status pst = am__json_parse((const char *)buf + 8, (size_t)hlen, origin, &root);
    if (pst != AM_OK) return pst;
    const char *tn = "", *fn = "";
    int tl = 0, fl = 0;
    size_t fat = st_float_literal_at((const char *)buf + 8, (size_t)hlen, &tn, &tl, &fn, &fl);
    if (fat != SIZE_MAX) {
        cJSON_Delete(root);
        size_t nl = strcspn((const char *)buf + 8 + fat, ",] \t\r\n");
        return am__error(AM_ERR_FORMAT, "%s: tensor '%.*s': \"%.*s\" holds %.*s, which is not an integer", path, tl, tn, fl, fn,
                         (int)(nl < 40 ? nl : 40), (const char *)buf + 8 + fat);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return am__error(AM_ERR_FORMAT, "%s: header is not a JSON object", path);
    }
    out->data = buf + 8 + hlen;
    out->data_len = len - 8 - hlen;
    size_t count = 0;
    for (cJSON *it = root->child; it; it = it->next) count++;
    out->entries = calloc(count ? count : 1, sizeof *out->entries);
    if (!out->entries) {
        cJSON_Delete(root);
        return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    am_status st = AM_OK;
    for (cJSON *it = root->child; it && st == AM_OK; it = it->next) {
        const char *name = it->string ? it->string : "";
        if (!strcmp(name, "__metadata__")) {
            if (!cJSON_IsObject(it)) {
                st = am__error(AM_ERR_FORMAT, "%s: __metadata__ is not an object", path);
                break;
            }
            for (cJSON *m = it->child; m; m = m->next)
                if (!cJSON_IsString(m)) {
                    st = am__error(AM_ERR_FORMAT, "%s: __metadata__ value '%s' is not a string", path, m->string ? m->string : "");
                    break;
                }
            cJSON *fmt = cJSON_GetObjectItemCaseSensitive(it, "format");
            if (st == AM_OK && cJSON_IsString(fmt) && !(out->format = am__strdup(fmt->valuestring)))
                st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
            continue;
        }
        if (!cJSON_IsObject(it)) {
            st = am__error(AM_ERR_FORMAT, "%s: tensor '%s': entry is not an object", path, name);
            break;
        }
        /* the text was valid UTF-8 without \u0000; an escaped lone surrogate is the one way left
         * to make a name that is not (Rust's String cannot hold one) */
        size_t bad = am__utf8_invalid_at(name, strlen(name));
        if (bad != SIZE_MAX) {
            st = am__error(AM_ERR_FORMAT, "%s: tensor name '%s' is not valid UTF-8 (byte %zu)", path, name, bad);
            break;
        }
        am__st_entry *e = &out->entries[out->n];
        cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        cJSON *shape = cJSON_GetObjectItemCaseSensitive(it, "shape");
        cJSON *offs = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsString(dt)) {
            st = am__error(AM_ERR_FORMAT, "%s: tensor '%s': \"dtype\" missing or not a string", path, name);
            break;
        }
        if (!st_dtype(dt->valuestring, &e->dtype)) {
            st = am__error(AM_ERR_FORMAT, "%s: tensor '%s': unknown dtype \"%s\"", path, name, dt->valuestring);
            break;
        }
        if (!cJSON_IsArray(shape)) {
            st = am__error(AM_ERR_FORMAT, "%s: tensor '%s': \"shape\" missing or not a list", path, name);
            break;
        }
        int nd = cJSON_GetArraySize(shape);
        if (nd > AM_MAX_DIMS) {
            st = am__error(AM_ERR_FORMAT, "%s: tensor '%s': %d dimensions (at most %d supported)", path, name, nd, AM_MAX_DIMS);
            break;
        }
        e->ndim = nd;
        uint64_t numel = 1;
        bool overflow = false;
        for (int d = 0; d < nd; d++) {
            uint64_t v;
            if (!json_u64(cJSON_GetArrayItem(shape, d), &v)) {
                st = am__error(AM_ERR_FORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer", path, name, d);
                break;
            }
            e->shape[d] = (int64_t)v;
            if (v && numel > UINT64_MAX / v) overflow = true;
            numel *= v;
        }
        if (st != AM_OK) break;
        if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_u64(cJSON_GetArrayItem(offs, 0), &e->begin) ||
            !json_u64(cJSON_GetArrayItem(offs, 1), &e->end)) {
            st = am__error(AM_ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" must be [begin, end] integers", path, name);
            break;
        }
        if (e->begin > e->end) {
            st = am__error(AM_ERR_FORMAT, "%s: tensor '%s': data_offsets begin %llu > end %llu", path, name, (unsigned long long)e->begin,
                           (unsigned long long)e->end);
            break;
        }
        uint64_t need = numel * am_dtype_size(e->dtype);
        if (overflow || (numel && need / numel != am_dtype_size(e->dtype)) || need != e->end - e->begin) {
            char sb[160];
            st = am__error(AM_ERR_FORMAT, "%s: tensor '%s': shape %s x %s needs %llu bytes but data_offsets cover %llu", path, name,
                           am__shape_str(e->ndim, e->shape, sb, sizeof sb), am_dtype_st_name(e->dtype), (unsigned long long)need,
                           (unsigned long long)(e->end - e->begin));
            break;
        }
        if (e->end > out->data_len) {
            st = am__error(AM_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] outside the data section (%llu bytes)", path, name,
                           (unsigned long long)e->begin, (unsigned long long)e->end, (unsigned long long)out->data_len);
            break;
        }
        e->name = am__strdup(name);
        if (!e->name) {
            st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
            break;
        }
        out->n++;
    }
    cJSON_Delete(root);
    am__st_entry **sorted = st == AM_OK ? malloc((out->n ? out->n : 1) * sizeof *sorted) : NULL;
    if (st == AM_OK && !sorted) st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
    if (st == AM_OK) {
        /* names once each: sorted, so n log n (a 100k-entry header must not take n^2 strcmp) */
        for (size_t i = 0; i < out->n; i++) sorted[i] = &out->entries[i];
        qsort(sorted, out->n, sizeof *sorted, cmp_name);
        for (size_t i = 1; i < out->n && st == AM_OK; i++)
            if (!strcmp(sorted[i]->name, sorted[i - 1]->name))
                st = am__error(AM_ERR_FORMAT, "%s: tensor '%s' appears twice", path, sorted[i]->name);
    }
    if (st == AM_OK) {
        /* as the reference validates: in offset order, each tensor starts where the previous one
         * ended, from 0, and the last one ends where the file does (no gap, no overlap, no
         * trailing bytes) */
        qsort(sorted, out->n, sizeof *sorted, cmp_begin);
        uint64_t at = 0;
        for (size_t i = 0; i < out->n && st == AM_OK; i++) {
            const am__st_entry *e = sorted[i];
            if (e->begin < at)
                st = am__error(AM_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap in the data section", path, sorted[i - 1]->name, e->name);
            else if (e->begin > at)
                st = am__error(AM_ERR_FORMAT, "%s: tensor '%s': a gap of %llu bytes before its data_offsets [%llu, %llu] (tensors must cover the data section contiguously)",
                               path, e->name, (unsigned long long)(e->begin - at), (unsigned long long)e->begin, (unsigned long long)e->end);
            at = e->end;
        }
        if (st == AM_OK && at != out->data_len)
            st = am__error(AM_ERR_FORMAT, "%s: %llu trailing bytes after the last tensor (data section of %llu bytes, tensors end at %llu)", path,
                           (unsigned long long)(out->data_len - at), (unsigned long long)out->data_len, (unsigned long long)at);
    }
    free(sorted);
    if (st != AM_OK) st_free_entries(out);
    return st;
}

am__st_file *am__st_open(const char *path) {
    am__mapping *m = am__mapping_open(path);
    if (!m) return NULL;
    am__st_file *f = calloc(1, sizeof *f);
    if (!f) {
        am__mapping_release(m);
        am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
        return NULL;
    }
    if (am__st_parse(m->addr, m->len, path, f) != AM_OK) {
        am__mapping_release(m);
        free(f);
        return NULL;
    }
    f->map = m;
    f->path = am__strdup(path);
    return f;
}

void am__st_close(am__st_file *f) {
    if (!f) return;
    st_free_entries(f);
    am__mapping_release(f->map);
    free(f->path);
    free(f);
}

am_status am__st_check_format(const am__st_file *f) {
    const char *p = f->path ? f->path : "safetensors";
    if (!f->format)
        return am__error(AM_ERR_FORMAT,
                         "%s: the safetensors archive passed does not contain metadata (missing __metadata__.format). Make sure "
                         "you save your model with the `save_pretrained` method.",
                         p);
    if (strcmp(f->format, "pt") && strcmp(f->format, "tf") && strcmp(f->format, "flax"))
        return am__error(AM_ERR_FORMAT, "%s: incompatible safetensors metadata format \"%s\" (expected pt, tf or flax)", p, f->format);
    return AM_OK;
}

const am__st_entry *am__st_find(const am__st_file *f, const char *name) {
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->entries[i].name, name)) return &f->entries[i];
    return NULL;
}

am_tensor *am__st_tensor(const am__st_file *f, size_t i) {
    const am__st_entry *e = &f->entries[i];
    if (f->map) return am__tensor_view_mapping(f->map, f->data + e->begin, e->dtype, e->ndim, e->shape);
    return am_tensor_from_data(e->dtype, e->ndim, e->shape, f->data + e->begin);
}

/* ---- public helpers over named tensor lists ---- */

am_tensors *am_tensors_load_safetensors(const char *path) {
    am__st_file *f = am__st_open(path);
    if (!f) return NULL;
    am_tensors *ts = am_tensors_new();
    for (size_t i = 0; ts && i < f->n; i++) {
        am_tensor *t = am_tensor_from_data(f->entries[i].dtype, f->entries[i].ndim, f->entries[i].shape, f->data + f->entries[i].begin);
        if (!t || am_tensors_set(ts, f->entries[i].name, t) != AM_OK) {
            am_tensor_free(t);
            am_tensors_free(ts);
            ts = NULL;
            break;
        }
        am_tensor_free(t);
    }
    am__st_close(f);
    return ts;
}

/* ---- writing ---- */

typedef struct {
    const char *name;
    am_tensor *t;
} st_item;

static int cmp_item(const void *a, const void *b) { return strcmp(((const st_item *)a)->name, ((const st_item *)b)->name); }

static void json_escape(am__buf *b, const char *s) {
    am__buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            am__buf_put(b, e, 2);
        } else if (*p < 0x20) am__buf_printf(b, "\\u%04x", *p);
        else am__buf_put(b, p, 1);
    }
    am__buf_puts(b, "\"");
}

am_status am__st_write(const char *path, size_t n, const char *const *names, am_tensor *const *tensors) {
    st_item *items = malloc((n ? n : 1) * sizeof *items);
    if (!items) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) {
        items[i].name = names[i];
        items[i].t = tensors[i];
        if (!am__tensor_is_contiguous(tensors[i])) {
            free(items);
            return am__error(AM_ERR_INVALID_ARGUMENT, "%s: tensor '%s' is not contiguous", path, names[i]);
        }
    }
    qsort(items, n, sizeof *items, cmp_item);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(items[i].name, items[i - 1].name)) {
            am_status s = am__error(AM_ERR_INVALID_ARGUMENT, "%s: tensor name '%s' given twice", path, items[i].name);
            free(items);
            return s;
        }
    am__buf h = {0};
    am__buf_puts(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        am_tensor *t = items[i].t;
        am__buf_puts(&h, ",");
        json_escape(&h, items[i].name);
        am__buf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", am_dtype_st_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) am__buf_printf(&h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        uint64_t nb = am_tensor_nbytes(t);
        am__buf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + nb));
        off += nb;
    }
    am__buf_puts(&h, "}");
    while (!h.failed && h.len % 8) am__buf_puts(&h, " ");
    if (h.failed) {
        am__buf_free(&h);
        free(items);
        return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    size_t tl = strlen(path) + 32;
    char *tmp = malloc(tl);
    if (!tmp) {
        am__buf_free(&h);
        free(items);
        return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    snprintf(tmp, tl, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    am_status st = AM_OK;
    if (!f) st = am__error(AM_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    else {
        uint8_t lenb[8];
        uint64_t hl = h.len;
        for (int i = 0; i < 8; i++) lenb[i] = (uint8_t)(hl >> (8 * i));
        bool ok = fwrite(lenb, 1, 8, f) == 8 && fwrite(h.data, 1, h.len, f) == h.len;
        for (size_t i = 0; ok && i < n; i++) {
            size_t nb = am_tensor_nbytes(items[i].t);
            ok = nb == 0 || fwrite(items[i].t->data, 1, nb, f) == nb;
        }
        ok = fflush(f) == 0 && ok;
        ok = fclose(f) == 0 && ok;
        if (!ok || rename(tmp, path) != 0) {
            st = am__error(AM_ERR_IO, "%s: write failed: %s", path, strerror(errno));
            unlink(tmp);
        }
    }
    free(tmp);
    am__buf_free(&h);
    free(items);
    return st;
}

am_status am_tensors_save_safetensors(const am_tensors *ts, const char *path) {
    size_t n = am_tensors_count(ts);
    const char **names = malloc((n ? n : 1) * sizeof *names);
    am_tensor **tens = malloc((n ? n : 1) * sizeof *tens);
    if (!names || !tens) {
        free(names);
        free(tens);
        return am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        names[i] = am_tensors_name(ts, i);
        tens[i] = am_tensors_at(ts, i);
    }
    am_status s = am__st_write(path, n, names, tens);
    free(names);
    free(tens);
    return s;
}
