/* tests/test_torch_bin.c — formats layer: pytorch_model.bin loading against the reference fixtures,
 * save -> load round trips (bytes and shared storages), hostile zips, pickles and archives, and
 * shard index files (parsing, the sharding rule, the exact index text). */
#include "core/error.h"
#include "core/tensor.h"
#include "core/util.h"
#include "formats/pickle.h"
#include "formats/shard_index.h"
#include "formats/torch_bin.h"
#include "formats/zip.h"
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

static char g_tmp[256];

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_tmp, name);
    return buf[k];
}

static cJSON *load_json(const char *path) {
    char *s = am_test_read_file(path, NULL);
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    free(s);
    return j;
}

static bool err_has(const char *needle) {
    bool ok = strstr(am_last_error(), needle) != NULL;
    if (!ok) fprintf(stderr, "  expected error containing '%s', got: %s\n", needle, am_last_error());
    return ok;
}

/* ---- fixtures ---- */

static void check_against_expected(const char *case_dir, const char *file, cJSON *weights) {
    char rel[512];
    snprintf(rel, sizeof rel, "formats/%s/%s", case_dir, file);
    am_tensors *ts = NULL;
    am_status st = am__torch_bin_load(am_test_fixture(rel), &ts);
    CHECKF(st == AM_OK, "%s: %s", rel, am_last_error());
    if (st != AM_OK) return;
    cJSON *w = cJSON_GetObjectItem(weights, file);
    cJSON *tensors = cJSON_GetObjectItem(w, "tensors");
    CHECKF((size_t)cJSON_GetArraySize(tensors) == am_tensors_count(ts), "%s: %d tensors expected, got %zu", rel,
           cJSON_GetArraySize(tensors), am_tensors_count(ts));
    size_t i = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, tensors) {
        const char *name = cJSON_GetObjectItem(e, "name")->valuestring;
        const char *dt = cJSON_GetObjectItem(e, "dtype")->valuestring;
        CHECKF(i < am_tensors_count(ts) && !strcmp(am_tensors_name(ts, i), name), "%s: tensor %zu should be %s", rel, i, name);
        am_tensor *t = am_tensors_get(ts, name);
        CHECKF(t != NULL, "%s: missing %s", rel, name);
        if (!t) continue;
        CHECKF(!strcmp(am_dtype_name(am_tensor_dtype(t)), dt), "%s: %s dtype %s", rel, name, am_dtype_name(am_tensor_dtype(t)));
        cJSON *shape = cJSON_GetObjectItem(e, "shape");
        CHECK(am_tensor_ndim(t) == cJSON_GetArraySize(shape));
        for (int d = 0; d < cJSON_GetArraySize(shape); d++)
            CHECK(am_tensor_dim(t, d) == (int64_t)cJSON_GetArrayItem(shape, d)->valuedouble);
        /* stored uncompressed and aligned: mapped, not copied */
        CHECKF(am__tensor_is_mapped(t), "%s: %s not mapped", rel, name);
        /* plausible weights: finite, not all zero unless tiny */
        if (am_tensor_dtype(t) == AM_F32) {
            const float *p = am_tensor_cdata(t);
            bool finite = true;
            for (int64_t k = 0; k < am_tensor_numel(t); k++) finite &= isfinite(p[k]) != 0;
            CHECKF(finite, "%s: %s has non-finite values", rel, name);
        }
        i++;
    }
    /* shared-storage groups: one am__storage (tied weights stay tied) */
    cJSON *groups = cJSON_GetObjectItem(w, "shared_storage_groups");
    cJSON *g;
    size_t n_shared = 0;
    cJSON_ArrayForEach(g, groups) {
        am_tensor *first = am_tensors_get(ts, cJSON_GetArrayItem(g, 0)->valuestring);
        cJSON *nm;
        cJSON_ArrayForEach(nm, g) {
            am_tensor *t = am_tensors_get(ts, nm->valuestring);
            CHECKF(t && first && t->storage == first->storage, "%s: %s should share storage", rel, nm->valuestring);
            CHECK(t && first && t->data == first->data);
        }
        n_shared++;
    }
    /* and no other pair shares one */
    size_t n = am_tensors_count(ts), distinct = 0;
    for (size_t a = 0; a < n; a++) {
        bool seen = false;
        for (size_t b = 0; b < a && !seen; b++) seen = am_tensors_at(ts, a)->storage == am_tensors_at(ts, b)->storage;
        distinct += !seen;
    }
    size_t grouped = 0;
    cJSON_ArrayForEach(g, groups) grouped += (size_t)cJSON_GetArraySize(g);
    CHECKF(distinct == n - grouped + n_shared, "%s: %zu distinct storages", rel, distinct);
    am_tensors_free(ts);
}

static void test_fixtures(void) {
    const char *cases[] = {"load_legacy_bin", "load_sharded_bin", "load_safetensors_precedence"};
    for (size_t c = 0; c < 3; c++) {
        char rel[256];
        snprintf(rel, sizeof rel, "formats/%s/expected.json", cases[c]);
        cJSON *j = load_json(am_test_fixture(rel));
        CHECKF(j != NULL, "cannot read %s", rel);
        if (!j) continue;
        cJSON *weights = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "checkpoint"), "weights");
        cJSON *w;
        cJSON_ArrayForEach(w, weights) {
            size_t l = strlen(w->string);
            if (l > 4 && !strcmp(w->string + l - 4, ".bin")) check_against_expected(cases[c], w->string, weights);
        }
        cJSON_Delete(j);
    }
    /* the legacy tie: the decoder weight *is* the word embedding */
    am_tensors *ts = NULL;
    CHECK_OK(am__torch_bin_load(am_test_fixture("formats/load_legacy_bin/pytorch_model.bin"), &ts));
    if (ts) {
        am_tensor *a = am_tensors_get(ts, "bert.embeddings.word_embeddings.weight");
        am_tensor *b = am_tensors_get(ts, "cls.predictions.decoder.weight");
        CHECK(a && b && a->data == b->data && am_tensor_dim(a, 0) == 99);
    }
    am_tensors_free(ts);
}

/* ---- round trip ---- */

static am_tensor *filled(am_dtype dt, int nd, const int64_t *shape, unsigned seed) {
    am_tensor *t = am_tensor_new(dt, nd, shape);
    unsigned char *p = am_tensor_data(t);
    for (size_t i = 0; i < am_tensor_nbytes(t); i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char)(seed >> 16);
    }
    if (dt == AM_BOOL)
        for (size_t i = 0; i < am_tensor_nbytes(t); i++) p[i] &= 1;
    if (dt == AM_F32 || dt == AM_F64 || dt == AM_F16 || dt == AM_BF16) { /* keep floats finite */
        am_tensor *c = am_tensor_new(AM_F32, nd, shape);
        float *f = am_tensor_data(c);
        for (int64_t i = 0; i < am_tensor_numel(c); i++) f[i] = (float)((int)(i * 37 % 101) - 50) / 8.0f + (float)seed * 0;
        am_tensor *r = am__tensor_convert(c, dt);
        am_tensor_free(c);
        am_tensor_free(t);
        return r;
    }
    return t;
}

static void set_and_drop(am_tensors *ts, const char *name, am_tensor *t) {
    CHECK_OK(am_tensors_set(ts, name, t));
    am_tensor_free(t);
}

/* A state dict exercising every dtype, a tied pair, two views at different offsets of one
 * storage, a scalar and an empty tensor. */
static am_tensors *sample_state_dict(void) {
    am_tensors *ts = am_tensors_new();
    int64_t s2[2] = {3, 4}, s1[1] = {5}, s0[1] = {0}, se[2] = {0, 3};
    am_dtype dts[] = {AM_F32, AM_F16, AM_BF16, AM_F64, AM_I64, AM_I32, AM_I16, AM_I8, AM_U8, AM_BOOL};
    for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "layer.%s.weight", am_dtype_name(dts[i]));
        set_and_drop(ts, name, filled(dts[i], 2, s2, (unsigned)i + 1));
    }
    /* tied pair */
    am_tensor *emb = filled(AM_F32, 2, s2, 99);
    set_and_drop(ts, "embed.weight", am_tensor_retain(emb));
    set_and_drop(ts, "lm_head.weight", emb);
    /* two halves of one storage */
    am__storage *st = am__storage_new(10 * sizeof(float));
    for (int i = 0; i < 10; i++) ((float *)st->ptr)[i] = (float)i * 0.5f;
    set_and_drop(ts, "half.a", am__tensor_view_storage(st, 0, AM_F32, 1, s1));
    set_and_drop(ts, "half.b", am__tensor_view_storage(st, 5 * sizeof(float), AM_F32, 1, s1));
    am__storage_release(st);
    set_and_drop(ts, "scalar", filled(AM_I64, 0, s0, 7));
    set_and_drop(ts, "empty", am_tensor_new(AM_F32, 2, se));
    return ts;
}

static bool same_tensors(const am_tensors *a, const am_tensors *b) {
    if (am_tensors_count(a) != am_tensors_count(b)) return false;
    for (size_t i = 0; i < am_tensors_count(a); i++) {
        am_tensor *x = am_tensors_at(a, i), *y = am_tensors_at(b, i);
        if (strcmp(am_tensors_name(a, i), am_tensors_name(b, i)) || x->dtype != y->dtype || x->ndim != y->ndim) return false;
        for (int d = 0; d < x->ndim; d++)
            if (x->shape[d] != y->shape[d]) return false;
        if (memcmp(am_tensor_cdata(x), am_tensor_cdata(y), am_tensor_nbytes(x))) return false;
    }
    return true;
}

static void test_round_trip(void) {
    am_tensors *ts = sample_state_dict();
    for (int z64 = 0; z64 < 2; z64++) {
        const char *path = tmp_path(z64 ? "rt64.bin" : "pytorch_model.bin");
        CHECK_OK(am__torch_bin_save_ex(ts, path, z64 != 0));
        am_tensors *back = NULL;
        CHECK_OK(am__torch_bin_load(path, &back));
        if (!back) continue;
        CHECK(same_tensors(ts, back));
        am_tensor *e = am_tensors_get(back, "embed.weight"), *h = am_tensors_get(back, "lm_head.weight");
        CHECK(e && h && e->storage == h->storage && e->data == h->data);
        am_tensor *a = am_tensors_get(back, "half.a"), *b = am_tensors_get(back, "half.b");
        CHECK(a && b && a->storage == b->storage && (char *)b->data - (char *)a->data == 20);
        CHECK(am_tensors_get(back, "layer.float32.weight")->storage != e->storage);
        for (size_t i = 0; i < am_tensors_count(back); i++)
            if (am_tensor_numel(am_tensors_at(back, i))) CHECK(am__tensor_is_mapped(am_tensors_at(back, i)));
        /* saving what we loaded gives the same file */
        const char *again = tmp_path("again.bin");
        CHECK_OK(am__torch_bin_save_ex(back, again, z64 != 0));
        size_t l1, l2;
        char *f1 = am_test_read_file(path, &l1), *f2 = am_test_read_file(again, &l2);
        /* the stem differs ("pytorch_model" vs "again"), so compare after loading */
        am_tensors *back2 = NULL;
        CHECK_OK(am__torch_bin_load(again, &back2));
        CHECK(back2 && same_tensors(ts, back2));
        am_tensors_free(back2);
        free(f1);
        free(f2);
        /* entries are stored and their data 64-byte aligned */
        am__mapping *m = am__mapping_open(path);
        am__zip *z = NULL;
        CHECK_OK(am__zip_open(m->addr, m->len, path, &z));
        if (z) {
            CHECK(!strcmp(z->entries[0].name, z64 ? "rt64/data.pkl" : "pytorch_model/data.pkl"));
            for (size_t i = 0; i < z->n_entries; i++) {
                CHECK(z->entries[i].method == 0);
                CHECK(z->entries[i].data_offset % 64 == 0);
                const uint8_t *d;
                void *o;
                CHECK_OK(am__zip_read(z, &z->entries[i], true, &d, &o)); /* CRCs are right */
            }
            const am__zip_entry *v = am__zip_find(z, z64 ? "rt64/version" : "pytorch_model/version");
            CHECK(v && v->size == 2 && !memcmp(m->addr + v->data_offset, "3\n", 2));
        }
        am__zip_free(z);
        am__mapping_release(m);
        am_tensors_free(back);
    }
    /* nothing left behind but the outputs */
    char *ls = NULL;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp", g_tmp);
    am_test_run(cmd, &ls);
    CHECKF(ls && atoi(ls) == 0, "temporary files left: %s", ls ? ls : "?");
    free(ls);
    /* unwritable destination: error, no partial file */
    CHECK(am__torch_bin_save(ts, "/nonexistent-dir/x.bin") == AM_ERR_IO && err_has("/nonexistent-dir/x.bin"));
    am_tensors_free(ts);
}

/* ---- hand-built zips ---- */

typedef struct {
    const char *name;
    const void *data;
    size_t len;
    int method; /* 0 stored, 8 deflate (compressed here) */
} zent;

/* A minimal zip writer independent of the library's, so the reader is tested against bytes it
 * did not produce. Offsets of interesting fields are returned for corruption tests. */
typedef struct {
    uint8_t *buf;
    size_t len;
    size_t cd_off, eocd_off;
    size_t local_off[8], central_off[8];
} zbuild;

static void put(uint8_t *b, size_t *o, uint64_t v, int n) {
    for (int i = 0; i < n; i++) b[(*o)++] = (uint8_t)(v >> (8 * i));
}

static zbuild build_zip(const zent *e, size_t n) {
    zbuild z = {0};
    z.buf = calloc(1, 1 << 20);
    size_t o = 0;
    uint8_t *comp[8];
    size_t clen[8];
    uint32_t crcs[8];
    for (size_t i = 0; i < n; i++) {
        crcs[i] = (uint32_t)crc32(0, e[i].data, (uInt)e[i].len);
        if (e[i].method == 8) {
            z_stream s = {0};
            deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
            comp[i] = malloc(e[i].len + 64);
            s.next_in = (Bytef *)e[i].data;
            s.avail_in = (uInt)e[i].len;
            s.next_out = comp[i];
            s.avail_out = (uInt)e[i].len + 64;
            deflate(&s, Z_FINISH);
            clen[i] = s.total_out;
            deflateEnd(&s);
        } else {
            comp[i] = malloc(e[i].len + 1);
            memcpy(comp[i], e[i].data, e[i].len);
            clen[i] = e[i].len;
        }
        size_t nl = strlen(e[i].name);
        z.local_off[i] = o;
        put(z.buf, &o, 0x04034b50, 4);
        put(z.buf, &o, 20, 2);
        put(z.buf, &o, 0, 2);
        put(z.buf, &o, (uint64_t)e[i].method, 2);
        put(z.buf, &o, 0, 4);
        put(z.buf, &o, crcs[i], 4);
        put(z.buf, &o, clen[i], 4);
        put(z.buf, &o, e[i].len, 4);
        put(z.buf, &o, nl, 2);
        put(z.buf, &o, 0, 2);
        memcpy(z.buf + o, e[i].name, nl);
        o += nl;
        memcpy(z.buf + o, comp[i], clen[i]);
        o += clen[i];
    }
    z.cd_off = o;
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(e[i].name);
        z.central_off[i] = o;
        put(z.buf, &o, 0x02014b50, 4);
        put(z.buf, &o, 20, 2);
        put(z.buf, &o, 20, 2);
        put(z.buf, &o, 0, 2);
        put(z.buf, &o, (uint64_t)e[i].method, 2);
        put(z.buf, &o, 0, 4);
        put(z.buf, &o, crcs[i], 4);
        put(z.buf, &o, clen[i], 4);
        put(z.buf, &o, e[i].len, 4);
        put(z.buf, &o, nl, 2);
        put(z.buf, &o, 0, 2);
        put(z.buf, &o, 0, 2);
        put(z.buf, &o, 0, 2);
        put(z.buf, &o, 0, 2);
        put(z.buf, &o, 0, 4);
        put(z.buf, &o, z.local_off[i], 4);
        memcpy(z.buf + o, e[i].name, nl);
        o += nl;
        free(comp[i]);
    }
    z.eocd_off = o;
    put(z.buf, &o, 0x06054b50, 4);
    put(z.buf, &o, 0, 4);
    put(z.buf, &o, n, 2);
    put(z.buf, &o, n, 2);
    put(z.buf, &o, z.eocd_off - z.cd_off, 4);
    put(z.buf, &o, z.cd_off, 4);
    put(z.buf, &o, 0, 2);
    z.len = o;
    return z;
}

static void poke(uint8_t *b, size_t off, uint64_t v, int n) { put(b, &off, v, n); }

static am_status open_zip(const zbuild *zb, size_t len, am__zip **z) { return am__zip_open(zb->buf, len, "test.zip", z); }

static void test_zip_hostile(void) {
    static char big[5000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 7);
    zent ents[] = {{"arc/data.pkl", "hello", 5, 0}, {"arc/data/0", big, sizeof big, 8}};
    zbuild zb = build_zip(ents, 2);
    am__zip *z = NULL;
    CHECK_OK(open_zip(&zb, zb.len, &z));
    if (z) {
        const am__zip_entry *e = am__zip_find(z, "arc/data/0");
        const uint8_t *d;
        void *o = NULL;
        CHECK(e && e->method == 8);
        CHECK_OK(am__zip_read(z, e, false, &d, &o));
        CHECK(o && !memcmp(d, big, sizeof big));
        free(o);
    }
    am__zip_free(z);

    uint8_t *save = malloc(zb.len);
    memcpy(save, zb.buf, zb.len);
#define RESET() memcpy(zb.buf, save, zb.len)
#define EXPECT_FAIL(len, needle)                                                                   \
    do {                                                                                           \
        z = NULL;                                                                                  \
        am_status s_ = open_zip(&zb, (len), &z);                                                   \
        CHECKF(s_ == AM_ERR_FORMAT && err_has(needle) && err_has("test.zip"), "%s", needle);       \
        am__zip_free(z);                                                                           \
        RESET();                                                                                   \
    } while (0)
    /* truncations: no end record, or the directory cut */
    EXPECT_FAIL(zb.len - 1, "end-of-central-directory");
    EXPECT_FAIL(10, "too short");
    poke(zb.buf, zb.eocd_off + 12, zb.eocd_off - zb.cd_off - 10, 4); /* cd size too small for 2 entries */
    EXPECT_FAIL(zb.len, "central directory");
    poke(zb.buf, zb.eocd_off + 16, zb.len + 100, 4); /* cd offset past the file */
    EXPECT_FAIL(zb.len, "outside the file");
    poke(zb.buf, zb.eocd_off + 8, 60000, 2), poke(zb.buf, zb.eocd_off + 10, 60000, 2);
    EXPECT_FAIL(zb.len, "truncated");
    /* bad local header offset / sizes / method / flags / names */
    poke(zb.buf, zb.central_off[1] + 42, 0x7fffffff, 4);
    EXPECT_FAIL(zb.len, "local header offset");
    poke(zb.buf, zb.central_off[0] + 42, 3, 4);
    EXPECT_FAIL(zb.len, "local header offset");
    poke(zb.buf, zb.central_off[0] + 20, 0x10000000, 4), poke(zb.buf, zb.central_off[0] + 24, 0x10000000, 4);
    EXPECT_FAIL(zb.len, "runs past");
    poke(zb.buf, zb.central_off[0] + 24, 6, 4);
    EXPECT_FAIL(zb.len, "compressed size");
    poke(zb.buf, zb.central_off[0] + 10, 12, 2);
    EXPECT_FAIL(zb.len, "compression method 12");
    poke(zb.buf, zb.central_off[0] + 8, 1, 2);
    EXPECT_FAIL(zb.len, "encrypted");
    poke(zb.buf, zb.central_off[1] + 28, 40000, 2);
    EXPECT_FAIL(zb.len, "runs past the directory");
    memcpy(zb.buf + zb.central_off[0] + 46, "../", 3);
    EXPECT_FAIL(zb.len, "unsafe");
    zb.buf[zb.central_off[0] + 46] = '/';
    EXPECT_FAIL(zb.len, "unsafe");
    zb.buf[zb.central_off[0] + 46 + 3] = 0;
    EXPECT_FAIL(zb.len, "unsafe");
    zb.buf[zb.central_off[0] + 46 + 1] = 'X';
    EXPECT_FAIL(zb.len, "local header name");
    /* deflate lies: corrupt stream, wrong size, impossible ratio, bad CRC */
    const am__zip_entry *e;
    const uint8_t *d;
    void *o;
    struct {
        size_t off;
        uint64_t v;
        int n;
        const char *needle;
    } lies[] = {{zb.central_off[1] + 24, sizeof big + 1, 4, "shorter"},
                {zb.central_off[1] + 24, sizeof big - 1, 4, "corrupt deflate"},
                {zb.central_off[1] + 24, 0xF0000000u, 4, "impossible"},
                {zb.central_off[1] + 16, 1234, 4, "CRC"}};
    for (size_t k = 0; k < sizeof lies / sizeof lies[0]; k++) {
        poke(zb.buf, lies[k].off, lies[k].v, lies[k].n);
        z = NULL;
        CHECK_OK(open_zip(&zb, zb.len, &z));
        if (z && (e = am__zip_find(z, "arc/data/0"))) {
            CHECKF(am__zip_read(z, e, false, &d, &o) == AM_ERR_FORMAT && err_has(lies[k].needle), "%s", lies[k].needle);
        }
        am__zip_free(z);
        RESET();
    }
    /* garbage in the compressed bytes */
    memset(zb.buf + zb.local_off[1] + 30 + strlen("arc/data/0"), 0xFF, 8);
    z = NULL;
    CHECK_OK(open_zip(&zb, zb.len, &z));
    if (z && (e = am__zip_find(z, "arc/data/0"))) CHECK(am__zip_read(z, e, false, &d, &o) == AM_ERR_FORMAT);
    am__zip_free(z);
    RESET();
    /* duplicate names */
    zent dup[] = {{"a/x", "1", 1, 0}, {"a/x", "2", 1, 0}};
    zbuild zd = build_zip(dup, 2);
    z = NULL;
    CHECK(am__zip_open(zd.buf, zd.len, "dup.zip", &z) == AM_ERR_FORMAT && err_has("twice"));
    free(zd.buf);
    /* ZIP64 end record needed but missing */
    poke(zb.buf, zb.eocd_off + 16, 0xFFFFFFFFu, 4);
    EXPECT_FAIL(zb.len, "ZIP64");
#undef EXPECT_FAIL
#undef RESET
    free(save);
    free(zb.buf);
}

/* ---- pickles ---- */

static am_status unpickle_str(const char *p, size_t n, const am__pickle_limits *lim) {
    am__pickle *pk = NULL;
    const am__pv *root;
    am_status st = am__unpickle(p, n, "evil.pkl", lim, &pk, &root);
    am__pickle_free(pk);
    return st;
}
#define UNPICKLE(lit) unpickle_str(lit, sizeof(lit) - 1, NULL)

static void test_pickle_hostile(void) {
    /* globals outside the allow-list are named and refused, before anything is built */
    CHECK(UNPICKLE("\x80\x02" "cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85R.") == AM_ERR_FORMAT && err_has("'os.system'") &&
          err_has("evil.pkl"));
    CHECK(UNPICKLE("cbuiltins\neval\n(X\x01\x00\x00\x00" "1tR.") == AM_ERR_FORMAT && err_has("'builtins.eval'"));
    CHECK(UNPICKLE("\x80\x04\x8c\x05posix\x8c\x06system\x93.") == AM_ERR_FORMAT && err_has("'posix.system'"));
    CHECK(UNPICKLE("ctorch\nload\n.") == AM_ERR_FORMAT && err_has("'torch.load'"));
    CHECK(UNPICKLE("ctorch._utils\n_rebuild_tensor\n.") == AM_ERR_FORMAT && err_has("_rebuild_tensor'"));
    CHECK(UNPICKLE("(S'ls'\nios\nsystem\n.") == AM_ERR_FORMAT);
    CHECK(UNPICKLE("(X\x02\x00\x00\x00lsi") == AM_ERR_FORMAT && err_has("INST"));
    CHECK(UNPICKLE("(ccollections\nOrderedDict\no.") == AM_ERR_FORMAT && err_has("OBJ"));
    CHECK(UNPICKLE("\x82\x01.") == AM_ERR_FORMAT && err_has("EXT"));
    /* REDUCE only on allowed globals, with their exact shapes */
    CHECK(UNPICKLE("X\x01\x00\x00\x00" "a)R.") == AM_ERR_FORMAT && err_has("REDUCE on a str"));
    CHECK(UNPICKLE("ctorch\nFloatStorage\n)R.") == AM_ERR_FORMAT && err_has("cannot be called"));
    CHECK(UNPICKLE("ccollections\nOrderedDict\nK\x01\x85R.") == AM_ERR_FORMAT);
    CHECK(UNPICKLE("ctorch._utils\n_rebuild_tensor_v2\n(K\x01K\x00)))\x89}tR.") == AM_ERR_FORMAT && err_has("not a storage"));
    CHECK(UNPICKLE("}}b.") == AM_OK); /* OrderedDict attributes (_metadata) are ignored */
    CHECK(UNPICKLE("]}b.") == AM_ERR_FORMAT && err_has("BUILD on a list"));
    /* persistent ids: only storages, with plain keys */
    CHECK(UNPICKLE("(X\x04\x00\x00\x00" "fileX\x01\x00\x00\x00xtQ.") == AM_ERR_FORMAT && err_has("only persistent ids of storages"));
    CHECK(UNPICKLE("(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x04\x00\x00\x00../xX\x03\x00\x00\x00" "cpuK\x01tQ.") ==
              AM_ERR_FORMAT && err_has("plain name"));
    CHECK(UNPICKLE("(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuJ\xff\xff\xff\xfftQ.") ==
              AM_ERR_FORMAT && err_has("element count"));
    CHECK(UNPICKLE("(X\x07\x00\x00\x00storageccollections\nOrderedDict\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x01tQ.") ==
              AM_ERR_FORMAT && err_has("storage type"));
    /* malformed streams */
    CHECK(UNPICKLE("") == AM_ERR_FORMAT && err_has("STOP"));
    CHECK(UNPICKLE("\x80\x02}") == AM_ERR_FORMAT && err_has("STOP"));
    CHECK(UNPICKLE(".") == AM_ERR_FORMAT && err_has("underflow"));
    CHECK(UNPICKLE("X\xff\xff\xff\xff" "abc.") == AM_ERR_FORMAT && err_has("truncated"));
    CHECK(UNPICKLE("X\x02\x00\x00\x00\xc3\x28.") == AM_ERR_FORMAT && err_has("UTF-8"));
    CHECK(UNPICKLE("h\x05.") == AM_ERR_FORMAT && err_has("memo key 5"));
    CHECK(UNPICKLE("Nr\xff\xff\xff\xff.") == AM_ERR_FORMAT && err_has("memo index"));
    CHECK(UNPICKLE("\x80\x09.") == AM_ERR_FORMAT && err_has("protocol"));
    CHECK(UNPICKLE("K\x01K\x02u.") == AM_ERR_FORMAT && err_has("MARK"));
    CHECK(UNPICKLE("(K\x01t(K\x02K\x03K\x04\x87\x85.") == AM_OK);
    CHECK(UNPICKLE("(\x85.") == AM_ERR_FORMAT && err_has("underflow")); /* TUPLE1 cannot reach below a MARK */
    CHECK(UNPICKLE("}]K\x01s.") == AM_ERR_FORMAT && err_has("unhashable"));
    CHECK(UNPICKLE("\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.") == AM_ERR_FORMAT && err_has("64 bits"));
    CHECK(UNPICKLE("\x8a\x09\xff\xff\xff\xff\xff\xff\xff\xff\xff.") == AM_OK);  /* -1 in 9 bytes */
    CHECK(UNPICKLE("S'x'\n.") == AM_ERR_FORMAT && err_has("unsupported pickle opcode 'S'"));

    /* deep nesting: 1000 nested tuples */
    {
        size_t n = 1000;
        char *p = malloc(n + 4);
        p[0] = ')';
        memset(p + 1, 0x85, n);
        p[n + 1] = '.';
        CHECK(unpickle_str(p, n + 2, NULL) == AM_ERR_FORMAT && err_has("nesting deeper"));
        /* a list appended into itself: a cycle, bounded by the depth limit, no crash */
        const char cyc[] = "]q\x00h\x00" "a" "h\x00" "a" "h\x00" "a.";
        CHECK(unpickle_str(cyc, sizeof cyc - 1, NULL) == AM_OK);
        memset(p, '(', n);
        p[n] = '.';
        am__pickle_limits lim = am__pickle_limits_default(n);
        lim.max_stack = 100;
        CHECK(unpickle_str(p, n + 1, &lim) == AM_ERR_FORMAT && err_has("stack limit"));
        free(p);
    }
    /* huge containers and allocation: DUP + APPENDS building a 100k-element list */
    {
        size_t n = 100000;
        char *p = malloc(n + 8);
        size_t o = 0;
        p[o++] = ']';
        p[o++] = '(';
        p[o++] = 'N';
        for (size_t i = 0; i < n; i++) p[o++] = '2';
        p[o++] = 'e';
        p[o++] = '.';
        CHECK(unpickle_str(p, o, NULL) == AM_OK);
        am__pickle_limits lim = am__pickle_limits_default(o);
        lim.max_container = 1000;
        CHECK(unpickle_str(p, o, &lim) == AM_ERR_FORMAT && err_has("limit of 1000"));
        lim = am__pickle_limits_default(o);
        lim.max_alloc = 100000;
        CHECK(unpickle_str(p, o, &lim) == AM_ERR_FORMAT && err_has("allocation limit"));
        free(p);
    }
    /* pickles real Python/PyTorch wrote (the fuzz seeds): protocol 4/5 plain values, a
     * state_dict() OrderedDict with _metadata (BUILD), an nn.Parameter */
    const char *good[] = {"plain_p4.pkl", "plain_p5.pkl", "ordereddict_metadata.pkl", "parameter.pkl", "torch_views.pkl"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "../fuzz/corpus/pickle/%s", good[i]);
        size_t len = 0;
        char *data = am_test_read_file(am_test_fixture(rel), &len);
        CHECKF(data && unpickle_str(data, len, NULL) == AM_OK, "%s: %s", good[i], am_last_error());
        free(data);
    }
    /* a well-formed state-dict pickle (as torch writes it) parses into a tensor */
    {
        const char sd[] = "\x80\x02}q\x00X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
                          "ctorch\nHalfStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x06tQK\x00K\x02K\x03\x86K\x03K\x01\x86"
                          "\x89" "ccollections\nOrderedDict\n)RtRs.";
        am__pickle *pk = NULL;
        const am__pv *root = NULL;
        CHECK_OK(am__unpickle(sd, sizeof sd - 1, "sd.pkl", NULL, &pk, &root));
        const am__pv *w = root ? am__pv_dict_get(root, "w") : NULL;
        CHECK(w && w->kind == AM__PV_TENSOR && w->u.tensor.ndim == 2 && w->u.tensor.shape[1] == 3 &&
              w->u.tensor.storage->u.storage.dtype == AM_F16 && w->u.tensor.storage->u.storage.numel == 6);
        am__pickle_free(pk);
    }
}

/* ---- hostile archives ---- */

/* Writes a torch-style archive at `path` with the given pickle and storages data/0.. */
static void write_archive(const char *path, const char *stem, const void *pkl, size_t pkl_len, const void *const *st,
                          const size_t *st_len, size_t n_st) {
    FILE *f = fopen(path, "wb");
    am__zip_writer *w = am__zip_writer_new(f, path, 64, false);
    char name[128];
    snprintf(name, sizeof name, "%s/data.pkl", stem);
    CHECK_OK(am__zip_writer_add(w, name, &pkl, &pkl_len, 1));
    for (size_t i = 0; i < n_st; i++) {
        snprintf(name, sizeof name, "%s/data/%zu", stem, i);
        CHECK_OK(am__zip_writer_add(w, name, &st[i], &st_len[i], 1));
    }
    snprintf(name, sizeof name, "%s/version", stem);
    const void *v = "3\n";
    size_t vl = 2;
    CHECK_OK(am__zip_writer_add(w, name, &v, &vl, 1));
    CHECK_OK(am__zip_writer_finish(w));
    am__zip_writer_free(w);
    fclose(f);
}

/* pickle of {"w": _rebuild_tensor_v2(storage(key, numel, cls), offset, shape, stride)} */
static void sd_pickle(am__buf *b, const char *cls, const char *key, int64_t numel, int64_t offset, int nd,
                      const int64_t *shape, const int64_t *stride) {
    am__pkl_proto(b);
    am__pkl_op(b, '}');
    am__pkl_str(b, "w");
    am__pkl_global(b, "torch._utils", "_rebuild_tensor_v2");
    am__pkl_op(b, '(');
    am__pkl_op(b, '(');
    am__pkl_str(b, "storage");
    am__pkl_global(b, "torch", cls);
    am__pkl_str(b, key);
    am__pkl_str(b, "cpu");
    am__pkl_int(b, numel);
    am__pkl_op(b, 't');
    am__pkl_op(b, 'Q');
    am__pkl_int(b, offset);
    am__pkl_op(b, '(');
    for (int i = 0; i < nd; i++) am__pkl_int(b, shape[i]);
    am__pkl_op(b, 't');
    am__pkl_op(b, '(');
    for (int i = 0; i < nd; i++) am__pkl_int(b, stride[i]);
    am__pkl_op(b, 't');
    am__pkl_op(b, 0x89);
    am__pkl_global(b, "collections", "OrderedDict");
    am__pkl_op(b, ')');
    am__pkl_op(b, 'R');
    am__pkl_op(b, 't');
    am__pkl_op(b, 'R');
    am__pkl_op(b, 's');
    am__pkl_op(b, '.');
}

static am_status load_case(const char *cls, const char *key, int64_t numel, int64_t offset, int nd, const int64_t *shape,
                           const int64_t *stride, size_t storage_bytes, am_tensors **out) {
    am__buf b = {0};
    sd_pickle(&b, cls, key, numel, offset, nd, shape, stride);
    static float data[64];
    for (int i = 0; i < 64; i++) data[i] = (float)i;
    const void *st = data;
    const char *path = tmp_path("case.bin");
    write_archive(path, "case", b.data, b.len, &st, &storage_bytes, 1);
    am__buf_free(&b);
    am_tensors *ts = NULL;
    am_status s = am__torch_bin_load(path, &ts);
    if (out) *out = ts;
    else am_tensors_free(ts);
    return s;
}

static void test_archive_hostile(void) {
    int64_t sh[2] = {2, 3}, str[2] = {3, 1}, strT[2] = {1, 2};
    am_tensors *ts = NULL;
    /* baseline, then a non-contiguous (transposed) view at an offset: materialised */
    CHECK_OK(load_case("FloatStorage", "0", 6, 0, 2, sh, str, 24, NULL));
    CHECK_OK(load_case("FloatStorage", "0", 16, 2, 2, sh, strT, 64, &ts));
    if (ts) {
        am_tensor *t = am_tensors_get(ts, "w");
        const float *p = am_tensor_cdata(t);
        CHECK(!am__tensor_is_mapped(t) && p[0] == 2 && p[1] == 4 && p[2] == 6 && p[3] == 3 && p[5] == 7);
    }
    am_tensors_free(ts);
    /* storage smaller than the view */
    CHECK(load_case("FloatStorage", "0", 5, 0, 2, sh, str, 24, NULL) == AM_ERR_FORMAT && err_has("past the end") &&
          err_has("case.bin"));
    CHECK(load_case("FloatStorage", "0", 6, 1, 2, sh, str, 24, NULL) == AM_ERR_FORMAT && err_has("past the end"));
    int64_t hstride[2] = {INT64_MAX / 2, 1};
    CHECK(load_case("FloatStorage", "0", 6, 0, 2, sh, hstride, 24, NULL) == AM_ERR_FORMAT && err_has("past the end"));
    /* zip entry smaller than the storage the pickle claims */
    CHECK(load_case("FloatStorage", "0", 6, 0, 2, sh, str, 20, NULL) == AM_ERR_FORMAT && err_has("holds 20 bytes"));
    /* storage key with no entry */
    CHECK(load_case("FloatStorage", "7", 6, 0, 2, sh, str, 24, NULL) == AM_ERR_FORMAT && err_has("case/data/7"));
    /* unknown storage class */
    CHECK(load_case("ComplexFloatStorage", "0", 6, 0, 2, sh, str, 24, NULL) == AM_ERR_FORMAT &&
          err_has("torch.ComplexFloatStorage"));
    /* a stride-0 view of a few elements with a huge shape: refused, not allocated */
    int64_t hshape[2] = {1 << 20, 1 << 20}, zstride[2] = {0, 0};
    CHECK(load_case("FloatStorage", "0", 6, 0, 2, hshape, zstride, 24, NULL) == AM_ERR_FORMAT && err_has("strided view") &&
          err_has("tensor 'w'"));
    /* too many dimensions */
    int64_t s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(load_case("FloatStorage", "0", 6, 0, 9, s9, s9, 24, NULL) == AM_ERR_FORMAT && err_has("dimensions"));
    /* one storage used with two dtypes */
    {
        am__buf b = {0};
        am__pkl_proto(&b);
        am__pkl_op(&b, '}');
        am__pkl_op(&b, '(');
        for (int k = 0; k < 2; k++) {
            am__pkl_str(&b, k ? "b" : "a");
            am__pkl_global(&b, "torch._utils", "_rebuild_tensor_v2");
            am__pkl_op(&b, '(');
            am__pkl_op(&b, '(');
            am__pkl_str(&b, "storage");
            am__pkl_global(&b, "torch", k ? "IntStorage" : "FloatStorage");
            am__pkl_str(&b, "0");
            am__pkl_str(&b, "cpu");
            am__pkl_int(&b, 2);
            am__pkl_op(&b, 't');
            am__pkl_op(&b, 'Q');
            am__pkl_int(&b, 0);
            am__pkl_op(&b, ')');
            am__pkl_op(&b, ')');
            am__pkl_op(&b, 0x89);
            am__pkl_op(&b, '}');
            am__pkl_op(&b, 't');
            am__pkl_op(&b, 'R');
        }
        am__pkl_op(&b, 'u');
        am__pkl_op(&b, '.');
        float d[2] = {1, 2};
        const void *st = d;
        size_t sl = 8;
        write_archive(tmp_path("two.bin"), "two", b.data, b.len, &st, &sl, 1);
        am__buf_free(&b);
        CHECK(am__torch_bin_load(tmp_path("two.bin"), &ts) == AM_ERR_FORMAT && err_has("two different"));
    }
    /* not a dict; non-string key; non-tensor value (skipped) */
    {
        const void *st = "";
        size_t sl = 0;
        write_archive(tmp_path("list.bin"), "list", "\x80\x02].", 4, &st, &sl, 0);
        CHECK(am__torch_bin_load(tmp_path("list.bin"), &ts) == AM_ERR_FORMAT && err_has("not a state dict"));
        write_archive(tmp_path("key.bin"), "key", "\x80\x02}K\x01K\x02s.", 9, &st, &sl, 0);
        CHECK(am__torch_bin_load(tmp_path("key.bin"), &ts) == AM_ERR_FORMAT && err_has("not a string"));
        write_archive(tmp_path("val.bin"), "val", "\x80\x02}X\x05\x00\x00\x00" "epochK\x03s.", 17, &st, &sl, 0);
        am_log_set_level(AM_LOG_OFF);
        CHECK_OK(am__torch_bin_load(tmp_path("val.bin"), &ts));
        am_log_set_level(AM_LOG_ERROR);
        CHECK(ts && am_tensors_count(ts) == 0);
        am_tensors_free(ts);
        write_archive(tmp_path("evil.bin"), "evil", "\x80\x02" "cos\nsystem\nX\x02\x00\x00\x00lsq\x01\x85R.", 25, &st, &sl, 0);
        CHECK(am__torch_bin_load(tmp_path("evil.bin"), &ts) == AM_ERR_FORMAT && err_has("os.system") && err_has("evil.bin"));
    }
    /* not a zip, legacy format, missing file, archive without data.pkl */
    am__write_file_atomic(tmp_path("text.bin"), "hello world, this is not a zip archive", 38);
    CHECK(am__torch_bin_load(tmp_path("text.bin"), &ts) == AM_ERR_FORMAT && err_has("text.bin"));
    am__write_file_atomic(tmp_path("legacy.bin"), "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
    CHECK(am__torch_bin_load(tmp_path("legacy.bin"), &ts) == AM_ERR_UNSUPPORTED && err_has("legacy"));
    CHECK(am__torch_bin_load(tmp_path("missing.bin"), &ts) == AM_ERR_NOT_FOUND && err_has("missing.bin"));
    {
        zent e[] = {{"x/other", "abc", 3, 0}};
        zbuild zb = build_zip(e, 1);
        am__write_file_atomic(tmp_path("nopkl.bin"), zb.buf, zb.len);
        free(zb.buf);
        CHECK(am__torch_bin_load(tmp_path("nopkl.bin"), &ts) == AM_ERR_FORMAT && err_has("x/data.pkl"));
        zent f[] = {{"flat", "abc", 3, 0}};
        zb = build_zip(f, 1);
        am__write_file_atomic(tmp_path("flat.bin"), zb.buf, zb.len);
        free(zb.buf);
        CHECK(am__torch_bin_load(tmp_path("flat.bin"), &ts) == AM_ERR_FORMAT && err_has("not in a folder"));
    }
    /* a deflated, unaligned archive (Python zipfile re-pack): loads, storages copied */
    {
        am__buf b = {0};
        sd_pickle(&b, "FloatStorage", "0", 6, 0, 2, sh, str);
        float d[6] = {1, 2, 3, 4, 5, 6};
        zent e[] = {{"z/data.pkl", b.data, b.len, 8}, {"z/data/0", d, sizeof d, 8}};
        zbuild zb = build_zip(e, 2);
        am__write_file_atomic(tmp_path("deflated.bin"), zb.buf, zb.len);
        free(zb.buf);
        am__buf_free(&b);
        CHECK_OK(am__torch_bin_load(tmp_path("deflated.bin"), &ts));
        am_tensor *t = ts ? am_tensors_get(ts, "w") : NULL;
        CHECK(t && !am__tensor_is_mapped(t) && !memcmp(am_tensor_cdata(t), d, sizeof d));
        am_tensors_free(ts);
    }
}

/* ---- shard index ---- */

static am_status parse_index(const char *json, am__shard_index **idx) {
    return am__shard_index_parse(json, strlen(json), "model.safetensors.index.json", idx);
}

static void test_shard_index(void) {
    am__shard_index *idx = NULL;
    /* the fixture index: 5 shards, names map to files, every shard exists */
    CHECK_OK(am__shard_index_load(am_test_fixture("formats/load_sharded_bin/pytorch_model.bin.index.json"), &idx));
    if (idx) {
        CHECK(idx->total_size == 80308 && idx->n_shards == 5);
        CHECK(!strcmp(idx->shards[0], "pytorch_model-00001-of-00005.bin"));
        const char *f = am__shard_index_file_of(idx, "bert.embeddings.LayerNorm.bias");
        CHECK(f && !strcmp(f, "pytorch_model-00002-of-00005.bin"));
        CHECK(am__shard_index_file_of(idx, "nope") == NULL);
        /* every shard loads and holds exactly the tensors the index gives it */
        size_t total = 0;
        for (size_t s = 0; s < idx->n_shards; s++) {
            char *p = am__shard_index_path(idx, s);
            am_tensors *ts = NULL;
            CHECK_OK(am__torch_bin_load(p, &ts));
            size_t nt = ts ? am_tensors_count(ts) : 0;
            const char **names = calloc(nt + 1, sizeof *names);
            for (size_t i = 0; i < nt; i++) {
                const char *want = am__shard_index_file_of(idx, am_tensors_name(ts, i));
                CHECK(want && !strcmp(want, idx->shards[s]));
                total += am_tensor_nbytes(am_tensors_at(ts, i));
                names[i] = am_tensors_name(ts, i);
            }
            CHECK_OK(am__shard_index_check_shard(idx, s, names, nt, "pytorch_model.bin.index.json"));
            if (nt > 1) { /* a tensor missing from its shard, or one the index puts elsewhere */
                CHECK(am__shard_index_check_shard(idx, s, names, nt - 1, "pytorch_model.bin.index.json") == AM_ERR_FORMAT &&
                      err_has(names[nt - 1]) && err_has(idx->shards[s]) && err_has("does not hold"));
                names[nt] = "bert.embeddings.word_embeddings.weight";
                if (strcmp(am__shard_index_file_of(idx, names[nt]), idx->shards[s]))
                    CHECK(am__shard_index_check_shard(idx, s, names, nt + 1, "pytorch_model.bin.index.json") == AM_ERR_FORMAT &&
                          err_has("assigns to"));
                names[nt] = "not.in.index";
                CHECK(am__shard_index_check_shard(idx, s, names, nt + 1, "pytorch_model.bin.index.json") == AM_ERR_FORMAT &&
                      err_has("does not list"));
            }
            free(names);
            if (ts) CHECK(am_tensors_count(ts) > 0);
            am_tensors_free(ts);
            free(p);
        }
        CHECK(total == 80308);
    }
    am__shard_index_free(idx);

    /* hostile / wrong indexes */
    struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"metadata\": {}, \"weight_map\": {\"a\": \"../x.safetensors\"}}", "not a plain file name"},
        {"{\"metadata\": {}, \"weight_map\": {\"a\": \"/etc/passwd\"}}", "not a plain file name"},
        {"{\"metadata\": {}, \"weight_map\": {\"a\": \"sub/x.bin\"}}", "not a plain file name"},
        {"{\"metadata\": {}, \"weight_map\": {\"a\": \"..\"}}", "not a plain file name"},
        {"{\"metadata\": {}, \"weight_map\": {\"a\": \"\"}}", "not a plain file name"},
        {"{\"metadata\": {}, \"weight_map\": {\"a\": \"x\\\\y\"}}", "not a plain file name"},
        {"{\"metadata\": {}, \"weight_map\": {\"a\": 3}}", "not a string"},
        {"{\"metadata\": {}, \"weight_map\": [\"a\"]}", "weight_map"},
        {"{\"metadata\": {}}", "\"weight_map\" is missing"},
        {"{\"weight_map\": {}}", "\"metadata\" is missing"},
        {"{\"metadata\": [], \"weight_map\": {}}", "metadata"},
        {"{\"metadata\": {\"total_size\": \"12\"}, \"weight_map\": {}}", "total_size"},
        {"{\"metadata\": {\"total_size\": -1}, \"weight_map\": {}}", "total_size"},
        {"{\"metadata\": {\"total_size\": 1.5}, \"weight_map\": {}}", "total_size"},
        {"{\"metadata\": {}, \"weight_map\": {\"a\": \"x\", \"a\": \"y\"}}", "twice"},
        {"[1, 2]", "not a JSON object"},
        {"{\"metadata\": {}, \"weight_map\": {", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        idx = NULL;
        am_status st = parse_index(bad[i].json, &idx);
        CHECKF(st == AM_ERR_FORMAT && err_has(bad[i].needle) && err_has("model.safetensors.index.json"), "%s", bad[i].json);
        am__shard_index_free(idx);
    }
    CHECK_OK(parse_index("{\"metadata\": {\"total_size\": 8, \"format\": \"pt\"}, \"weight_map\": {\"a\": \"s1\", \"b\": \"s2\", "
                         "\"c\": \"s1\"}}", &idx));
    if (idx) CHECK(idx->n == 3 && idx->n_shards == 2 && idx->files[2] == idx->files[0]);
    am__shard_index_free(idx);
    /* a shard the index lists but the folder lacks */
    const char *ip = tmp_path("model.safetensors.index.json");
    const char *txt = "{\"metadata\": {}, \"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\"}}";
    am__write_file_atomic(ip, txt, strlen(txt));
    idx = NULL;
    CHECK(am__shard_index_load(ip, &idx) == AM_ERR_NOT_FOUND && err_has("model-00001-of-00002.safetensors") &&
          err_has(ip));
    CHECK(am__shard_index_load(tmp_path("nothere.index.json"), &idx) == AM_ERR_NOT_FOUND);
}

static void test_shard_size(void) {
    struct {
        const char *s;
        uint64_t v;
    } ok[] = {{"20KB", 20000},          {"20KiB", 20480},           {"20Kb", 2500},        {"20kb", 2500},
              {"20kB", 20000},          {"5GB", 5000000000ull},     {"5GiB", 5ull << 30},  {"10MB", 10000000},
              {"3MiB", 3 << 20},        {"1000", 1000},             {" 7KB ", 7000},       {"10gb", 1250000000},
              {"1kib", 1024},           {"9Mb", 1125000},           {"0", 0}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 1;
        CHECKF(am__parse_shard_size(ok[i].s, &v) == AM_OK && v == ok[i].v, "%s -> %llu", ok[i].s, (unsigned long long)v);
    }
    const char *bad[] = {"", "KB", "abc", "1.5GB", "-5KB", "5 TB", "5XB", "99999999999999999999GB", "5GBs"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v;
        CHECKF(am__parse_shard_size(bad[i], &v) == AM_ERR_INVALID_ARGUMENT && err_has("max_shard_size"), "%s", bad[i]);
    }
    char *n = am__shard_file_name("pytorch_model.bin", 1, 5);
    CHECK(n && !strcmp(n, "pytorch_model-00002-of-00005.bin"));
    free(n);
    n = am__shard_file_name("model.safetensors", 6, 7);
    CHECK(n && !strcmp(n, "model-00007-of-00007.safetensors"));
    free(n);
}

static size_t dtype_bytes(const char *dt) {
    am_dtype d;
    if (!strcmp(dt, "F32")) return 4;
    if (!strcmp(dt, "F16") || !strcmp(dt, "BF16")) return 2;
    if (!strcmp(dt, "I64")) return 8;
    return am_dtype_parse(dt, &d) == AM_OK ? am_dtype_size(d) : 0;
}

/* Re-plan the fixture's sharding from its state dict in order, and write the index: it must be
 * byte-identical to the one transformers wrote. */
static void replan_fixture(const char *case_dir, const char *weights_name, cJSON *tensors) {
    size_t n = (size_t)cJSON_GetArraySize(tensors);
    uint64_t *sizes = calloc(n, sizeof *sizes);
    const char **names = calloc(n, sizeof *names);
    size_t i = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, tensors) {
        uint64_t numel = 1;
        cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItem(e, "shape")) numel *= (uint64_t)d->valuedouble;
        sizes[i] = numel * dtype_bytes(cJSON_GetObjectItem(e, "dtype")->valuestring);
        names[i++] = cJSON_GetObjectItem(e, "name")->valuestring;
    }
    uint64_t max;
    CHECK_OK(am__parse_shard_size("20KB", &max));
    am__shard_plan plan;
    CHECK_OK(am__plan_shards(n, sizes, NULL, max, &plan));
    char **files = calloc(n, sizeof *files);
    for (i = 0; i < n; i++) files[i] = am__shard_file_name(weights_name, plan.shard_of[i], plan.n_shards);
    char *json = am__shard_index_json(plan.total_size, n, names, (const char *const *)files);
    char rel[256];
    snprintf(rel, sizeof rel, "formats/%s/%s.index.json", case_dir, weights_name);
    char *want = am_test_read_file(am_test_fixture(rel), NULL);
    CHECKF(json && want && !strcmp(json, want), "%s: index text differs:\n%s\n--- want ---\n%s", rel, json, want);
    free(want);
    free(json);
    for (i = 0; i < n; i++) free(files[i]);
    free(files);
    am__shard_plan_free(&plan);
    free(sizes);
    free(names);
}

static void test_shard_plan(void) {
    /* load_sharded_bin: the state dict order is the shards' concatenation */
    cJSON *j = load_json(am_test_fixture("formats/load_sharded_bin/expected.json"));
    if (j) {
        cJSON *all = cJSON_CreateArray();
        cJSON *w;
        cJSON_ArrayForEach(w, cJSON_GetObjectItem(cJSON_GetObjectItem(j, "checkpoint"), "weights")) {
            cJSON *t;
            cJSON_ArrayForEach(t, cJSON_GetObjectItem(w, "tensors")) cJSON_AddItemReferenceToArray(all, t);
        }
        replan_fixture("load_sharded_bin", "pytorch_model.bin", all);
        cJSON_Delete(all);
        cJSON_Delete(j);
    }
    /* load_sharded_safetensors: the loaded state dict's order (float32 names) */
    j = load_json(am_test_fixture("formats/load_sharded_safetensors/expected.json"));
    if (j) {
        cJSON *sd = cJSON_GetObjectItem(j, "loaded_state_dict"), *t;
        cJSON_ArrayForEach(t, sd) { /* expected.json spells dtypes "float32" here */
            cJSON *d = cJSON_GetObjectItem(t, "dtype");
            if (!strcmp(d->valuestring, "float32")) cJSON_SetValuestring(d, "F32");
        }
        replan_fixture("load_sharded_safetensors", "model.safetensors", sd);
        cJSON_Delete(j);
    }
    /* shared storages join the shard of their first alias and count once; a lone big tensor
     * gets its own shard */
    uint64_t sizes[] = {10, 30, 10, 10, 100, 5};
    int a, b;
    const void *ids[] = {&a, &b, &a, NULL, NULL, NULL};
    am__shard_plan p;
    CHECK_OK(am__plan_shards(6, sizes, ids, 40, &p));
    size_t want[] = {0, 0, 0, 1, 2, 3};
    for (int i = 0; i < 6; i++) CHECKF(p.shard_of[i] == want[i], "tensor %d in shard %zu", i, p.shard_of[i]);
    CHECK(p.n_shards == 4 && p.total_size == 155);
    am__shard_plan_free(&p);
    /* escaping as json.dumps(ensure_ascii=True) */
    const char *names[] = {"z\"q", "a\xc3\xa9\xf0\x9f\x98\x80\n"};
    const char *files[] = {"f1", "f2"};
    char *js = am__shard_index_json(3, 2, names, files);
    CHECK(js && !strcmp(js, "{\n  \"metadata\": {\n    \"total_size\": 3\n  },\n  \"weight_map\": {\n    \"a\\u00e9\\ud83d\\ude00\\n\": "
                          "\"f2\",\n    \"z\\\"q\": \"f1\"\n  }\n}\n"));
    free(js);
    js = am__shard_index_json(0, 0, NULL, NULL);
    CHECK(js && !strcmp(js, "{\n  \"metadata\": {\n    \"total_size\": 0\n  },\n  \"weight_map\": {}\n}\n"));
    free(js);
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/am_test_torch_bin_XXXXXX");
    if (!mkdtemp(g_tmp)) return 1;
    test_fixtures();
    test_round_trip();
    test_zip_hostile();
    test_pickle_hostile();
    test_archive_hostile();
    test_shard_index();
    test_shard_size();
    test_shard_plan();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (am_test_failures == 0) am_test_run(cmd, NULL);
    else fprintf(stderr, "outputs kept in %s\n", g_tmp);
    return 0;
}
