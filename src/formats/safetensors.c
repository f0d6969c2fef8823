/* formats/safetensors.c — reading (validated, mapped) and writing safetensors files. */
#include "formats/safetensors.h"
#include "core/error.h"
#include "core/util.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ST_MAX_HEADER (100u * 1024u * 1024u) /* the Rust library's limit */

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
    if (hlen > ST_MAX_HEADER) return am__error(AM_ERR_FORMAT, "%s: header length %llu exceeds the 100 MB limit", path, (unsigned long long)hlen);
    if (hlen < 2) return am__error(AM_ERR_FORMAT, "%s: header of %llu bytes cannot hold a JSON object", path, (unsigned long long)hlen);
    const char *end_ptr = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)buf + 8, (size_t)hlen, &end_ptr, false);
    if (!root) return am__error(AM_ERR_FORMAT, "%s: header is not valid JSON (near byte %td)", path, end_ptr ? end_ptr - (const char *)buf : (ptrdiff_t)-1);
    /* what follows the JSON must be padding spaces */
    for (const char *p = end_ptr; p && p < (const char *)buf + 8 + hlen; p++)
        if (*p != ' ' && *p != '\0' && *p != '\n' && *p != '\t' && *p != '\r') {
            cJSON_Delete(root);
            return am__error(AM_ERR_FORMAT, "%s: trailing bytes after the header JSON", path);
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
        for (size_t j = 0; j < out->n; j++)
            if (!strcmp(out->entries[j].name, name)) {
                st = am__error(AM_ERR_FORMAT, "%s: tensor '%s' appears twice", path, name);
                break;
            }
        if (st != AM_OK) break;
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
    if (st == AM_OK && out->n > 1) {
        am__st_entry **sorted = malloc(out->n * sizeof *sorted);
        if (!sorted) st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
        else {
            for (size_t i = 0; i < out->n; i++) sorted[i] = &out->entries[i];
            qsort(sorted, out->n, sizeof *sorted, cmp_begin);
            for (size_t i = 1; i < out->n; i++)
                if (sorted[i]->begin < sorted[i - 1]->end && sorted[i]->end > sorted[i]->begin) {
                    st = am__error(AM_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap in the data section", path, sorted[i - 1]->name, sorted[i]->name);
                    break;
                }
            free(sorted);
        }
    }
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
