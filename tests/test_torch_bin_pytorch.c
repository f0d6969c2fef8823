/* tests/test_torch_bin_pytorch.c — pytorch_model.bin against real PyTorch (Debian python3-torch):
 * torch.load(weights_only=True) reads what we write (values, dtypes, shapes, shared storages), we
 * read what torch.save writes (tied pair, fp16, bf16, int64, bool, a non-contiguous view, a view at
 * an offset, and a deflated re-pack), and the reference fixtures load to the values torch sees.
 * Exits 77 (ctest: skipped) when python3 cannot import torch. */
#include "core/tensor.h"
#include "formats/torch_bin.h"
#include "harness.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_tmp[256];
static const char *g_py;

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_tmp, name);
    return buf[k];
}

static int py(const char *cmd, const char *a, const char *b) {
    char line[2048];
    snprintf(line, sizeof line, "'%s' '%s' %s '%s' '%s' 2>&1", g_py, am_test_fixture("formats/torch_interop.py"), cmd, a, b);
    char *out = NULL;
    int rc = am_test_run(line, &out);
    if (rc != 0) fprintf(stderr, "python %s %s failed (%d):\n%s\n", cmd, a, rc, out ? out : "");
    free(out);
    return rc;
}

/* Writes our tensors as a dump folder (see torch_interop.py). */
static void dump(const am_tensors *ts, const char *dir, const char *const *shares, size_t n_shares) {
    mkdir(dir, 0755);
    char p[600];
    snprintf(p, sizeof p, "%s/manifest.txt", dir);
    FILE *m = fopen(p, "w");
    for (size_t i = 0; i < am_tensors_count(ts); i++) {
        am_tensor *t = am_tensors_at(ts, i);
        fprintf(m, "%s\t%s\t", am_tensors_name(ts, i), am_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) fprintf(m, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        fprintf(m, "\t%zu.raw\n", i);
        snprintf(p, sizeof p, "%s/%zu.raw", dir, i);
        FILE *f = fopen(p, "wb");
        fwrite(am_tensor_cdata(t), 1, am_tensor_nbytes(t), f);
        fclose(f);
    }
    for (size_t i = 0; i < n_shares; i++) fprintf(m, "same_storage\t%s\t%s\n", shares[2 * i], shares[2 * i + 1]);
    fclose(m);
}

/* Compares loaded tensors with a dump written by torch. */
static void compare_with_dump(const char *what, const am_tensors *ts, const char *dir) {
    char p[600], line[1024];
    snprintf(p, sizeof p, "%s/manifest.txt", dir);
    FILE *m = fopen(p, "r");
    CHECKF(m != NULL, "%s: no manifest", what);
    if (!m) return;
    size_t n = 0;
    while (fgets(line, sizeof line, m)) {
        line[strcspn(line, "\n")] = 0;
        char *f[4] = {line, NULL, NULL, NULL};
        for (int k = 1; k < 4; k++) {
            char *tab = f[k - 1] ? strchr(f[k - 1], '\t') : NULL;
            if (tab) *tab = 0, f[k] = tab + 1;
        }
        if (!strcmp(f[0], "same_storage")) {
            am_tensor *a = am_tensors_get(ts, f[1]), *b = am_tensors_get(ts, f[2]);
            CHECKF(a && b && a->storage == b->storage, "%s: %s and %s should share a storage", what, f[1], f[2]);
            continue;
        }
        n++;
        am_tensor *t = am_tensors_get(ts, f[0]);
        CHECKF(t != NULL, "%s: missing %s", what, f[0]);
        if (!t) continue;
        CHECKF(!strcmp(am_dtype_name(t->dtype), f[1]), "%s: %s is %s, torch says %s", what, f[0], am_dtype_name(t->dtype), f[1]);
        char shape[256] = "";
        for (int d = 0; d < t->ndim; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? "," : "", (long long)t->shape[d]);
        CHECKF(!strcmp(shape, f[2]), "%s: %s shape %s, torch says %s", what, f[0], shape, f[2]);
        snprintf(p, sizeof p, "%s/%s", dir, f[3]);
        size_t len = 0;
        char *raw = am_test_read_file(p, &len);
        CHECKF(raw && len == am_tensor_nbytes(t) && !memcmp(raw, am_tensor_cdata(t), len), "%s: %s values differ from torch's",
               what, f[0]);
        free(raw);
    }
    fclose(m);
    CHECKF(n == am_tensors_count(ts), "%s: torch has %zu tensors, we have %zu", what, n, am_tensors_count(ts));
}

static am_tensor *ramp(am_dtype dt, int nd, const int64_t *shape, int seed) {
    am_tensor *f = am_tensor_new(AM_F64, nd, shape);
    double *p = am_tensor_data(f);
    for (int64_t i = 0; i < am_tensor_numel(f); i++) p[i] = (double)((i * 7 + seed * 13) % 23) - 11.0 + (dt == AM_BOOL ? 11.5 : 0.25);
    am_tensor *t = am__tensor_convert(f, dt);
    am_tensor_free(f);
    return t;
}

static void add(am_tensors *ts, const char *name, am_tensor *t) {
    CHECK_OK(am_tensors_set(ts, name, t));
    am_tensor_free(t);
}

static void test_torch_reads_ours(void) {
    am_tensors *ts = am_tensors_new();
    int64_t s2[2] = {3, 4}, s1[1] = {6}, se[2] = {0, 2};
    am_dtype dts[] = {AM_F32, AM_F16, AM_BF16, AM_F64, AM_I64, AM_I32, AM_I16, AM_I8, AM_U8, AM_BOOL};
    for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "w.%s", am_dtype_name(dts[i]));
        add(ts, name, ramp(dts[i], 2, s2, (int)i));
    }
    am_tensor *emb = ramp(AM_F32, 2, s2, 42);
    add(ts, "embed.weight", am_tensor_retain(emb));
    add(ts, "lm_head.weight", emb);
    am__storage *st = am__storage_new(12 * sizeof(uint16_t));
    for (int i = 0; i < 12; i++) ((uint16_t *)st->ptr)[i] = am__f32_to_bf16((float)i - 3.5f);
    add(ts, "part.a", am__tensor_view_storage(st, 0, AM_BF16, 1, s1));
    add(ts, "part.b", am__tensor_view_storage(st, 6 * sizeof(uint16_t), AM_BF16, 1, s1));
    am__storage_release(st);
    add(ts, "scalar", ramp(AM_I64, 0, s1, 3));
    add(ts, "empty", am_tensor_new(AM_F16, 2, se));
    const char *shares[] = {"embed.weight", "lm_head.weight", "part.a", "part.b"};
    dump(ts, tmp_path("ours"), shares, 2);
    CHECK_OK(am__torch_bin_save(ts, tmp_path("pytorch_model.bin")));
    CHECKF(py("check", tmp_path("pytorch_model.bin"), tmp_path("ours")) == 0, "torch.load of our file");
    CHECK_OK(am__torch_bin_save_ex(ts, tmp_path("zip64.bin"), true));
    CHECKF(py("check", tmp_path("zip64.bin"), tmp_path("ours")) == 0, "torch.load of our ZIP64 file");
    am_tensors_free(ts);
}

static void test_we_read_torch(void) {
    CHECK(py("make", tmp_path("torch_written.bin"), tmp_path("theirs")) == 0);
    am_tensors *ts = NULL;
    CHECK_OK(am__torch_bin_load(tmp_path("torch_written.bin"), &ts));
    if (ts) {
        compare_with_dump("torch_written.bin", ts, tmp_path("theirs"));
        am_tensor *e = am_tensors_get(ts, "emb.weight"), *h = am_tensors_get(ts, "lm_head.weight");
        CHECK(e && h && e->data == h->data && am__tensor_is_mapped(e));
        am_tensor *b = am_tensors_get(ts, "base"), *r = am_tensors_get(ts, "base.row1"), *bt = am_tensors_get(ts, "base.T");
        CHECK(b && r && (char *)r->data - (char *)b->data == 6 * 4);
        CHECK(bt && !am__tensor_is_mapped(bt) && am_tensor_dim(bt, 0) == 6);
    }
    am_tensors_free(ts);
    /* re-packed with deflate by Python's zipfile: inflated and copied, same values */
    CHECK(py("deflate", tmp_path("torch_written.bin"), tmp_path("deflated.bin")) == 0);
    ts = NULL;
    CHECK_OK(am__torch_bin_load(tmp_path("deflated.bin"), &ts));
    if (ts) compare_with_dump("deflated.bin", ts, tmp_path("theirs"));
    am_tensors_free(ts);
}

static void test_fixture_values(void) {
    const char *files[] = {"load_legacy_bin/pytorch_model.bin", "load_safetensors_precedence/pytorch_model.bin",
                           "load_sharded_bin/pytorch_model-00003-of-00005.bin"};
    for (size_t i = 0; i < 3; i++) {
        char rel[256], dir[64];
        snprintf(rel, sizeof rel, "formats/%s", files[i]);
        snprintf(dir, sizeof dir, "fixture%zu", i);
        char src[512];
        snprintf(src, sizeof src, "%s", am_test_fixture(rel));
        CHECK(py("dump", src, tmp_path(dir)) == 0);
        am_tensors *ts = NULL;
        CHECK_OK(am__torch_bin_load(src, &ts));
        if (ts) compare_with_dump(files[i], ts, tmp_path(dir));
        am_tensors_free(ts);
    }
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    g_py = getenv("AM_TORCH_PYTHON") ? getenv("AM_TORCH_PYTHON") : "/usr/bin/python3";
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' >/dev/null 2>&1", g_py);
    if (am_test_run(cmd, NULL) != 0) {
        printf("SKIPPED: %s cannot import torch (apt-get install python3-torch)\n", g_py);
        exit(77);
    }
    snprintf(g_tmp, sizeof g_tmp, "/tmp/am_test_torch_py_XXXXXX");
    if (!mkdtemp(g_tmp)) return 1;
    test_torch_reads_ours();
    test_we_read_torch();
    test_fixture_values();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (am_test_failures == 0) am_test_run(cmd, NULL);
    else fprintf(stderr, "outputs kept in %s\n", g_tmp);
    return 0;
}
