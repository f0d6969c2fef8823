/* formats/shard_index.c — index files of sharded checkpoints (read and written) and
 * transformers' sharding rule. An index is untrusted: its shard names must not leave the folder. */
#include "formats/shard_index.h"
#include "core/error.h"
#include "core/json.h"
#include "core/util.h"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void am__shard_index_free(am__shard_index *idx) {
    if (!idx) return;
    for (size_t i = 0; i < idx->n; i++) free(idx->names[i]);
    for (size_t i = 0; i < idx->n_shards; i++) free(idx->shards[i]);
    free(idx->names);
    free(idx->files);
    free(idx->shards);
    free(idx->dir);
    free(idx->sorted);
    free(idx);
}

static bool plain_file_name(const char *s) {
    if (!s[0] || !strcmp(s, ".") || !strcmp(s, "..")) return false;
    for (const char *p = s; *p; p++)
        if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20) return false;
    return true;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
/* entries are pointers to name slots: sorting them yields the sorted order as slot indices */
static int cmp_slot(const void *a, const void *b) { return strcmp(**(char ***const)a, **(char ***const)b); }

am_status am__shard_index_parse(const char *json, size_t len, const char *origin, am__shard_index **out) {
    *out = NULL;
    if (!origin) origin = "<index>";
    cJSON *root = NULL;
    am_status pst = am__json_parse(json, len, origin, &root);
    if (pst != AM_OK) return pst;
    am_status st = AM_OK;
    am__shard_index *idx = calloc(1, sizeof *idx);
    char ***sorted = NULL;
    if (!idx || !(idx->dir = am__strdup(""))) {
        st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
        goto done;
    }
    idx->total_size = -1;
    if (!cJSON_IsObject(root)) {
        st = am__error(AM_ERR_FORMAT, "%s: the index is not a JSON object", origin);
        goto done;
    }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (!cJSON_IsObject(meta)) {
        st = am__error(AM_ERR_FORMAT, "%s: \"metadata\" is %s, expected an object", origin, meta ? "not an object" : "missing");
        goto done;
    }
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(meta, "total_size");
    if (ts) {
        double v = ts->valuedouble;
        if (!cJSON_IsNumber(ts) || v < 0 || v != floor(v) || v >= 9.2e18) {
            st = am__error(AM_ERR_FORMAT, "%s: \"metadata.total_size\" must be a non-negative integer", origin);
            goto done;
        }
        idx->total_size = (int64_t)v;
    }
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        st = am__error(AM_ERR_FORMAT, "%s: \"weight_map\" is %s, expected an object", origin, wm ? "not an object" : "missing");
        goto done;
    }
    size_t n = (size_t)cJSON_GetArraySize(wm);
    if (!(idx->names = calloc(n ? n : 1, sizeof *idx->names)) || !(idx->files = calloc(n ? n : 1, sizeof *idx->files)) ||
        !(idx->shards = calloc(n ? n : 1, sizeof *idx->shards)) || !(sorted = calloc(n ? n : 1, sizeof *sorted))) {
        st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
        goto done;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, wm) {
        if (!cJSON_IsString(it) || !it->valuestring) {
            st = am__error(AM_ERR_FORMAT, "%s: weight_map[\"%s\"] is not a string", origin, it->string ? it->string : "");
            goto done;
        }
        if (!plain_file_name(it->valuestring)) {
            st = am__error(AM_ERR_FORMAT,
                           "%s: weight_map[\"%s\"] = \"%s\" is not a plain file name in the checkpoint's folder", origin,
                           it->string ? it->string : "", it->valuestring);
            goto done;
        }
        if (!it->string || !(idx->names[idx->n] = am__strdup(it->string))) {
            st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
            goto done;
        }
        const char *file = NULL;
        /* shards are few and usually consecutive: check the last one first */
        for (size_t s = idx->n_shards; s-- > 0 && !file;)
            if (!strcmp(idx->shards[s], it->valuestring)) file = idx->shards[s];
        if (!file) {
            if (!(idx->shards[idx->n_shards] = am__strdup(it->valuestring))) {
                st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
                goto done;
            }
            file = idx->shards[idx->n_shards++];
        }
        idx->files[idx->n] = file;
        idx->n++;
    }
    /* transformers reads shards in sorted order; files[] keeps pointing at the same strings */
    qsort(idx->shards, idx->n_shards, sizeof *idx->shards, cmp_str);
    for (size_t i = 0; i < idx->n; i++) sorted[i] = &idx->names[i]; /* sort pointers to the slots */
    qsort(sorted, idx->n, sizeof *sorted, cmp_slot);
    for (size_t i = 1; i < idx->n; i++)
        if (!strcmp(*sorted[i - 1], *sorted[i])) {
            st = am__error(AM_ERR_FORMAT, "%s: weight_map lists \"%s\" twice", origin, *sorted[i]);
            goto done;
        }
    if (!(idx->sorted = malloc((idx->n ? idx->n : 1) * sizeof *idx->sorted))) {
        st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
        goto done;
    }
    for (size_t i = 0; i < idx->n; i++) idx->sorted[i] = (size_t)(sorted[i] - idx->names);
done:
    free(sorted);
    cJSON_Delete(root);
    if (st != AM_OK) {
        am__shard_index_free(idx);
        return st;
    }
    *out = idx;
    return AM_OK;
}

char *am__shard_index_path(const am__shard_index *idx, size_t i) {
    if (i >= idx->n_shards) return NULL;
    if (!idx->dir[0]) return am__strdup(idx->shards[i]);
    return am__path_join(idx->dir, idx->shards[i]);
}

am_status am__shard_index_load(const char *index_path, am__shard_index **out) {
    *out = NULL;
    char *text;
    size_t len;
    am_status st = am__read_file(index_path, &text, &len);
    if (st != AM_OK) return st;
    am__shard_index *idx;
    st = am__shard_index_parse(text, len, index_path, &idx);
    free(text);
    if (st != AM_OK) return st;
    const char *slash = strrchr(index_path, '/');
    free(idx->dir);
    idx->dir = slash ? strndup(index_path, (size_t)(slash - index_path) + (slash == index_path)) : am__strdup(".");
    if (!idx->dir) {
        am__shard_index_free(idx);
        return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", index_path);
    }
    for (size_t i = 0; i < idx->n_shards; i++) {
        char *p = am__shard_index_path(idx, i);
        bool ok = p && am__is_file(p);
        free(p);
        if (!ok) {
            st = am__error(AM_ERR_NOT_FOUND, "%s: shard file '%s' listed in the index does not exist", index_path,
                           idx->shards[i]);
            am__shard_index_free(idx);
            return st;
        }
    }
    *out = idx;
    return AM_OK;
}

const char *am__shard_index_file_of(const am__shard_index *idx, const char *name) {
    size_t lo = 0, hi = idx->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(idx->names[idx->sorted[mid]], name);
        if (c == 0) return idx->files[idx->sorted[mid]];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

am_status am__shard_index_check_shard(const am__shard_index *idx, size_t shard, const char *const *names, size_t n,
                                      const char *index_origin) {
    if (shard >= idx->n_shards) return am__error(AM_ERR_INVALID_ARGUMENT, "shard index %zu out of range", shard);
    const char *file = idx->shards[shard];
    if (!index_origin) index_origin = "the index";
    const char **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", file);
    for (size_t i = 0; i < n; i++) {
        const char *f = am__shard_index_file_of(idx, names[i]);
        if (!f || strcmp(f, file)) {
            am_status st = f ? am__error(AM_ERR_FORMAT, "%s: holds tensor '%s', which %s assigns to %s", file, names[i],
                                         index_origin, f)
                             : am__error(AM_ERR_FORMAT, "%s: holds tensor '%s', which %s does not list", file, names[i],
                                         index_origin);
            free(sorted);
            return st;
        }
        sorted[i] = names[i];
    }
    qsort(sorted, n, sizeof *sorted, cmp_str);
    for (size_t i = 0; i < idx->n; i++) {
        if (strcmp(idx->files[i], file)) continue;
        const char *key = idx->names[i];
        if (!bsearch(&key, sorted, n, sizeof *sorted, cmp_str)) {
            free(sorted);
            return am__error(AM_ERR_FORMAT, "%s: tensor '%s' is listed in %s for this shard but the file does not hold it",
                             file, key, index_origin);
        }
    }
    free(sorted);
    return AM_OK;
}

/* ---- writing ---- */

static bool ends_with_ci(const char *s, size_t n, const char *suf) {
    size_t k = strlen(suf);
    return n >= k && !strncasecmp(s + n - k, suf, k);
}

am_status am__parse_shard_size(const char *s, uint64_t *out) {
    if (!s) return am__error(AM_ERR_INVALID_ARGUMENT, "max_shard_size: missing");
    /* Python's int() accepts surrounding whitespace; so do we */
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    static const struct {
        const char *suf;
        uint64_t mult;
        bool bits_ok;
    } units[] = {{"GIB", 1ull << 30, false}, {"MIB", 1ull << 20, false}, {"KIB", 1ull << 10, false},
                 {"GB", 1000000000ull, true}, {"MB", 1000000ull, true},  {"KB", 1000ull, true},
                 {"", 1, false}};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        if (!ends_with_ci(s, n, units[u].suf)) continue;
        size_t dl = n - strlen(units[u].suf);
        while (dl && isspace((unsigned char)s[dl - 1])) dl--;
        if (dl == 0) break;
        uint64_t v = 0;
        for (size_t i = 0; i < dl; i++) {
            if (!isdigit((unsigned char)s[i]) || __builtin_mul_overflow(v, 10, &v) ||
                __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
                goto bad;
        }
        if (__builtin_mul_overflow(v, units[u].mult, &v)) goto bad;
        if (units[u].bits_ok && s[n - 1] == 'b') v /= 8;
        *out = v;
        return AM_OK;
    }
bad:
    return am__error(AM_ERR_INVALID_ARGUMENT,
                     "max_shard_size '%s' is not in a valid format: use an integer followed by the unit, e.g. '5GB'", s);
}

void am__shard_plan_free(am__shard_plan *p) {
    if (!p) return;
    free(p->shard_of);
    p->shard_of = NULL;
    p->n_shards = 0;
}

typedef struct {
    const void *id;
    size_t shard;
} id_slot;

am_status am__plan_shards(size_t n, const uint64_t *sizes, const void *const *storage_ids, uint64_t max_bytes,
                          am__shard_plan *out) {
    memset(out, 0, sizeof *out);
    out->shard_of = calloc(n ? n : 1, sizeof *out->shard_of);
    size_t cap = 16;
    while (cap < 2 * n + 2) cap *= 2;
    id_slot *seen = storage_ids ? calloc(cap, sizeof *seen) : NULL;
    if (!out->shard_of || (storage_ids && !seen)) {
        free(seen);
        am__shard_plan_free(out);
        return am__error(AM_ERR_NO_MEMORY, "shard plan: out of memory");
    }
    size_t cur = 0, in_cur = 0;
    uint64_t cur_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        id_slot *slot = NULL;
        if (storage_ids && storage_ids[i]) {
            size_t h = (size_t)(((uintptr_t)storage_ids[i] >> 4) * 0x9E3779B97F4A7C15ull) & (cap - 1);
            while (seen[h].id && seen[h].id != storage_ids[i]) h = (h + 1) & (cap - 1);
            slot = &seen[h];
            if (slot->id) { /* shares a storage already placed: same shard, not counted again */
                out->shard_of[i] = slot->shard;
                continue;
            }
        }
        if (cur_bytes + sizes[i] > max_bytes && in_cur > 0) {
            cur++;
            cur_bytes = 0;
            in_cur = 0;
        }
        out->shard_of[i] = cur;
        cur_bytes += sizes[i];
        in_cur++;
        out->total_size += sizes[i];
        if (slot) slot->id = storage_ids[i], slot->shard = cur;
    }
    out->n_shards = n ? cur + 1 : 1;
    free(seen);
    return AM_OK;
}

char *am__shard_file_name(const char *weights_name, size_t idx, size_t n_shards) {
    size_t n = strlen(weights_name);
    const char *ext = NULL;
    if (n >= 12 && !strcmp(weights_name + n - 12, ".safetensors")) ext = weights_name + n - 12;
    else if (n >= 4 && !strcmp(weights_name + n - 4, ".bin")) ext = weights_name + n - 4;
    else ext = weights_name + n;
    am__buf b = {0};
    am__buf_put(&b, weights_name, (size_t)(ext - weights_name));
    am__buf_printf(&b, "-%05zu-of-%05zu", idx + 1, n_shards);
    am__buf_puts(&b, ext);
    if (b.failed) {
        am__buf_free(&b);
        return NULL;
    }
    return am__buf_take(&b);
}

/* json.dumps(ensure_ascii=True) string escaping */
static void json_str(am__buf *b, const char *s) {
    am__buf_put(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c == '"') am__buf_puts(b, "\\\""), p++;
        else if (c == '\\') am__buf_puts(b, "\\\\"), p++;
        else if (c == '\n') am__buf_puts(b, "\\n"), p++;
        else if (c == '\r') am__buf_puts(b, "\\r"), p++;
        else if (c == '\t') am__buf_puts(b, "\\t"), p++;
        else if (c == '\b') am__buf_puts(b, "\\b"), p++;
        else if (c == '\f') am__buf_puts(b, "\\f"), p++;
        else if (c < 0x20) am__buf_printf(b, "\\u%04x", c), p++;
        else if (c < 0x80) am__buf_put(b, p++, 1);
        else { /* decode UTF-8; invalid bytes are written as U+FFFD */
            uint32_t cp = 0xFFFD;
            int k = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 0;
            int ok = k > 0;
            uint32_t v = k == 1 ? (c & 0x1F) : k == 2 ? (c & 0x0F) : (c & 0x07);
            for (int j = 1; ok && j <= k; j++) {
                if ((p[j] & 0xC0) != 0x80) ok = 0;
                else v = (v << 6) | (p[j] & 0x3F);
            }
            if (ok) cp = v;
            p += ok ? k + 1 : 1;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                am__buf_printf(b, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            } else am__buf_printf(b, "\\u%04x", cp);
        }
    }
    am__buf_put(b, "\"", 1);
}

typedef struct {
    const char *name, *file;
} kv;
static int cmp_kv(const void *a, const void *b) { return strcmp(((const kv *)a)->name, ((const kv *)b)->name); }

char *am__shard_index_json(uint64_t total_size, size_t n, const char *const *names, const char *const *files) {
    kv *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++) v[i].name = names[i], v[i].file = files[i];
    qsort(v, n, sizeof *v, cmp_kv);
    am__buf b = {0};
    am__buf_printf(&b, "{\n  \"metadata\": {\n    \"total_size\": %llu\n  },\n  \"weight_map\": {", (unsigned long long)total_size);
    for (size_t i = 0; i < n; i++) {
        am__buf_puts(&b, i ? ",\n    " : "\n    ");
        json_str(&b, v[i].name);
        am__buf_puts(&b, ": ");
        json_str(&b, v[i].file);
    }
    am__buf_puts(&b, n ? "\n  }\n}\n" : "}\n}\n");
    free(v);
    if (b.failed) {
        am__buf_free(&b);
        return NULL;
    }
    return am__buf_take(&b);
}
