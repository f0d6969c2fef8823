/* tests/test_mapped.c — weights mapped from safetensors files. (1) A file whose tensors sit at odd
 * offsets (the format guarantees only byte alignment: here the header length is odd, so every
 * tensor is misaligned) loads with each tensor copied once into aligned memory, logged at debug
 * level, and gives the same outputs bit for bit. (2) Mapped weights are read-only: the getters are
 * const, am_tensor_data refuses a mapped tensor, and am_model_parameter_mut copies a weight into
 * owned memory once so it can be edited, as model.state_dict()[k].copy_() does: the output
 * changes accordingly, tied weights stay tied, and the file on disk is unchanged. */
#include "harness.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int g_misaligned_logs;
static void log_cb(am_log_level level, const char *msg, void *user) {
    (void)user;
    if (level == AM_LOG_DEBUG && strstr(msg, "misaligned offset")) g_misaligned_logs++;
}

static bool write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static am_tensors *run(am_model *m, const int64_t *ids, int64_t B, int64_t T) {
    int64_t shape[2] = {B, T};
    am_tensor *t = am_tensor_from_data(AM_I64, 2, shape, ids);
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", t);
    am_tensor_free(t);
    am_tensors *out = am_model_forward(m, in, NULL);
    CHECKF(out != NULL, "forward: %s", am_last_error());
    am_tensors_free(in);
    return out;
}

static const float *logits(am_tensors *out) {
    am_tensor *t = out ? am_tensors_get(out, "logits") : NULL;
    return t ? am_tensor_cdata(t) : NULL;
}

/* DIR/model.safetensors rewritten with an odd header length: every tensor's data moves to an odd
 * byte offset in the file. */
static void make_misaligned(const char *src_dir, const char *dst_dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/model.safetensors", src_dir);
    size_t len = 0;
    unsigned char *buf = (unsigned char *)am_test_read_file(p, &len);
    CHECK(buf && len > 8);
    if (!buf) return;
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | buf[i];
    size_t trimmed = (size_t)hl;
    while (trimmed && buf[8 + trimmed - 1] == ' ') trimmed--; /* drop the 8-byte padding spaces */
    uint64_t nhl = trimmed % 2 ? trimmed : trimmed + 1;       /* odd: one space added when needed */
    size_t dlen = len - 8 - (size_t)hl;
    unsigned char *o = malloc(8 + nhl + dlen);
    for (int i = 0; i < 8; i++) o[i] = (unsigned char)(nhl >> (8 * i));
    memcpy(o + 8, buf + 8, trimmed);
    if (nhl > trimmed) o[8 + trimmed] = ' ';
    memcpy(o + 8 + nhl, buf + 8 + hl, dlen);
    snprintf(p, sizeof p, "%s/model.safetensors", dst_dir);
    CHECK(write_file(p, o, 8 + nhl + dlen));
    free(o);
    free(buf);
    char q[4200];
    snprintf(p, sizeof p, "%s/config.json", src_dir);
    snprintf(q, sizeof q, "%s/config.json", dst_dir);
    char *cfg = am_test_read_file(p, &len);
    CHECK(cfg && write_file(q, cfg, len));
    free(cfg);
}

static void misaligned(const char *work) {
    char src[2048], dst[2048];
    snprintf(src, sizeof src, "%s", am_test_fixture("models/bert_seqcls"));
    snprintf(dst, sizeof dst, "%s/odd", work);
    mkdir(dst, 0755);
    make_misaligned(src, dst);
    am_model *a = am_model_from_pretrained(AM_TASK_AUTO, src, NULL);
    am_log_set_callback(log_cb, NULL);
    am_log_set_level(AM_LOG_DEBUG);
    am_model *b = am_model_from_pretrained(AM_TASK_AUTO, dst, NULL);
    am_log_set_level(AM_LOG_ERROR);
    am_log_set_callback(NULL, NULL);
    CHECKF(a && b, "load: %s", am_last_error());
    if (!a || !b) return;
    size_t n = am_model_state_dict_count(b);
    CHECKF(g_misaligned_logs == (int)n, "%d debug messages for %zu misaligned tensors", g_misaligned_logs, n);
    size_t aligned = 0, mapped_a = 0;
    for (size_t i = 0; i < n; i++) {
        const am_tensor *t = am_model_state_dict_tensor(b, i);
        aligned += (uintptr_t)am_tensor_cdata(t) % am_dtype_size(am_tensor_dtype(t)) == 0;
        /* the copies are the model's own memory (writable); the aligned file's tensors are mapped views */
        CHECK(am_tensor_data((am_tensor *)t) != NULL);
        mapped_a += am_tensor_data((am_tensor *)am_model_state_dict_tensor(a, i)) == NULL;
    }
    CHECKF(aligned == n, "%zu of %zu tensors aligned to their element size", aligned, n);
    CHECKF(mapped_a == n, "%zu of %zu tensors of the aligned file are read-only mapped views", mapped_a, n);
    CHECK(am_model_memory_footprint(a, false) == am_model_memory_footprint(b, false));
    int64_t ids[10] = {2, 7, 9, 11, 3, 4, 8, 15, 21, 1};
    am_tensors *oa = run(a, ids, 2, 5), *ob = run(b, ids, 2, 5);
    am_tensor *la = oa ? am_tensors_get(oa, "logits") : NULL, *lb = ob ? am_tensors_get(ob, "logits") : NULL;
    CHECKF(la && lb && am_tensor_nbytes(la) == am_tensor_nbytes(lb) && !memcmp(am_tensor_cdata(la), am_tensor_cdata(lb), am_tensor_nbytes(la)),
           "logits from the misaligned file differ");
    am_tensors_free(oa);
    am_tensors_free(ob);
    am_model_free(a);
    am_model_free(b);
}

static void copy_on_write(const char *work) {
    /* a private copy of gpt2_lm, to check the file is never written */
    char src[2048], dir[2048], p[4200], q[4200];
    snprintf(src, sizeof src, "%s", am_test_fixture("models/gpt2_lm"));
    snprintf(dir, sizeof dir, "%s/gpt2", work);
    mkdir(dir, 0755);
    const char *files[] = {"config.json", "model.safetensors", "generation_config.json"};
    for (int i = 0; i < 3; i++) {
        size_t len;
        snprintf(p, sizeof p, "%s/%s", src, files[i]);
        snprintf(q, sizeof q, "%s/%s", dir, files[i]);
        char *d = am_test_read_file(p, &len);
        CHECK(d && write_file(q, d, len));
        free(d);
    }
    snprintf(q, sizeof q, "%s/model.safetensors", dir);
    size_t flen0 = 0;
    char *file0 = am_test_read_file(q, &flen0);

    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, dir, NULL);
    CHECKF(m != NULL, "gpt2_lm: %s", am_last_error());
    if (!m) return;
    const am_tensor *wte = am_model_get_parameter(m, "transformer.wte.weight");
    CHECK(wte && am_model_get_parameter(m, "lm_head.weight") == wte); /* tied */
    /* writing needs the explicit call: the mapped view refuses */
    CHECK(am_tensor_data((am_tensor *)wte) == NULL && strstr(am_last_error(), "read-only"));
    CHECK(am_model_parameter_mut(m, "no.such.weight") == NULL);
    CHECK(strstr(am_last_error(), "no.such.weight") != NULL);

    int64_t ids[6] = {5, 9, 13, 2, 7, 11};
    am_tensors *before = run(m, ids, 1, 6);
    int64_t V = am_tensor_dim(wte, 0), D = am_tensor_dim(wte, 1);
    const int64_t X = 17; /* a token the prompt does not use */

    am_tensor *w = am_model_parameter_mut(m, "lm_head.weight");
    CHECKF(w != NULL, "parameter_mut: %s", am_last_error());
    if (!w) return;
    float *wd = am_tensor_data(w);
    CHECK(wd != NULL);
    /* tied: both names now give the one writable copy */
    CHECK(am_model_get_parameter(m, "transformer.wte.weight") == w && am_model_get_parameter(m, "lm_head.weight") == w);
    CHECK(am_model_parameter_mut(m, "transformer.wte.weight") == w); /* copied once */
    /* state_dict()["lm_head.weight"][X].copy_(2 * row Y): logits[:, X] become 2 * logits[:, Y] */
    const int64_t Y = 3;
    for (int64_t d = 0; wd && d < D; d++) wd[X * D + d] = 2.0f * wd[Y * D + d];
    am_tensors *after = run(m, ids, 1, 6);
    const float *lb = logits(before), *la = logits(after);
    int bad = 0, changed = 0;
    for (int64_t t = 0; la && lb && t < 6; t++)
        for (int64_t v = 0; v < V; v++) {
            float want = v == X ? 2.0f * lb[t * V + Y] : lb[t * V + v];
            if (fabsf(la[t * V + v] - want) > 1e-4f * (1 + fabsf(want))) bad++;
            if (v == X && la[t * V + v] != lb[t * V + v]) changed++;
        }
    CHECKF(la && lb && bad == 0 && changed == 6, "edited logits: %d wrong, %d of 6 changed", bad, changed);
    am_tensors_free(before);
    am_tensors_free(after);
    am_model_free(m);

    size_t flen1 = 0;
    char *file1 = am_test_read_file(q, &flen1);
    CHECKF(file0 && file1 && flen0 == flen1 && !memcmp(file0, file1, flen0), "the model file changed on disk");
    free(file0);
    free(file1);
    /* a fresh load sees the file's weights, not the edit */
    m = am_model_from_pretrained(AM_TASK_AUTO, dir, NULL);
    if (m) {
        const am_tensor *fresh = am_model_get_parameter(m, "lm_head.weight");
        const float *fd = am_tensor_cdata(fresh);
        CHECK(fd[X * D] != 2.0f * fd[Y * D] || fd[X * D + 1] != 2.0f * fd[Y * D + 1]);
    }
    am_model_free(m);
}

int am_test_main(int argc, char **argv) {
    (void)argc, (void)argv;
    char work[] = "/tmp/am_mapped_XXXXXX";
    if (!mkdtemp(work)) return 1;
    misaligned(work);
    copy_on_write(work);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", work);
    CHECK(system(cmd) == 0);
    return 0;
}
