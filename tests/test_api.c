/* tests/test_api.c — the public API beyond fixture parity: config get/set and JSON, loading with a
 * modified config, from_config determinism and init statistics, train/eval with dropout active
 * only in training mode, dtype and task names. */
#include "harness.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static am_tensors *ids_input(int64_t B, int64_t T, int64_t vocab) {
    int64_t shape[2] = {B, T};
    am_tensor *t = am_tensor_new(AM_I64, 2, shape);
    int64_t *p = am_tensor_data(t);
    for (int64_t i = 0; i < B * T; i++) p[i] = 1 + (i * 7) % (vocab - 1);
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", t);
    am_tensor_free(t);
    return in;
}

static double max_diff(am_tensors *a, am_tensors *b, const char *name) {
    am_tensor *x = am_tensors_get(a, name), *y = am_tensors_get(b, name);
    if (!x || !y || am_tensor_numel(x) != am_tensor_numel(y)) return INFINITY;
    /* a bf16/f16 model's outputs come in its dtype: read as float32 */
    am_tensor *xf = am_tensor_to(x, AM_F32), *yf = am_tensor_to(y, AM_F32);
    const float *p = am_tensor_cdata(xf), *q = am_tensor_cdata(yf);
    double m = 0;
    for (int64_t i = 0; i < am_tensor_numel(x); i++) m = fmax(m, fabs((double)p[i] - q[i]));
    am_tensor_free(xf);
    am_tensor_free(yf);
    return m;
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", am_test_fixture("models/bert_seqcls"));

    /* config: typed get/set, labels, JSON values, repr */
    am_config *c = am_config_from_pretrained(dir);
    CHECK(c != NULL);
    int64_t h;
    CHECK_OK(am_config_get_int(c, "hidden_size", &h));
    CHECK(h == 32);
    double eps;
    CHECK_OK(am_config_get_float(c, "layer_norm_eps", &eps));
    CHECK(eps == 1e-12);
    const char *act;
    CHECK_OK(am_config_get_string(c, "hidden_act", &act));
    CHECK(!strcmp(act, "gelu"));
    CHECK(am_config_get_int(c, "hidden_act", &h) == AM_ERR_INVALID_ARGUMENT);
    CHECK(am_config_get_int(c, "no_such_key", &h) == AM_ERR_NOT_FOUND);
    bool b;
    CHECK_OK(am_config_get_bool(c, "use_cache", &b));
    CHECK(b);
    CHECK(am_config_num_labels(c) == 3 && !strcmp(am_config_id2label(c, 2), "positive"));
    /* defaults of keys config.json leaves out behave as transformers' */
    CHECK_OK(am_config_get_bool(c, "tie_word_embeddings", &b));
    CHECK(b);
    CHECK(am_config_model_type(c) && !strcmp(am_config_model_type(c), "bert"));
    CHECK(am_config_set_string(c, "model_type", "gpt2") != AM_OK);
    CHECK_OK(am_config_set_json(c, "id2label", "{\"0\": \"a\", \"1\": \"b\"}"));
    CHECK(am_config_num_labels(c) == 2 && !strcmp(am_config_id2label(c, 1), "b"));
    char *j = am_config_get_json(c, "id2label");
    CHECK(j && strstr(j, "\"1\": \"b\""));
    am_free(j);
    CHECK_OK(am_config_set_num_labels(c, 4));
    CHECK(am_config_num_labels(c) == 4 && !strcmp(am_config_id2label(c, 3), "LABEL_3"));
    CHECK_OK(am_config_set_float(c, "hidden_dropout_prob", 0.25));
    CHECK_OK(am_config_set_int(c, "num_hidden_layers", 1));
    char *js = am_config_to_json_string(c);
    CHECK(js && strstr(js, "\"hidden_dropout_prob\": 0.25") && strstr(js, "\"num_hidden_layers\": 1,") && strstr(js, "\"LABEL_3\": 3"));
    am_free(js);

    /* load with the modified config: one layer, 4 labels */
    am_load_options o = am_load_options_default();
    o.config = c;
    o.ignore_mismatched_sizes = true;
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, dir, &o);
    CHECKF(m != NULL, "%s", am_last_error());
    if (m) {
        const am_loading_info *li = am_model_loading_info(m);
        CHECK(li->n_unexpected == 16); /* every tensor of layer 1 */
        CHECK(li->n_mismatched == 2);
        CHECK(li->n_unexpected && !strncmp(li->unexpected_keys[0], "bert.encoder.layer.1.", 21));
        char *r = am_model_repr(m);
        CHECK(r && !strstr(r, "(1): BertLayer") && strstr(r, "Dropout(p=0.25, inplace=False)") && strstr(r, "out_features=4"));
        am_free(r);
        am_model_free(m);
    }
    am_config_free(c);

    /* from_config: seeded, training mode, transformers' init */
    c = am_config_from_pretrained(dir);
    am_model *a = am_model_from_config(AM_TASK_SEQUENCE_CLASSIFICATION, c, 123), *a2 = am_model_from_config(AM_TASK_SEQUENCE_CLASSIFICATION, c, 123);
    am_model *a3 = am_model_from_config(AM_TASK_SEQUENCE_CLASSIFICATION, c, 124);
    CHECK(a && a2 && a3 && am_model_is_training(a));
    if (a && a2 && a3) {
        const am_tensor *w = am_model_get_parameter(a, "bert.encoder.layer.0.attention.self.query.weight");
        const am_tensor *w2 = am_model_get_parameter(a2, "bert.encoder.layer.0.attention.self.query.weight");
        const am_tensor *w3 = am_model_get_parameter(a3, "bert.encoder.layer.0.attention.self.query.weight");
        CHECK(!memcmp(am_tensor_cdata(w), am_tensor_cdata(w2), am_tensor_nbytes(w)));
        CHECK(memcmp(am_tensor_cdata(w), am_tensor_cdata(w3), am_tensor_nbytes(w)) != 0);
        const float *p = am_tensor_cdata(w);
        double s = 0, s2 = 0;
        int64_t n = am_tensor_numel(w);
        for (int64_t i = 0; i < n; i++) s += p[i], s2 += (double)p[i] * p[i];
        double mean = s / n, std = sqrt(s2 / n - mean * mean);
        CHECKF(fabs(mean) < 0.05 && fabs(std - 0.2) < 0.03, "init mean %g std %g (initializer_range 0.2)", mean, std);
        const float *bias = am_tensor_cdata(am_model_get_parameter(a, "bert.encoder.layer.0.attention.self.query.bias"));
        const float *lnw = am_tensor_cdata(am_model_get_parameter(a, "bert.embeddings.LayerNorm.weight"));
        const float *emb = am_tensor_cdata(am_model_get_parameter(a, "bert.embeddings.word_embeddings.weight"));
        CHECK(bias[0] == 0 && bias[31] == 0 && lnw[0] == 1 && lnw[31] == 1);
        CHECK(emb[0] == 0 && emb[31] == 0); /* padding_idx row */

        /* dropout: active only in training mode */
        am_tensors *in = ids_input(2, 6, 99);
        am_tensors *t1 = am_model_forward(a, in, NULL), *t2 = am_model_forward(a, in, NULL);
        CHECK(t1 && t2 && max_diff(t1, t2, "logits") > 1e-6);
        am_model_train(a, false);
        am_tensors *e1 = am_model_forward(a, in, NULL), *e2 = am_model_forward(a, in, NULL);
        CHECK(e1 && e2 && max_diff(e1, e2, "logits") == 0);
        /* thread count does not change results beyond float noise */
        am_set_num_threads(1);
        am_tensors *e3 = am_model_forward(a, in, NULL);
        am_set_num_threads(0);
        CHECK(e3 && max_diff(e1, e3, "logits") < 1e-5);
        am_tensors_free(t1);
        am_tensors_free(t2);
        am_tensors_free(e1);
        am_tensors_free(e2);
        am_tensors_free(e3);
        am_tensors_free(in);
    }
    am_model_free(a);
    am_model_free(a2);
    am_model_free(a3);
    am_config_free(c);

    /* precision: torch_dtype=bfloat16 / float16, model.to(dtype), "auto" from a saved bf16 model */
    {
        am_model *f32 = am_model_from_pretrained(AM_TASK_AUTO, dir, NULL);
        am_load_options lo = am_load_options_default();
        lo.dtype = AM_BF16;
        am_model *bf = am_model_from_pretrained(AM_TASK_AUTO, dir, &lo);
        CHECKF(f32 && bf, "%s", am_last_error());
        if (f32 && bf) {
            CHECK(am_model_dtype(bf) == AM_BF16);
            CHECK(am_tensor_dtype(am_model_get_parameter(bf, "classifier.weight")) == AM_BF16);
            /* parameters at 2 bytes, int64 buffers unchanged */
            CHECK(am_model_memory_footprint(bf, false) * 2 == am_model_memory_footprint(f32, false));
            CHECK(am_model_memory_footprint(bf, true) - am_model_memory_footprint(bf, false) == 1024);
            am_tensors *in = ids_input(2, 5, 99);
            am_tensors *o1 = am_model_forward(f32, in, NULL), *o2 = am_model_forward(bf, in, NULL);
            double d = max_diff(o1, o2, "logits");
            CHECKF(o2 && d < 0.05 && d > 0, "bf16 logits differ from float32 by %g", d);
            am_tensors_free(o1);
            am_tensors_free(o2);
            /* save bf16, reload with auto -> bf16, default -> float32 */
            CHECK_OK(am_model_save_pretrained(bf, "/tmp/am_api_bf16", NULL));
            lo.dtype = AM_DTYPE_AUTO;
            am_model *back = am_model_from_pretrained(AM_TASK_AUTO, "/tmp/am_api_bf16", &lo);
            CHECK(back && am_model_dtype(back) == AM_BF16);
            const char *td = NULL;
            CHECK(back && am_config_get_string(am_model_config(back), "torch_dtype", &td) == AM_OK && !strcmp(td, "bfloat16"));
            am_model *back32 = am_model_from_pretrained(AM_TASK_AUTO, "/tmp/am_api_bf16", NULL);
            CHECK(back32 && am_model_dtype(back32) == AM_F32);
            /* to(float16) and back keeps shapes, dtype and the forward finite */
            CHECK_OK(am_model_to_dtype(back32, AM_F16));
            CHECK(am_model_dtype(back32) == AM_F16);
            am_tensors *o3 = am_model_forward(back32, in, NULL);
            CHECK(o3 && isfinite(((const float *)am_tensor_cdata(am_tensors_get(o3, "logits")))[0]));
            am_tensors_free(o3);
            CHECK(am_model_to_dtype(back32, AM_I64) != AM_OK);
            am_model_free(back);
            am_model_free(back32);
            am_tensors_free(in);
            CHECK(system("rm -rf /tmp/am_api_bf16") == 0);
        }
        am_model_free(f32);
        am_model_free(bf);
    }

    /* names */
    am_task t;
    CHECK(am_task_parse("question-answering", &t) == AM_OK && t == AM_TASK_QUESTION_ANSWERING);
    CHECK(am_task_parse("translate", &t) != AM_OK);
    CHECK(!strcmp(am_task_name(AM_TASK_MASKED_LM), "masked-lm"));
    CHECK(!strcmp(am_dtype_name(AM_BF16), "bfloat16") && !strcmp(am_dtype_st_name(AM_I64), "I64"));

    /* tensors round trip through safetensors */
    am_tensors *ts = ids_input(1, 3, 10);
    CHECK_OK(am_tensors_save_safetensors(ts, "/tmp/am_api_ts.safetensors"));
    am_tensors *back = am_tensors_load_safetensors("/tmp/am_api_ts.safetensors");
    CHECK(back && am_tensors_count(back) == 1 && !memcmp(am_tensor_cdata(am_tensors_at(back, 0)), am_tensor_cdata(am_tensors_at(ts, 0)), 24));
    am_tensors_free(back);
    am_tensors_free(ts);
    unlink("/tmp/am_api_ts.safetensors");
    return 0;
}
