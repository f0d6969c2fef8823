/* export/onnx_seq2seq.c — the encoder-decoder models (models/seq2seq.h: T5, BART) as ONNX graphs in
 * Optimum's layout: encoder_model.onnx (input_ids, attention_mask -> last_hidden_state) and
 * decoder_model.onnx (input_ids, encoder_attention_mask, encoder_hidden_states -> logits; with
 * --with-past also present.N.decoder.key/value and present.N.encoder.key/value) plus
 * decoder_with_past_model.onnx (past_key_values.N.decoder/encoder.key/value in, present.N.decoder.*
 * out) for the generation heads; model.onnx for the others (sequence classification and question
 * answering on the decoder fed with input_ids shifted right, as the forward does; the base models).
 * The layers are the am__stack descriptors the C forward runs (nn/stack.c): T5's relative position
 * buckets (bidirectional in the encoder, causal in the decoder, queries offset by the past length)
 * as integer ops on a Gather of relative_attention_bias, BART's learned positions (offset 2) counted
 * from the past length, cross-attention over the encoder state. */
#include "core/error.h"
#include "export/onnx.h"
#include "models/seq2seq.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static am__ox_attr ia(const char *name, int64_t v) { return (am__ox_attr){name, 2, v, 0, NULL, 0}; }
static am__ox_attr iv(const char *name, int n, const int64_t *v) { return (am__ox_attr){name, 7, 0, 0, v, n}; }
static const char *op1(am__ox *g, const char *op, int nin, const char *const *in, am__ox_attr a) { return am__ox_op(g, op, nin, in, 1, &a, 1); }
static const char *c64(am__ox *g, int64_t v) { return am__ox_i64(g, 1, &v, true); }   /* scalar */
static const char *v64(am__ox *g, int64_t v) { return am__ox_i64(g, 1, &v, false); }  /* [1] */
static const char *cast(am__ox *g, const char *x, int to) { return op1(g, "Cast", 1, &x, ia("to", to)); }
static const char *dim(am__ox *g, const char *x, int64_t axis) { return am__ox_2(g, "Gather", am__ox_1(g, "Shape", x), c64(g, axis)); }
static const char *range(am__ox *g, const char *from, const char *to) { return am__ox_op(g, "Range", 3, (const char *[]){from, to, c64(g, 1)}, 0, NULL, 1); }
static const char *transpose(am__ox *g, const char *x, int n, const int64_t *perm) { return op1(g, "Transpose", 1, &x, iv("perm", n, perm)); }
static const char *unsq(am__ox *g, const char *x, int64_t axis) { return am__ox_2(g, "Unsqueeze", x, v64(g, axis)); }

/* T5's compute_bias as ops: [1, heads, Tq, Tk] for queries at positions off..off+Tq-1 and keys
 * 0..Tk-1 (scalars), the buckets of _relative_position_bucket (nn/stack.c rel_bucket) in float32 as
 * torch computes them; the large-distance logarithm reads max(n, max_exact), the lanes below it
 * take n itself */
static const char *t5_bias(am__ox *g, const am__stack *st, const char *off, const char *Tq, const char *Tk) {
    const char *qp = range(g, off, am__ox_2(g, "Add", off, Tq)), *kp = range(g, c64(g, 0), Tk);
    const char *rel = am__ox_2(g, "Sub", unsq(g, kp, 0), unsq(g, qp, 1)); /* memory - context, [Tq,Tk] */
    int64_t nb = st->rel_buckets;
    const char *ret = NULL, *n;
    if (!st->causal) {
        nb /= 2;
        ret = am__ox_2(g, "Mul", cast(g, am__ox_2(g, "Greater", rel, c64(g, 0)), AM__OX_INT64), c64(g, nb));
        n = am__ox_1(g, "Abs", rel);
    } else n = am__ox_1(g, "Neg", am__ox_2(g, "Min", rel, c64(g, 0)));
    int64_t me = nb / 2;
    const char *small = am__ox_2(g, "Less", n, c64(g, me));
    const char *nf = cast(g, am__ox_2(g, "Max", n, c64(g, me)), AM__OX_FLOAT);
    const char *f = am__ox_1(g, "Log", am__ox_2(g, "Div", nf, am__ox_f32(g, (float)me)));
    f = am__ox_2(g, "Mul", am__ox_2(g, "Div", f, am__ox_f32(g, (float)log((double)st->rel_max_distance / (double)me))), am__ox_f32(g, (float)(nb - me)));
    const char *large = am__ox_2(g, "Min", am__ox_2(g, "Add", cast(g, f, AM__OX_INT64), c64(g, me)), c64(g, nb - 1));
    const char *b = am__ox_op(g, "Where", 3, (const char *[]){small, n, large}, 0, NULL, 1);
    if (ret) b = am__ox_2(g, "Add", b, ret);
    const char *e = am__ox_2(g, "Gather", am__ox_weight(g, st->rel_bias, "weight"), b); /* [Tq,Tk,heads] */
    return unsq(g, transpose(g, e, 3, (int64_t[]){2, 0, 1}), 0);
}

/* the decoder's additive causal mask [T, P+T]: query i sees keys up to P + i */
static const char *causal_add(am__ox *g, const char *T, const char *P) {
    const char *ts = op1(g, "Concat", 2, (const char *[]){unsq(g, T, 0), unsq(g, am__ox_2(g, "Add", P, T), 0)}, ia("axis", 0));
    const char *ones = am__ox_2(g, "Expand", am__ox_f32(g, 1.0f), ts);
    const char *tri = am__ox_op(g, "Trilu", 2, (const char *[]){ones, P}, 1, &(am__ox_attr){"upper", 2, 0, 0, NULL, 0}, 1);
    return am__ox_2(g, "Mul", am__ox_2(g, "Sub", am__ox_f32(g, 1.0f), tri), am__ox_f32(g, AM_FINFO_MIN_F32));
}

/* keys or values of attention a from x: [B,heads,S,D] */
static const char *kv_of(am__ox *g, const am__attn *a, const am__module *lin, const char *x) {
    return am__ox_heads(g, am__ox_linear(g, lin, a->kn, x), a->kv_heads, a->head_dim);
}

/* the features of y split along the last axis: n parts of the sizes in sz (a fused projection) */
static const char *split(am__ox *g, const char *y, int n, const int64_t *sz) {
    return am__ox_op(g, "Split", 2, (const char *[]){y, am__ox_i64(g, n, sz, false)}, 1, &(am__ox_attr){"axis", 2, 2, 0, NULL, 0}, n);
}

/* softmax(q k^T * scale + bias) v through the output projection; q: the query projection [B,T,heads*D] */
static const char *attend(am__ox *g, const am__attn *a, const char *q, const char *k, const char *v, const char *bias) {
    q = am__ox_heads(g, q, a->heads, a->head_dim);
    const char *s = am__ox_2(g, "MatMul", q, transpose(g, k, 4, (int64_t[]){0, 1, 3, 2}));
    if (a->scale != 1.0f) s = am__ox_2(g, "Mul", s, am__ox_f32(g, a->scale));
    if (bias) s = am__ox_2(g, "Add", s, bias);
    const char *p = op1(g, "Softmax", 1, &s, ia("axis", -1));
    const char *ctx = transpose(g, am__ox_2(g, "MatMul", p, v), 4, (int64_t[]){0, 2, 1, 3});
    ctx = am__ox_2(g, "Reshape", ctx, am__ox_i64(g, 3, (int64_t[]){0, 0, a->heads * a->head_dim}, false));
    return am__ox_linear(g, a->o, a->kn, ctx);
}

/* what a stack reads besides x, and the keys/values it hands out (per layer; NULL: none / not wanted) */
typedef struct s2s_io {
    const char *self_bias, *enc, *cross_bias;
    const char **past_k, **past_v;   /* self-attention cache in */
    const char **cross_k, **cross_v; /* cross-attention keys/values in (else projected from enc) */
    const char **pres_k, **pres_v, **pres_ck, **pres_cv;
} s2s_io;

/* am__stack_forward's layer loop with cross-attention: pre-norm x += f(norm(x)), post-norm x = norm(x + f(x)) */
static const char *s2s_stack(am__ox *g, const am__stack *st, const char *x, const s2s_io *io) {
    for (int64_t li = 0; li < st->n && x; li++) {
        const am__layer *L = &st->layer[li];
        for (int k = 0; k < 3 && x; k++) {
            if (k == 1 && (!L->cross.o || (!io->enc && !io->cross_k))) continue;
            const am__norm *n = k == 0 ? &L->n_self : k == 1 ? &L->n_cross : &L->n_mlp;
            const char *h = st->pre_norm ? am__ox_norm(g, n, x) : x, *o;
            if (k == 0) {
                const am__attn *a = &L->self;
                int64_t QD = a->heads * a->head_dim, KD = a->kv_heads * a->head_dim;
                const char *q, *kk, *vv;
                if (a->qkv) { /* GPT-2's c_attn: [q | k | v] */
                    const char *y = split(g, am__ox_linear(g, a->qkv, a->kn, h), 3, (int64_t[]){QD, KD, KD});
                    q = y;
                    kk = am__ox_heads(g, am__ox_out(g, y, 1), a->kv_heads, a->head_dim);
                    vv = am__ox_heads(g, am__ox_out(g, y, 2), a->kv_heads, a->head_dim);
                } else {
                    q = am__ox_linear(g, a->q, a->kn, h);
                    kk = kv_of(g, a, a->k, h);
                    vv = kv_of(g, a, a->v, h);
                }
                if (io->past_k) {
                    kk = op1(g, "Concat", 2, (const char *[]){io->past_k[li], kk}, ia("axis", 2));
                    vv = op1(g, "Concat", 2, (const char *[]){io->past_v[li], vv}, ia("axis", 2));
                }
                if (io->pres_k) {
                    io->pres_k[li] = kk;
                    io->pres_v[li] = vv;
                }
                o = attend(g, a, q, kk, vv, io->self_bias);
            } else if (k == 1) {
                const am__attn *a = &L->cross;
                const char *kk, *vv;
                if (io->cross_k) {
                    kk = io->cross_k[li];
                    vv = io->cross_v[li];
                } else if (a->qkv) { /* GPT-2's crossattention.c_attn on the encoder state: [k | v] */
                    int64_t KD = a->kv_heads * a->head_dim;
                    const char *y = split(g, am__ox_linear(g, a->qkv, a->kn, io->enc), 2, (int64_t[]){KD, KD});
                    kk = am__ox_heads(g, y, a->kv_heads, a->head_dim);
                    vv = am__ox_heads(g, am__ox_out(g, y, 1), a->kv_heads, a->head_dim);
                } else {
                    kk = kv_of(g, a, a->k, io->enc);
                    vv = kv_of(g, a, a->v, io->enc);
                }
                if (io->pres_ck) {
                    io->pres_ck[li] = kk;
                    io->pres_cv[li] = vv;
                }
                o = attend(g, a, am__ox_linear(g, a->q, a->kn, h), kk, vv, io->cross_bias);
            } else o = am__ox_mlp(g, &L->mlp, h);
            x = am__ox_2(g, "Add", x, o);
            if (!st->pre_norm) x = am__ox_norm(g, n, x);
        }
    }
    return st->final_norm.mod ? am__ox_norm(g, &st->final_norm, x) : x;
}

/* Whisper's front end (models/whisper.c whisper_front, the only t->front): gelu(conv1(features)) with
 * stride 1, gelu(conv2(.)) with stride 2, both kernel 3 padding 1, as rows [B, frames/2, D], plus
 * the whole embed_positions table (transformers 4.32 adds all of it: the frames must be 2 x
 * max_source_positions, as the forward checks) */
static const char *whisper_front(am__ox *g, const am__s2s_impl *t, const char *features) {
    const char *x = features;
    for (int i = 0; i < 2; i++) {
        const am__module *conv = t->front_mod[i];
        am__ox_attr ca[4] = {iv("kernel_shape", 1, (int64_t[]){3}), iv("strides", 1, (int64_t[]){i ? 2 : 1}), iv("pads", 2, (int64_t[]){1, 1}),
                             iv("dilations", 1, (int64_t[]){1})};
        x = am__ox_op(g, "Conv", 3, (const char *[]){x, am__ox_weight(g, conv, "weight"), am__ox_weight(g, conv, "bias")}, 4, ca, 1);
        x = am__ox_act(g, AM_ACT_GELU, x);
    }
    x = transpose(g, x, 3, (int64_t[]){0, 2, 1});
    return am__ox_2(g, "Add", x, am__ox_weight(g, t->front_mod[2], "weight"));
}

/* the encoder on ids [B,S] with the padding mask [B,S] (or, with a front end, on its features and no mask) */
static const char *encode(am__ox *g, const am__s2s_impl *t, const char *ids, const char *mask) {
    if (t->front) {
        s2s_io io = {0};
        return s2s_stack(g, &t->enc, whisper_front(g, t, ids), &io);
    }
    const char *x = am__ox_embed(g, &t->enc_emb, ids, NULL, NULL);
    const char *bias = am__ox_mask(g, mask, ids, false); /* [B,1,1,S] */
    if (t->enc.rel_bias) {
        const char *S = dim(g, ids, 1), *rb = t5_bias(g, &t->enc, c64(g, 0), S, S);
        bias = bias ? am__ox_2(g, "Add", rb, bias) : rb;
    }
    s2s_io io = {.self_bias = bias};
    return s2s_stack(g, &t->enc, x, &io);
}

/* the decoder on ids [B,T] after P cached positions (scalar, NULL: none), over the encoder state
 * enc (or io's cross keys/values) with its padding mask enc_mask [B,S] (NULL: none) */
static const char *decode(am__ox *g, const am__s2s_impl *t, const char *ids, const char *P, const char *enc, const char *enc_mask, s2s_io *io) {
    const char *T = dim(g, ids, 1), *p0 = P ? P : c64(g, 0), *end = am__ox_2(g, "Add", p0, T);
    const char *x = am__ox_embed(g, &t->dec_emb, ids, NULL, t->dec_emb.pos ? range(g, p0, end) : NULL);
    const char *bias = causal_add(g, T, p0); /* [T, P+T] */
    if (t->dec.rel_bias) bias = am__ox_2(g, "Add", t5_bias(g, &t->dec, p0, T, end), bias);
    io->self_bias = bias;
    io->enc = enc;
    io->cross_bias = enc_mask ? am__ox_mask(g, enc_mask, enc_mask, false) : NULL;
    return s2s_stack(g, &t->dec, x, io);
}

/* lm_head(h * head_scale) + final_logits_bias */
static const char *lm_logits(am__ox *g, const am_model *m, const am__s2s_impl *t, const char *h) {
    if (t->head_scale != 1.0f) h = am__ox_2(g, "Mul", h, am__ox_f32(g, t->head_scale));
    const char *y = am__ox_linear(g, t->lm_head, false, h);
    if (t->logits_bias) y = am__ox_2(g, "Add", y, am__ox_weight(g, m->root, "final_logits_bias"));
    return y;
}

/* shift_tokens_right(input_ids, pad_token_id, decoder_start_token_id), -100 replaced by pad */
static const char *shift_right(am__ox *g, const am_model *m, const char *ids) {
    int64_t start = am__config_int(m->config, "decoder_start_token_id", 0), pad = am__config_int(m->config, "pad_token_id", 0);
    const char *B = am__ox_op(g, "Slice", 3, (const char *[]){am__ox_1(g, "Shape", ids), v64(g, 0), v64(g, 1)}, 0, NULL, 1);
    const char *col = am__ox_2(g, "Expand", am__ox_i64(g, 1, &start, false), op1(g, "Concat", 2, (const char *[]){B, v64(g, 1)}, ia("axis", 0)));
    const char *rest = am__ox_op(g, "Slice", 4, (const char *[]){ids, v64(g, 0), v64(g, -1), v64(g, 1)}, 0, NULL, 1);
    const char *sh = op1(g, "Concat", 2, (const char *[]){col, rest}, ia("axis", 1));
    return am__ox_op(g, "Where", 3, (const char *[]){am__ox_2(g, "Equal", sh, c64(g, -100)), c64(g, pad), sh}, 0, NULL, 1);
}

/* the decoder state at the last <eos> of every row of ids: [B,H] */
static const char *at_last_eos(am__ox *g, const am_model *m, const char *ids, const char *h) {
    int64_t eos = am__config_int(m->config, "eos_token_id", 2);
    const char *pos = range(g, c64(g, 0), dim(g, ids, 1));
    const char *w = am__ox_op(g, "Where", 3, (const char *[]){am__ox_2(g, "Equal", ids, c64(g, eos)), pos, c64(g, -1)}, 0, NULL, 1);
    am__ox_attr ra[2] = {iv("axes", 1, (int64_t[]){1}), ia("keepdims", 1)};
    const char *idx = am__ox_op(g, "ReduceMax", 1, &w, 2, ra, 1); /* [B,1] */
    return op1(g, "GatherND", 2, (const char *[]){h, idx}, ia("batch_dims", 1));
}

static const char *const k_enc[] = {"batch_size", "encoder_sequence_length", NULL};
static const char *const k_features[] = {"batch_size", "feature_size", "encoder_sequence_length"};
static const char *const k_enc_half[] = {"batch_size", "encoder_sequence_length / 2", NULL}; /* after Whisper's stride-2 conv */
static const char *const k_dec[] = {"batch_size", "decoder_sequence_length", NULL};
static const char *const k_dec_past_ids[] = {"batch_size", NULL};
static const char *const k_plain[] = {"batch_size", "sequence_length", NULL};
static const char *const k_b[] = {"batch_size", NULL};
static int64_t out_features(const am__module *lin) { return am__mod_tensor(lin, "weight")->shape[0]; }


/* model.onnx: the heads without generation, and the base models */
static void model_graph(am__ox *g, const am_model *m, const am__s2s_impl *t) {
    const char *ids = "input_ids", *mask = "attention_mask";
    if (!t->has_decoder) { /* T5EncoderModel */
        am__ox_io(g, false, ids, AM__OX_INT64, 2, k_plain, NULL);
        am__ox_io(g, false, mask, AM__OX_INT64, 2, k_plain, NULL);
        am__ox_output_as(g, encode(g, t, ids, mask), "last_hidden_state", 3, k_plain, (int64_t[]){0, 0, t->enc.H});
        return;
    }
    bool base = m->spec->task == AM_TASK_BASE;
    am__ox_io(g, false, ids, AM__OX_INT64, 2, k_enc, NULL);
    am__ox_io(g, false, mask, AM__OX_INT64, 2, k_enc, NULL);
    const char *dids = "decoder_input_ids";
    if (base) am__ox_io(g, false, dids, AM__OX_INT64, 2, k_dec, NULL);
    else dids = shift_right(g, m, ids);
    const char *enc = encode(g, t, ids, mask);
    s2s_io io = {0};
    const char *h = decode(g, t, dids, NULL, enc, mask, &io);
    if (t->cls_out) {
        const char *p = am__ox_1(g, "Tanh", am__ox_linear(g, t->cls_dense, false, at_last_eos(g, m, ids, h)));
        am__ox_output_as(g, am__ox_linear(g, t->cls_out, false, p), "logits", 2, k_b, (int64_t[]){0, out_features(t->cls_out)});
    } else if (t->qa) {
        const char *y = am__ox_linear(g, t->qa, false, h);
        for (int k = 0; k < 2; k++)
            am__ox_output_as(g, op1(g, "Gather", 2, (const char *[]){y, c64(g, k)}, ia("axis", 2)), k ? "end_logits" : "start_logits", 2, k_enc, NULL);
    } else {
        am__ox_output_as(g, h, "last_hidden_state", 3, k_dec, (int64_t[]){0, 0, t->dec.H});
        am__ox_output_as(g, enc, "encoder_last_hidden_state", 3, k_enc, (int64_t[]){0, 0, t->enc.H});
    }
}

/* the per-layer cache names: "<what>.<i>.<decoder|encoder>.<key|value>" */
static const char *cache_name(am__ox *g, const char *what, int64_t i, bool cross, bool value) {
    char name[96];
    snprintf(name, sizeof name, "%s.%lld.%s.%s", what, (long long)i, cross ? "encoder" : "decoder", value ? "value" : "key");
    return am__ox_name(g, name);
}

/* The decoder files. An encoder over features or pixels (Whisper, ViT) has no padding mask: the
 * decoder takes none (enc_mask false). proj: enc_to_dec_proj on the encoder state first, or NULL. */
static void decoder_graph(am__ox *g, const am_model *m, const am__s2s_impl *t, bool past, bool presents, bool enc_mask, const am__module *proj) {
    const am__stack *st = &t->dec;
    int64_t L = st->n;
    const char *ids = "input_ids", *emask = enc_mask ? "encoder_attention_mask" : NULL, *enc = NULL;
    am__ox_io(g, false, ids, AM__OX_INT64, 2, past ? k_dec_past_ids : k_dec, past ? (int64_t[]){0, 1} : NULL);
    if (emask) am__ox_io(g, false, emask, AM__OX_INT64, 2, k_enc, NULL);
    if (!past) {
        enc = "encoder_hidden_states";
        am__ox_io(g, false, enc, AM__OX_FLOAT, 3, t->front ? k_enc_half : k_enc, (int64_t[]){0, 0, t->enc.H});
        if (proj) enc = am__ox_linear(g, proj, false, enc);
    }
    const char **v = calloc((size_t)(8 * L + 1), sizeof *v);
    if (!v) {
        if (g->st == AM_OK) g->st = am__error(AM_ERR_NO_MEMORY, "export onnx: out of memory");
        return;
    }
    s2s_io io = {0};
    if (presents) {
        io.pres_k = v;
        io.pres_v = v + L;
        io.pres_ck = v + 2 * L;
        io.pres_cv = v + 3 * L;
    }
    const char *P = NULL;
    if (past) {
        io.past_k = v + 4 * L;
        io.past_v = v + 5 * L;
        io.cross_k = v + 6 * L;
        io.cross_v = v + 7 * L;
        for (int64_t i = 0; i < L; i++) {
            const am__attn *sa = &st->layer[i].self, *ca = &st->layer[i].cross;
            static const char *const k_self[] = {"batch_size", NULL, "past_decoder_sequence_length", NULL};
            static const char *const k_cross[] = {"batch_size", NULL, "encoder_sequence_length_out", NULL};
            for (int c = 0; c < 4; c++) {
                bool cross = c >= 2, value = c & 1;
                const am__attn *a = cross ? ca : sa;
                const char *n = cache_name(g, "past_key_values", i, cross, value);
                am__ox_io(g, false, n, AM__OX_FLOAT, 4, cross ? k_cross : k_self, (int64_t[]){0, a->kv_heads, 0, a->head_dim});
                (cross ? (value ? io.cross_v : io.cross_k) : (value ? io.past_v : io.past_k))[i] = n;
            }
        }
        P = L ? dim(g, io.past_k[0], 2) : NULL;
    }
    const char *h = decode(g, t, ids, P, enc, emask, &io);
    static const char *const k_logits_past[] = {"batch_size", NULL, NULL};
    am__ox_output_as(g, lm_logits(g, m, t, h), "logits", 3, past ? k_logits_past : k_dec, (int64_t[]){0, past ? 1 : 0, t->V});
    for (int64_t i = 0; presents && i < L; i++) {
        const am__attn *sa = &st->layer[i].self, *ca = &st->layer[i].cross;
        static const char *const k_self_out[] = {"batch_size", NULL, "decoder_sequence_length", NULL};
        static const char *const k_self_past[] = {"batch_size", NULL, "past_decoder_sequence_length + 1", NULL};
        static const char *const k_cross_out[] = {"batch_size", NULL, "encoder_sequence_length_out", NULL};
        for (int c = 0; c < (past ? 2 : 4); c++) { /* with past the encoder's keys/values are the inputs, not handed out again */
            bool cross = c >= 2, value = c & 1;
            const am__attn *a = cross ? ca : sa;
            const char *from = (cross ? (value ? io.pres_cv : io.pres_ck) : (value ? io.pres_v : io.pres_k))[i];
            am__ox_output_as(g, from, cache_name(g, "present", i, cross, value), 4, cross ? k_cross_out : past ? k_self_past : k_self_out,
                             (int64_t[]){0, a->kv_heads, 0, a->head_dim});
        }
    }
    free(v);
}

/* VisionEncoderDecoderModel's GPT-2 decoder seen as an encoder-decoder's decoder (borrowed, shallow) */
static am__s2s_impl ved_view(const am__describe *d) {
    const am__causal_impl *c = d->xdec;
    am__s2s_impl t = {.dec_emb = c->emb, .dec = c->st, .has_encoder = true, .has_decoder = true, .lm_head = c->head, .head_scale = 1.0f};
    t.V = out_features(c->head);
    t.enc.H = d->stack->H;
    return t;
}

/* ViTModel without its pooler, as VisionEncoderDecoderModel's encoder runs it: the patch Conv,
 * [CLS | patches] + position_embeddings at the config's image size, the stack, the final LayerNorm */
static const char *vit_encoder(am__ox *g, const am__describe *d) {
    static const char *const k_px[] = {"batch_size", "num_channels", "height", "width"};
    const char *px = "pixel_values";
    am__ox_io(g, false, px, AM__OX_FLOAT, 4, k_px, NULL);
    const am_tensor *w = am__mod_tensor(d->patch, "weight");
    am__ox_attr ca[2] = {iv("kernel_shape", 2, (int64_t[]){w->shape[2], w->shape[3]}), iv("strides", 2, (int64_t[]){w->shape[2], w->shape[3]})};
    const char *p = am__ox_op(g, "Conv", 3, (const char *[]){px, am__ox_weight(g, d->patch, "weight"), am__ox_weight(g, d->patch, "bias")}, 2, ca, 1);
    p = transpose(g, am__ox_2(g, "Reshape", p, am__ox_i64(g, 3, (int64_t[]){0, 0, -1}, false)), 3, (int64_t[]){0, 2, 1}); /* [B,N,H] */
    const char *B = am__ox_op(g, "Slice", 3, (const char *[]){am__ox_1(g, "Shape", px), v64(g, 0), v64(g, 1)}, 0, NULL, 1);
    const char *b11 = op1(g, "Concat", 3, (const char *[]){B, v64(g, 1), v64(g, 1)}, ia("axis", 0));
    const char *cls = am__ox_2(g, "Expand", am__ox_weight(g, d->vit_emb, "cls_token"), b11);
    const char *x = op1(g, "Concat", 2, (const char *[]){cls, p}, ia("axis", 1));
    x = am__ox_2(g, "Add", x, am__ox_weight(g, d->vit_emb, "position_embeddings"));
    return am__ox_norm(g, &d->final_ln, am__ox_stack(g, d->stack, x, NULL, NULL));
}

am_status am__ox_s2s_plan(const am_model *m, const am__describe *d, bool with_past, int *n, am__s2s_graph *kinds, const char **files, const char **data) {
    am__s2s_impl view;
    if (d->xdec) view = ved_view(d);
    const am__s2s_impl *t = d->xdec ? &view : d->s2s;
    if (t->front && !t->lm_head) /* WhisperModel: Optimum's feature-extraction takes decoder inputs this layout has no file for */
        return am__error(AM_ERR_UNSUPPORTED, "export onnx: %s: only WhisperForConditionalGeneration is exportable (encoder_model.onnx + decoder_model.onnx)",
                         m->spec->class_name);
    for (int s = 0; s < 2; s++) {
        const am__stack *st = s ? &t->dec : &t->enc;
        for (int64_t i = 0; i < st->n; i++)
            if (st->layer[i].self.kv_heads != st->layer[i].self.heads || (s && st->n && !st->layer[i].cross.o))
                return am__error(AM_ERR_UNSUPPORTED,
                                 "export onnx: %s: grouped-query attention, or a decoder layer without cross-attention, has no ONNX form in an encoder-decoder here",
                                 m->spec->class_name);
    }
    bool gen = t->lm_head && t->has_decoder;
    if (!gen && with_past)
        return am__error(AM_ERR_UNSUPPORTED,
                         "export onnx: --with-past needs a generation head (T5ForConditionalGeneration, BartForConditionalGeneration, "
                         "WhisperForConditionalGeneration), not %s",
                         m->spec->class_name);
    if (!gen && t->has_decoder && m->spec->task != AM_TASK_BASE &&
        (am__config_is_null(m->config, "decoder_start_token_id") || am__config_is_null(m->config, "pad_token_id")))
        return am__error(AM_ERR_UNSUPPORTED, "export onnx: %s makes its decoder inputs from input_ids, which needs config.decoder_start_token_id and pad_token_id",
                         m->spec->class_name);
    static const struct { am__s2s_graph kind; const char *file, *data; } k_files[] = {
        {AM__S2S_ENCODER, "encoder_model.onnx", "encoder_model.onnx_data"},
        {AM__S2S_DECODER, "decoder_model.onnx", "decoder_model.onnx_data"},
        {AM__S2S_DECODER_PAST, "decoder_with_past_model.onnx", "decoder_with_past_model.onnx_data"},
        {AM__S2S_MODEL, "model.onnx", "model.onnx_data"}};
    int first = gen ? 0 : 3;
    *n = gen ? (with_past ? 3 : 2) : 1;
    for (int i = 0; i < *n; i++) {
        kinds[i] = k_files[first + i].kind;
        files[i] = k_files[first + i].file;
        data[i] = k_files[first + i].data;
    }
    return AM_OK;
}

void am__ox_s2s_graph(am__ox *g, const am_model *m, const am__describe *d, am__s2s_graph kind, bool with_past) {
    if (d->xdec) { /* VisionEncoderDecoderModel */
        am__s2s_impl view = ved_view(d);
        static const char *const k_seq[] = {"batch_size", "encoder_sequence_length", NULL};
        if (kind == AM__S2S_ENCODER) am__ox_output_as(g, vit_encoder(g, d), "last_hidden_state", 3, k_seq, (int64_t[]){0, 0, d->stack->H});
        else decoder_graph(g, m, &view, kind == AM__S2S_DECODER_PAST, kind == AM__S2S_DECODER_PAST || with_past, false, d->enc_to_dec);
        return;
    }
    const am__s2s_impl *t = d->s2s;
    switch (kind) {
    case AM__S2S_MODEL: model_graph(g, m, t); break;
    case AM__S2S_ENCODER:
        if (t->front) { /* Whisper: input_features [B, num_mel_bins, frames] */
            int64_t mel = am__mod_tensor(t->front_mod[0], "weight")->shape[1];
            am__ox_io(g, false, "input_features", AM__OX_FLOAT, 3, k_features, (int64_t[]){0, mel, 0});
            am__ox_output_as(g, encode(g, t, "input_features", NULL), "last_hidden_state", 3, k_enc_half, (int64_t[]){0, 0, t->enc.H});
            break;
        }
        am__ox_io(g, false, "input_ids", AM__OX_INT64, 2, k_enc, NULL);
        am__ox_io(g, false, "attention_mask", AM__OX_INT64, 2, k_enc, NULL);
        am__ox_output_as(g, encode(g, t, "input_ids", "attention_mask"), "last_hidden_state", 3, k_enc, (int64_t[]){0, 0, t->enc.H});
        break;
    case AM__S2S_DECODER: decoder_graph(g, m, t, false, with_past, !t->front, NULL); break;
    case AM__S2S_DECODER_PAST: decoder_graph(g, m, t, true, true, !t->front, NULL); break;
    }
}
