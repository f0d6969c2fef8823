/* export/export.c — am_model_export_onnx: checks first (architecture, task, opset, dtype, target
 * folder), then the graph of the model's head from its describe hook, written with its config and
 * tokenizer files into a temporary folder that is renamed into place at the end. */
#include "automodel.h"
#include "auto/auto.h"
#include "core/error.h"
#include "core/json.h"
#include "export/onnx.h"
#include "hub/hub.h"
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ONNX_PROTO_LIMIT ((uint64_t)2 << 30) /* protobuf's 2 GB message limit */

am_onnx_export_options am_onnx_export_options_default(void) {
    am_onnx_export_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.opset = 17;
    o.dtype = AM_DTYPE_AUTO;
    return o;
}

static const char *const k_bs[] = {"batch_size", "sequence_length", NULL};
static const char *const k_b[] = {"batch_size", NULL};

/* positions of RoBERTa's create_position_ids_from_input_ids: pad + (cumsum(ids != pad) + past) * (ids != pad)
 * (past: the past length scalar, or NULL for 0) */
static const char *roberta_positions(am__ox *g, const char *ids, int64_t pad, const char *past) {
    const char *padc = am__ox_i64(g, 1, &pad, true);
    const char *ne = am__ox_1(g, "Not", am__ox_2(g, "Equal", ids, padc));
    ne = am__ox_op(g, "Cast", 1, &ne, 1, &(am__ox_attr){"to", 2, AM__OX_INT64, 0, NULL, 0}, 1);
    const char *cs = am__ox_2(g, "CumSum", ne, am__ox_i64(g, 1, (int64_t[]){1}, true));
    if (past) cs = am__ox_2(g, "Add", cs, past);
    return am__ox_2(g, "Add", am__ox_2(g, "Mul", cs, ne), padc);
}

static int64_t out_features(const am__module *lin) { return am__mod_tensor(lin, "weight")->shape[0]; }

/* the first token's row of h [B,T,H] -> [B,H] */
static const char *first_token(am__ox *g, const char *h) {
    return am__ox_op(g, "Gather", 2, (const char *[]){h, am__ox_i64(g, 1, (int64_t[]){0}, true)}, 1, &(am__ox_attr){"axis", 2, 1, 0, NULL, 0}, 1);
}

/* the last non-pad token of each row (GPT-2 / Llama sequence classification, am__last_non_pad):
 * (index of the first pad - 1) mod T, so a row without pad (argmax 0) or starting with one takes
 * the last position, as Python's -1 */
static const char *last_non_pad(am__ox *g, const char *ids, const char *h, const am__describe *d) {
    const char *shp = am__ox_1(g, "Shape", ids);
    const char *T = am__ox_2(g, "Gather", shp, am__ox_i64(g, 1, (int64_t[]){1}, true));
    const char *idx;
    if (d->has_pad) {
        const char *eq = am__ox_2(g, "Equal", ids, am__ox_i64(g, 1, &d->pad, true));
        eq = am__ox_op(g, "Cast", 1, &eq, 1, &(am__ox_attr){"to", 2, 6 /* INT32 */, 0, NULL, 0}, 1);
        am__ox_attr a[2] = {{"axis", 2, 1, 0, NULL, 0}, {"keepdims", 2, 0, 0, NULL, 0}};
        const char *first = am__ox_op(g, "ArgMax", 1, &eq, 2, a, 1);
        idx = am__ox_2(g, "Mod", am__ox_2(g, "Add", am__ox_2(g, "Sub", first, am__ox_i64(g, 1, (int64_t[]){1}, true)), T), T);
        idx = am__ox_2(g, "Unsqueeze", idx, am__ox_i64(g, 1, (int64_t[]){1}, false)); /* [B,1] */
    } else { /* no pad_token_id: the last position of every row */
        const char *last = am__ox_2(g, "Sub", T, am__ox_i64(g, 1, (int64_t[]){1}, true));
        const char *B = am__ox_2(g, "Gather", shp, am__ox_i64(g, 1, (int64_t[]){0}, false));
        idx = am__ox_2(g, "Expand", last, am__ox_op(g, "Concat", 2, (const char *[]){B, am__ox_i64(g, 1, (int64_t[]){1}, false)}, 1,
                                                   &(am__ox_attr){"axis", 2, 0, 0, NULL, 0}, 1));
    }
    return am__ox_op(g, "GatherND", 2, (const char *[]){h, idx}, 1, &(am__ox_attr){"batch_dims", 2, 1, 0, NULL, 0}, 1);
}

/* ViT: pixel_values [B,C,H,W] -> patches (the Conv2d) -> [CLS | patches] + positions -> stack ->
 * LayerNorm (am__vit_encode without interpolate_pos_encoding: the image is the config's size) */
static void vit_graph(am__ox *g, const am_model *m, const am__describe *d) {
    static const char *const k_px[] = {"batch_size", "num_channels", "height", "width"};
    const char *px = "pixel_values";
    int64_t H = d->stack->H;
    am__ox_io(g, false, px, AM__OX_FLOAT, 4, k_px, NULL);
    const am_tensor *w = am__mod_tensor(d->patch, "weight");
    int64_t kh = w->shape[2], kw = w->shape[3];
    am__ox_attr ca[2] = {{"kernel_shape", 7, 0, 0, (int64_t[]){kh, kw}, 2}, {"strides", 7, 0, 0, (int64_t[]){kh, kw}, 2}};
    const char *conv = am__ox_op(g, "Conv", 3, (const char *[]){px, am__ox_weight(g, d->patch, "weight"), am__ox_weight(g, d->patch, "bias")}, 2, ca, 1);
    const char *p = am__ox_2(g, "Reshape", conv, am__ox_i64(g, 3, (int64_t[]){0, 0, -1}, false)); /* [B,H,N] */
    p = am__ox_op(g, "Transpose", 1, &p, 1, &(am__ox_attr){"perm", 7, 0, 0, (int64_t[]){0, 2, 1}, 3}, 1);
    const char *b = am__ox_op(g, "Slice", 3, (const char *[]){am__ox_1(g, "Shape", px), am__ox_i64(g, 1, (int64_t[]){0}, false), am__ox_i64(g, 1, (int64_t[]){1}, false)}, 0, NULL, 1);
    const char *b11 = am__ox_op(g, "Concat", 3, (const char *[]){b, am__ox_i64(g, 1, (int64_t[]){1}, false), am__ox_i64(g, 1, (int64_t[]){1}, false)}, 1,
                                &(am__ox_attr){"axis", 2, 0, 0, NULL, 0}, 1);
    const char *cls = am__ox_2(g, "Expand", am__ox_weight(g, d->vit_emb, "cls_token"), b11); /* [B,1,H] */
    const char *x = am__ox_op(g, "Concat", 2, (const char *[]){cls, p}, 1, &(am__ox_attr){"axis", 2, 1, 0, NULL, 0}, 1);
    x = am__ox_2(g, "Add", x, am__ox_weight(g, d->vit_emb, "position_embeddings"));
    const char *h = am__ox_norm(g, &d->final_ln, am__ox_stack(g, d->stack, x, NULL, NULL));
    static const char *const k_seq[] = {"batch_size", "sequence_length", NULL};
    if (m->spec->task == AM_TASK_BASE) /* Optimum's feature-extraction outputs: last_hidden_state only */
        am__ox_output_as(g, h, "last_hidden_state", 3, k_seq, (int64_t[]){0, 0, H});
    else { /* image classification on the CLS token (nn.Identity without labels) */
        const char *f = first_token(g, h);
        am__ox_output_as(g, d->classifier ? am__ox_linear(g, d->classifier, false, f) : f, "logits", 2, k_b,
                         (int64_t[]){0, d->classifier ? out_features(d->classifier) : H});
    }
}

typedef enum graph_kind {
    G_MODEL,        /* model.onnx: no cache (positions 0..T-1, as a forward without position_ids) */
    G_DECODER,      /* decoder_model.onnx: position_ids in, present.N.key/value out */
    G_DECODER_PAST, /* decoder_with_past_model.onnx: past_key_values.N.key/value in as well */
} graph_kind;

/* One graph of the model (Optimum's inputs and outputs for the task). */
static void model_graph(am__ox *g, const am_model *m, const am__describe *d, graph_kind kind) {
    const am__stack *st = d->stack;
    int64_t H = st->H, L = st->n;
    const char *ids = "input_ids", *mask = "attention_mask", *types = d->token_types ? "token_type_ids" : NULL;
    static const char *const k_mask_past[] = {"batch_size", "past_sequence_length + sequence_length"};
    am__ox_io(g, false, ids, AM__OX_INT64, 2, k_bs, NULL);
    am__ox_io(g, false, mask, AM__OX_INT64, 2, kind == G_DECODER_PAST ? k_mask_past : k_bs, NULL);
    if (types) am__ox_io(g, false, types, AM__OX_INT64, 2, k_bs, NULL);
    const char *pos = NULL;
    /* position_ids: Optimum 1.13's TextDecoderWithPositionIdsOnnxConfig (GPT-2, Llama) takes them for
     * text-generation, with or without past (model.onnx of a causal LM too); 1.12 took none */
    if ((kind != G_MODEL || (d->decoder && m->spec->task == AM_TASK_CAUSAL_LM)) && !d->causal_encoder) {
        pos = "position_ids";
        am__ox_io(g, false, pos, AM__OX_INT64, 2, k_bs, NULL);
    }
    const char **pk = NULL, **pv = NULL, **prk = NULL, **prv = NULL;
    am__ox_cache cache = {0};
    int64_t kvh = L ? st->layer[0].self.kv_heads : 0, D = L ? st->layer[0].self.head_dim : 0;
    if (kind != G_MODEL) {
        pk = calloc((size_t)L + 1, sizeof *pk);
        pv = calloc((size_t)L + 1, sizeof *pv);
        prk = calloc((size_t)L + 1, sizeof *prk);
        prv = calloc((size_t)L + 1, sizeof *prv);
        if (!pk || !pv || !prk || !prv) {
            if (g->st == AM_OK) g->st = am__error(AM_ERR_NO_MEMORY, "export onnx: out of memory");
            goto out;
        }
        static const char *const k_past[] = {"batch_size", NULL, "past_sequence_length", NULL};
        for (int64_t i = 0; i < L && kind == G_DECODER_PAST; i++)
            for (int kv = 0; kv < 2; kv++) {
                char name[64];
                snprintf(name, sizeof name, "past_key_values.%lld.%s", (long long)i, kv ? "value" : "key");
                am__ox_io(g, false, name, AM__OX_FLOAT, 4, k_past, (int64_t[]){0, kvh, 0, D});
                (kv ? pv : pk)[i] = am__ox_name(g, name);
            }
        if (kind == G_DECODER_PAST) {
            cache.past_k = pk;
            cache.past_v = pv;
        }
        cache.present_k = prk;
        cache.present_v = prv;
    }
    if (st->rope) {
        const char *rp = pos;
        if (!rp) /* [1,T]: 0..T-1 for every row */
            rp = am__ox_2(g, "Unsqueeze",
                          am__ox_op(g, "Range", 3,
                                    (const char *[]){am__ox_i64(g, 1, (int64_t[]){0}, true),
                                                     am__ox_2(g, "Gather", am__ox_1(g, "Shape", ids), am__ox_i64(g, 1, (int64_t[]){1}, true)),
                                                     am__ox_i64(g, 1, (int64_t[]){1}, true)},
                                    0, NULL, 1),
                          am__ox_i64(g, 1, (int64_t[]){0}, false));
        am__ox_rope(g, st->rope, rp, &cache);
    }
    /* BERT / RoBERTa causal LM with past: positions after past_key_values.0.key's length (dim 2),
     * as their forward's past_key_values_length */
    const char *plen = kind == G_DECODER_PAST && d->causal_encoder
                           ? am__ox_2(g, "Gather", am__ox_1(g, "Shape", pk[0]), am__ox_i64(g, 1, (int64_t[]){2}, true))
                           : NULL;
    if (d->roberta_positions) pos = roberta_positions(g, ids, d->pad, plen);
    else if (plen && d->emb->pos) /* past .. past + T - 1 */
        pos = am__ox_op(g, "Range", 3,
                        (const char *[]){plen, am__ox_2(g, "Add", plen, am__ox_2(g, "Gather", am__ox_1(g, "Shape", ids), am__ox_i64(g, 1, (int64_t[]){1}, true))),
                                         am__ox_i64(g, 1, (int64_t[]){1}, true)},
                        0, NULL, 1);
    /* rotary models take their positions in the attention, not in the embeddings */
    const char *x = am__ox_embed(g, d->emb, ids, types, d->emb->pos ? pos : NULL);
    const char *h = am__ox_stack(g, st, x, am__ox_mask(g, mask, ids, st->causal), kind == G_MODEL && !st->rope ? NULL : &cache);
    switch (m->spec->task) {
    case AM_TASK_BASE: /* Optimum's feature-extraction outputs (OnnxConfig._TASK_TO_COMMON_OUTPUTS): last_hidden_state
                        * only; its ModelPatcher drops pooler_output from the traced outputs */
        am__ox_output_as(g, h, "last_hidden_state", 3, k_bs, (int64_t[]){0, 0, H});
        break;
    case AM_TASK_SEQUENCE_CLASSIFICATION: {
        const char *p = d->pool_last ? last_non_pad(g, ids, h, d) : first_token(g, h);
        if (d->cls_on_pooler) p = am__ox_1(g, "Tanh", am__ox_linear(g, d->pooler, false, p));
        else if (d->cls_dense) p = am__ox_act(g, d->cls_act, am__ox_linear(g, d->cls_dense, false, p));
        am__ox_output_as(g, am__ox_linear(g, d->classifier, false, p), "logits", 2, k_b, (int64_t[]){0, out_features(d->classifier)});
        break;
    }
    case AM_TASK_TOKEN_CLASSIFICATION:
        am__ox_output_as(g, am__ox_linear(g, d->classifier, false, h), "logits", 3, k_bs, (int64_t[]){0, 0, out_features(d->classifier)});
        break;
    case AM_TASK_QUESTION_ANSWERING: {
        const char *y = am__ox_linear(g, d->qa, false, h);
        for (int k = 0; k < 2; k++) {
            const char *o = am__ox_op(g, "Gather", 2, (const char *[]){y, am__ox_i64(g, 1, (int64_t[]){k}, true)}, 1,
                                      &(am__ox_attr){"axis", 2, 2, 0, NULL, 0}, 1);
            am__ox_output_as(g, o, k ? "end_logits" : "start_logits", 2, k_bs, NULL);
        }
        break;
    }
    case AM_TASK_MASKED_LM:
    case AM_TASK_CAUSAL_LM: {
        const char *t = h;
        if (d->lm_dense) t = am__ox_norm(g, &d->lm_norm, am__ox_act(g, d->lm_act, am__ox_linear(g, d->lm_dense, false, h)));
        am__ox_output_as(g, am__ox_linear(g, d->lm_decoder, false, t), "logits", 3, k_bs, (int64_t[]){0, 0, out_features(d->lm_decoder)});
        break;
    }
    default:
        if (g->st == AM_OK) g->st = am__error(AM_ERR_UNSUPPORTED, "export onnx: %s: task %s is not exportable", m->spec->class_name, am_task_name(m->spec->task));
    }
    if (kind != G_MODEL) {
        static const char *const k_present_past[] = {"batch_size", NULL, "past_sequence_length + sequence_length", NULL};
        static const char *const k_present[] = {"batch_size", NULL, "sequence_length", NULL};
        for (int64_t i = 0; i < L; i++)
            for (int kv = 0; kv < 2; kv++) {
                char name[64];
                snprintf(name, sizeof name, "present.%lld.%s", (long long)i, kv ? "value" : "key");
                am__ox_output_as(g, (kv ? prv : prk)[i], name, 4, kind == G_DECODER_PAST ? k_present_past : k_present, (int64_t[]){0, kvh, 0, D});
            }
    }
out:
    free(pk);
    free(pv);
    free(prk);
    free(prv);
}

void am__ox_decoder_graph(am__ox *g, const am_model *m, const am__describe *d, bool past) {
    model_graph(g, m, d, past ? G_DECODER_PAST : G_DECODER);
}

/* ---- files ---- */

static am_status write_pb(const am__pb *pb, const char *dir, const char *name) {
    char *p = am__path_join(dir, name);
    if (!p) return AM_ERR_NO_MEMORY;
    FILE *f = fopen(p, "wb");
    am_status s = f ? am__pb_write(pb, f, p) : am__error(AM_ERR_IO, "%s: cannot create: %s", p, strerror(errno));
    if (f && fclose(f) != 0 && s == AM_OK) s = am__error(AM_ERR_IO, "%s: write failed: %s", p, strerror(errno));
    free(p);
    return s;
}

/* what Optimum's exporter copies next to the graphs (save_preprocessors) */
static const char *const k_side_files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json",
                                           "merges.txt", "added_tokens.json", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model",
                                           "preprocessor_config.json", NULL};

static am_status copy_side_files(const char *src, const char *dir) {
    am_status s = AM_OK;
    for (int i = 0; s == AM_OK && k_side_files[i]; i++) {
        char *from = am__path_join(src, k_side_files[i]), *to = am__path_join(dir, k_side_files[i]);
        if (!from || !to) s = am__error(AM_ERR_NO_MEMORY, "export onnx: out of memory");
        else if (am__is_file(from) && (s = am__check_confined(from, src)) == AM_OK) {
            char *data;
            size_t len;
            if ((s = am__read_file(from, &data, &len)) == AM_OK) {
                s = am__write_file_atomic(to, data, len);
                free(data);
            }
        }
        free(from);
        free(to);
    }
    return s;
}

/* Wav2Vec2's attention_mask input: there unless the feature extractor next to the model says
 * return_attention_mask false (Optimum's Wav2Vec2 graphs then take input_values alone). A
 * preprocessor_config.json that cannot be read or parsed is an error naming it. */
static am_status w2v_wants_mask(const char *src, bool *mask) {
    *mask = true;
    char *p = src && am__is_dir(src) ? am__path_join(src, "preprocessor_config.json") : NULL;
    am_status s = AM_OK;
    if (p && am__is_file(p) && (s = am__check_confined(p, src)) == AM_OK) {
        char *text = NULL;
        size_t len = 0;
        cJSON *j = NULL;
        if ((s = am__read_file(p, &text, &len)) == AM_OK && (s = am__json_parse(text, len, p, &j)) == AM_OK) {
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "return_attention_mask");
            if (cJSON_IsBool(r)) *mask = cJSON_IsTrue(r);
        }
        cJSON_Delete(j);
        free(text);
    }
    free(p);
    return s;
}

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char *p = am__path_join(dir, e->d_name);
                if (p) unlink(p);
                free(p);
            }
        closedir(d);
    }
    rmdir(dir);
}

static bool dir_empty(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return false;
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d))) empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    return empty;
}

am_status am_model_export_onnx(const am_model *m, const char *out_dir, const am_onnx_export_options *opts) {
    am_onnx_export_options o = am_onnx_export_options_default();
    am_status s = AM__OPTS_IN(o, opts, "am_onnx_export_options");
    if (s) return s;
    if (!m || !out_dir || !*out_dir) return am__error(AM_ERR_INVALID_ARGUMENT, "export onnx: NULL argument");
    /* everything that can be refused is refused before anything is written */
    if (o.opset < 14 || o.opset > 17) return am__error(AM_ERR_UNSUPPORTED, "export onnx: opset %d is not supported (14 to 17)", o.opset);
    if (o.dtype != AM_DTYPE_AUTO && o.dtype != AM_F32 && o.dtype != AM_F16 && o.dtype != AM_BF16)
        return am__error(AM_ERR_INVALID_ARGUMENT, "export onnx: dtype must be float32, float16 or bfloat16");
    if (o.external_data < -1 || o.external_data > 1) return am__error(AM_ERR_INVALID_ARGUMENT, "export onnx: external_data must be -1, 0 or 1");
    if (!m->describe)
        return am__error(AM_ERR_UNSUPPORTED, "export onnx: %s (model_type %s) cannot be exported yet (supported: bert, roberta, distilbert, gpt2, llama, vit, yolos, segformer, t5, bart, whisper, vision-encoder-decoder, wav2vec2)",
                         m->spec->class_name, m->spec->model_type);
    if (m->quant_bits)
        return am__error(AM_ERR_UNSUPPORTED, "export onnx: a model loaded in %d-bit cannot be exported (its weights are bitsandbytes codes); "
                                             "load it without quantization", m->quant_bits);
    if (m->n_offloaded)
        return am__error(AM_ERR_UNSUPPORTED, "export onnx: a model with device_map \"disk\" weights cannot be exported yet; load it without a device_map");
    if (am__is_file(out_dir)) return am__error(AM_ERR_IO, "%s: exists and is a file", out_dir);
    if (am__is_dir(out_dir) && !dir_empty(out_dir)) return am__error(AM_ERR_IO, "%s: exists and is not empty; export onnx writes a new folder", out_dir);
    am__describe d;
    m->describe(m, &d);
    /* encoder-decoders (export/onnx_seq2seq.c): their own files and refusals */
    am__s2s_graph s2s_kind[3];
    const char *s2s_file[3], *s2s_data[3];
    int n_s2s = 0;
    if ((d.s2s || d.xdec) && (s = am__ox_s2s_plan(m, &d, o.with_past, &n_s2s, s2s_kind, s2s_file, s2s_data)) != AM_OK) return s;
    if (o.with_past && !d.s2s && !d.xdec && (!(d.decoder || d.causal_encoder) || m->spec->task != AM_TASK_CAUSAL_LM))
        return am__error(AM_ERR_UNSUPPORTED, "export onnx: --with-past needs a decoder's causal LM head (GPT-2, Llama, BERT, RoBERTa), not %s",
                         m->spec->class_name);
    bool w2v_mask = false;
    if (d.wav2vec2 && (s = w2v_wants_mask(o.source_dir ? o.source_dir : m->name_or_path, &w2v_mask)) != AM_OK) return s;
    /* the weights' bytes decide inline or external data before the graph is built */
    int64_t bytes = 0;
    am__named_param *np = NULL;
    size_t nparam = 0;
    if ((s = am__named_params(m->root, &np, &nparam)) != AM_OK) return s; /* out of memory: an error, not a miscount */
    for (size_t i = 0; i < nparam; i++) {
        const am_tensor *t = np[i].p->t;
        if (t && (!np[i].p->is_buffer || np[i].p->persistent) && am__dtype_is_float(t->dtype))
            bytes += am__shape_numel(t->ndim, t->shape) * (o.dtype == AM_F32 || (o.dtype == AM_DTYPE_AUTO && t->dtype == AM_F32) ? 4 : 2);
    }
    am__named_params_free(np, nparam);
    bool external = o.external_data == 1 || (o.external_data == 0 && (uint64_t)bytes + (64u << 20) > ONNX_PROTO_LIMIT);
    /* Optimum's files: model.onnx, or with past the decoder without and with the KV cache inputs,
     * and the two merged under an If (onnx_merged.c; G_MODEL there stands for "merged") */
    static const struct { graph_kind kind; const char *file, *data; } k_plain[] = {{G_MODEL, "model.onnx", "model.onnx_data"}},
                                                                     k_past[] = {{G_DECODER, "decoder_model.onnx", "decoder_model.onnx_data"},
                                                                                 {G_DECODER_PAST, "decoder_with_past_model.onnx",
                                                                                  "decoder_with_past_model.onnx_data"},
                                                                                 {G_MODEL, "decoder_model_merged.onnx", "decoder_model_merged.onnx_data"}};
    int nfiles = d.s2s || d.xdec ? n_s2s : o.with_past ? 3 : 1;
    /* a sibling temporary folder, renamed into place: no partial output */
    char *tmp = am__strfmt("%s.tmp.%ld", out_dir, (long)getpid());
    if (!tmp) s = am__error(AM_ERR_NO_MEMORY, "export onnx: out of memory");
    if (s == AM_OK && strrchr(out_dir, '/') && strrchr(out_dir, '/') != out_dir) { /* the parent folder, as mkdir -p */
        char *parent = am__strdup(out_dir);
        if (parent) *strrchr(parent, '/') = 0;
        s = am__mkdirs(parent);
        free(parent);
    }
    if (s == AM_OK && mkdir(tmp, 0755) != 0) s = am__error(AM_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    bool made = s == AM_OK;
    for (int f = 0; s == AM_OK && f < nfiles; f++) {
        am__ox g;
        am__ox_init(&g, o.opset, o.dtype);
        g.external = external;
        g.data_name = d.s2s || d.xdec ? s2s_data[f] : o.with_past ? k_past[f].data : k_plain[f].data;
        if (d.s2s || d.xdec) am__ox_s2s_graph(&g, m, &d, s2s_kind[f], o.with_past);
        else if (d.yolos || d.segformer) am__ox_vision_graph(&g, m, &d);
        else if (d.wav2vec2) am__ox_audio_graph(&g, m, &d, w2v_mask);
        else if (d.patch) vit_graph(&g, m, &d);
        else if (o.with_past && k_past[f].kind == G_MODEL) am__ox_merged_graph(&g, m, &d);
        else model_graph(&g, m, &d, o.with_past ? k_past[f].kind : k_plain[f].kind);
        am__pb model;
        s = am__ox_model(&g, "main_graph", &model);
        if (s == AM_OK && !g.external && am__pb_size(&model) >= ONNX_PROTO_LIMIT)
            s = am__error(AM_ERR_UNSUPPORTED, "export onnx: the graph is %llu bytes, over protobuf's 2 GB limit; leave external data on",
                          (unsigned long long)am__pb_size(&model));
        if (s == AM_OK) s = write_pb(&model, tmp, d.s2s || d.xdec ? s2s_file[f] : o.with_past ? k_past[f].file : k_plain[f].file);
        if (s == AM_OK && g.external) s = write_pb(&g.data, tmp, g.data_name);
        am__pb_free(&model);
        am__ox_free(&g);
    }
    if (s == AM_OK) s = am__model_save_configs(m, tmp, o.dtype);
    const char *src = o.source_dir ? o.source_dir : m->name_or_path;
    if (s == AM_OK && src && am__is_dir(src)) s = copy_side_files(src, tmp);
    else if (s == AM_OK && m->hub_commit && m->name_or_path) { /* a hub id: the same snapshot's tokenizer files, from the cache or fetched */
        am__hub_opts ho = am__hub_opts_default();
        ho.revision = m->hub_commit;
        ho.cache_dir = m->hub_cache_dir;
        ho.subfolder = m->hub_subfolder;
        char *dir = NULL;
        s = am__hub_resolve(m->name_or_path, &ho, AM__HUB_TOKENIZER | AM__HUB_PREPROCESSOR, NULL, NULL, &dir);
        if (s == AM_OK) s = copy_side_files(dir, tmp);
        free(dir);
    }
    if (s == AM_OK && am__is_dir(out_dir) && rmdir(out_dir) != 0) s = am__error(AM_ERR_IO, "%s: cannot replace: %s", out_dir, strerror(errno));
    if (s == AM_OK && rename(tmp, out_dir) != 0) s = am__error(AM_ERR_IO, "%s: cannot rename %s into place: %s", out_dir, tmp, strerror(errno));
    if (s != AM_OK && made) remove_tree(tmp);
    free(tmp);
    return s;
}
