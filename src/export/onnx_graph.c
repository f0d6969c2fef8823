/* export/onnx_graph.c — the graph emitter over the nn/ descriptors: the same am__embed, am__stack,
 * am__norm, am__mlp and activation names the C forward (nn/stack.c, nn/layers.c) runs, written as
 * ONNX nodes (opsets 14-17). Every value is float32 [batch, sequence, width] with dynamic batch and
 * sequence axes: shapes come from Shape nodes and Reshape's 0 (copy) dimensions, never from a
 * traced example. */
#include "export/onnx.h"
#include "core/error.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *attr_op(am__ox *g, const char *op, int nin, const char *const *in, am__ox_attr a) {
    return am__ox_op(g, op, nin, in, 1, &a, 1);
}
static am__ox_attr ints_attr(const char *name, int n, const int64_t *v) { return (am__ox_attr){name, 7, 0, 0, v, n}; }
static am__ox_attr int_attr(const char *name, int64_t v) { return (am__ox_attr){name, 2, v, 0, NULL, 0}; }

static const char *transpose(am__ox *g, const char *x, int n, const int64_t *perm) { return attr_op(g, "Transpose", 1, &x, ints_attr("perm", n, perm)); }
static const char *reshape(am__ox *g, const char *x, int n, const int64_t *shape) {
    return am__ox_2(g, "Reshape", x, am__ox_i64(g, n, shape, false));
}
static const char *unsqueeze(am__ox *g, const char *x, int n, const int64_t *axes) { return am__ox_2(g, "Unsqueeze", x, am__ox_i64(g, n, axes, false)); }
static const char *mul_c(am__ox *g, const char *x, float c) { return am__ox_2(g, "Mul", x, am__ox_f32(g, c)); }
static const char *add_c(am__ox *g, const char *x, float c) { return am__ox_2(g, "Add", x, am__ox_f32(g, c)); }

const char *am__ox_linear(am__ox *g, const am__module *lin, bool kn, const char *x) {
    const char *w = am__ox_weight(g, lin, "weight");
    if (!kn) w = transpose(g, w, 2, (int64_t[]){1, 0}); /* nn.Linear keeps [out, in] */
    const char *y = am__ox_2(g, "MatMul", x, w);
    if (am__mod_tensor(lin, "bias")) y = am__ox_2(g, "Add", y, am__ox_weight(g, lin, "bias"));
    return y;
}

const char *am__ox_norm(am__ox *g, const am__norm *n, const char *x) {
    if (!n->mod) return x;
    const char *w = am__ox_weight(g, n->mod, "weight");
    bool has_b = am__mod_tensor(n->mod, "bias") != NULL;
    if (n->kind == AM__NORM_LAYER && g->opset >= 17) {
        const char *b = has_b ? am__ox_weight(g, n->mod, "bias") : "";
        am__ox_attr a[2] = {int_attr("axis", -1), {"epsilon", 1, 0, (float)n->eps, NULL, 0}};
        return am__ox_op(g, "LayerNormalization", 3, (const char *[]){x, w, b}, 2, a, 1);
    }
    am__ox_attr red[2] = {ints_attr("axes", 1, (int64_t[]){-1}), int_attr("keepdims", 1)};
    const char *d = x;
    if (n->kind == AM__NORM_LAYER) d = am__ox_2(g, "Sub", x, am__ox_op(g, "ReduceMean", 1, &x, 2, red, 1));
    const char *sq = am__ox_2(g, "Mul", d, d);
    const char *var = am__ox_op(g, "ReduceMean", 1, &sq, 2, red, 1);
    const char *y = am__ox_2(g, "Div", d, am__ox_1(g, "Sqrt", add_c(g, var, (float)n->eps)));
    y = am__ox_2(g, "Mul", y, w);
    if (has_b) y = am__ox_2(g, "Add", y, am__ox_weight(g, n->mod, "bias"));
    return y;
}

const char *am__ox_act(am__ox *g, am__act a, const char *x) {
    switch (a) {
    case AM_ACT_NONE: return x;
    case AM_ACT_GELU: /* x * 0.5 * (1 + erf(x / sqrt(2))) */
        return mul_c(g, am__ox_2(g, "Mul", x, add_c(g, am__ox_1(g, "Erf", mul_c(g, x, (float)M_SQRT1_2)), 1.0f)), 0.5f);
    case AM_ACT_GELU_NEW: { /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
        const char *x3 = am__ox_2(g, "Mul", am__ox_2(g, "Mul", x, x), x);
        const char *in = mul_c(g, am__ox_2(g, "Add", x, mul_c(g, x3, 0.044715f)), (float)sqrt(2.0 / M_PI));
        return mul_c(g, am__ox_2(g, "Mul", x, add_c(g, am__ox_1(g, "Tanh", in), 1.0f)), 0.5f);
    }
    case AM_ACT_RELU: return am__ox_1(g, "Relu", x);
    case AM_ACT_SILU: return am__ox_2(g, "Mul", x, am__ox_1(g, "Sigmoid", x));
    case AM_ACT_TANH: return am__ox_1(g, "Tanh", x);
    case AM_ACT_SIGMOID: return am__ox_1(g, "Sigmoid", x);
    case AM_ACT_QUICK_GELU: return am__ox_2(g, "Mul", x, am__ox_1(g, "Sigmoid", mul_c(g, x, 1.702f)));
    }
    if (g->st == AM_OK) g->st = am__error(AM_ERR_UNSUPPORTED, "export: activation %d has no ONNX form", (int)a);
    return NULL;
}

/* the sequence length of ids [B, T] as a scalar and as a 1-element vector */
static const char *seq_len(am__ox *g, const char *ids, bool vec) {
    const char *shp = am__ox_1(g, "Shape", ids);
    return am__ox_2(g, "Gather", shp, am__ox_i64(g, 1, (int64_t[]){1}, !vec));
}

const char *am__ox_embed(am__ox *g, const am__embed *e, const char *ids, const char *types, const char *pos) {
    const char *word = am__ox_weight(g, e->word, "weight");
    const char *x = am__ox_2(g, "Gather", word, ids);
    if (e->scale != 0.0f && e->scale != 1.0f) x = mul_c(g, x, e->scale);
    if (e->type) {
        const char *tt = am__ox_weight(g, e->type, "weight");
        x = am__ox_2(g, "Add", x, am__ox_2(g, "Gather", tt, types ? types : am__ox_i64(g, 1, (int64_t[]){0}, true)));
    } else if (e->type_from_word && types)
        x = am__ox_2(g, "Add", x, am__ox_2(g, "Gather", word, types));
    if (e->pos) {
        const char *p = pos;
        if (!p) /* 0..T-1, broadcast over the batch */
            p = am__ox_op(g, "Range", 3, (const char *[]){am__ox_i64(g, 1, (int64_t[]){0}, true), seq_len(g, ids, false), am__ox_i64(g, 1, (int64_t[]){1}, true)},
                          0, NULL, 1);
        if (e->pos_offset) p = am__ox_2(g, "Add", p, am__ox_i64(g, 1, &e->pos_offset, true));
        x = am__ox_2(g, "Add", x, am__ox_2(g, "Gather", am__ox_weight(g, e->pos, "weight"), p));
    }
    return am__ox_norm(g, &e->norm, x);
}

const char *am__ox_mask(am__ox *g, const char *mask, const char *ids, bool causal) {
    const char *m = NULL;
    if (mask) m = unsqueeze(g, attr_op(g, "Cast", 1, &mask, int_attr("to", AM__OX_FLOAT)), 2, (int64_t[]){1, 2}); /* [B,1,1,S] */
    if (causal) {
        const char *t = seq_len(g, ids, true), *sl = mask ? seq_len(g, mask, true) : t;
        const char *ts = attr_op(g, "Concat", 2, (const char *[]){t, sl}, int_attr("axis", 0));
        const char *ones = am__ox_2(g, "Expand", am__ox_f32(g, 1.0f), ts); /* [T,S] */
        const char *past = am__ox_2(g, "Sub", seq_len(g, mask ? mask : ids, false), seq_len(g, ids, false));
        const char *tri = am__ox_op(g, "Trilu", 2, (const char *[]){ones, past}, 1, &(am__ox_attr){"upper", 2, 0, 0, NULL, 0}, 1);
        m = m ? am__ox_2(g, "Mul", m, tri) : tri;
    }
    if (!m) return NULL; /* no mask at all */
    const char *inv = am__ox_2(g, "Sub", am__ox_f32(g, 1.0f), m);
    return mul_c(g, inv, AM_FINFO_MIN_F32);
}

void am__ox_rope(am__ox *g, const am__rope *r, const char *pos, am__ox_cache *c) {
    if (r->kind == AM__ROPE_DYNAMIC) { /* its base depends on the sequence length: not a fixed table */
        if (g->st == AM_OK) g->st = am__error(AM_ERR_UNSUPPORTED, "export onnx: dynamic NTK rope scaling has no ONNX form yet");
        return;
    }
    int64_t h = r->dim / 2;
    float *inv = malloc((size_t)(h > 0 ? h : 1) * sizeof(float));
    if (!inv) {
        if (g->st == AM_OK) g->st = am__error(AM_ERR_NO_MEMORY, "export onnx: out of memory");
        return;
    }
    am__rope_inv_freq(r->dim, r->base, inv);
    const char *invc = am__ox_f32s(g, h, inv);
    free(inv);
    const char *tp = attr_op(g, "Cast", 1, &pos, int_attr("to", AM__OX_FLOAT));
    if (r->kind == AM__ROPE_LINEAR) tp = am__ox_2(g, "Div", tp, am__ox_f32(g, (float)r->factor));
    const char *f = am__ox_2(g, "Mul", unsqueeze(g, tp, 1, (int64_t[]){2}), invc); /* [B,T,h] */
    for (int k = 0; k < 2; k++) {
        const char *cs = am__ox_1(g, k ? "Sin" : "Cos", f);
        cs = attr_op(g, "Concat", 2, (const char *[]){cs, cs}, int_attr("axis", -1));
        cs = unsqueeze(g, cs, 1, (int64_t[]){1}); /* [B,1,T,D] */
        if (k) c->sin = cs;
        else c->cos = cs;
    }
}

/* x * cos + rotate_half(x) * sin on [B,heads,T,D] */
static const char *rope_apply(am__ox *g, const char *x, int64_t D, const am__ox_cache *c) {
    const char *ax = am__ox_i64(g, 1, (int64_t[]){3}, false);
    const char *x1 = am__ox_op(g, "Slice", 4, (const char *[]){x, am__ox_i64(g, 1, (int64_t[]){0}, false), am__ox_i64(g, 1, (int64_t[]){D / 2}, false), ax}, 0, NULL, 1);
    const char *x2 = am__ox_op(g, "Slice", 4, (const char *[]){x, am__ox_i64(g, 1, (int64_t[]){D / 2}, false), am__ox_i64(g, 1, (int64_t[]){D}, false), ax}, 0, NULL, 1);
    const char *rot = attr_op(g, "Concat", 2, (const char *[]){am__ox_1(g, "Neg", x2), x1}, int_attr("axis", -1));
    return am__ox_2(g, "Add", am__ox_2(g, "Mul", x, c->cos), am__ox_2(g, "Mul", rot, c->sin));
}

/* [B,T,heads*D] -> [B,heads,T,D] (or [B,heads,D,T] with keys_t) */
static const char *heads_split(am__ox *g, const char *x, int64_t heads, int64_t D, bool keys_t) {
    const char *r = reshape(g, x, 4, (int64_t[]){0, 0, heads, D});
    return transpose(g, r, 4, keys_t ? (int64_t[]){0, 2, 3, 1} : (int64_t[]){0, 2, 1, 3});
}

/* [B,kv_heads,S,D] -> [B,heads,S,D]: each KV head serves heads/kv_heads query heads (repeat_kv) */
static const char *repeat_kv(am__ox *g, const char *x, int64_t heads, int64_t kv_heads, int64_t D) {
    if (heads == kv_heads) return x;
    const char *u = unsqueeze(g, x, 1, (int64_t[]){2}); /* [B,kv,1,S,D] */
    const char *shp = am__ox_1(g, "Shape", u);
    const char *b = am__ox_op(g, "Slice", 3, (const char *[]){shp, am__ox_i64(g, 1, (int64_t[]){0}, false), am__ox_i64(g, 1, (int64_t[]){1}, false)}, 0, NULL, 1);
    const char *s = am__ox_op(g, "Slice", 3, (const char *[]){shp, am__ox_i64(g, 1, (int64_t[]){3}, false), am__ox_i64(g, 1, (int64_t[]){4}, false)}, 0, NULL, 1);
    const char *to = attr_op(g, "Concat", 5,
                             (const char *[]){b, am__ox_i64(g, 1, &kv_heads, false), am__ox_i64(g, 1, (int64_t[]){heads / kv_heads}, false), s,
                                              am__ox_i64(g, 1, &D, false)},
                             int_attr("axis", 0));
    return reshape(g, am__ox_2(g, "Expand", u, to), 4, (int64_t[]){0, heads, -1, D});
}

static const char *self_attention(am__ox *g, const am__stack *st, int64_t li, const char *h, const char *mask_add, am__ox_cache *c) {
    const am__attn *a = &st->layer[li].self;
    if (st->rel_bias || (st->rope && (!c || !c->cos))) {
        if (g->st == AM_OK) g->st = am__error(AM_ERR_UNSUPPORTED, "export onnx: this attention (relative position bias) has no ONNX form yet");
        return NULL;
    }
    int64_t D = a->head_dim, QD = a->heads * D, KD = a->kv_heads * D;
    const char *q, *k, *v;
    if (a->qkv) { /* one fused projection: [q | k | v] along the features */
        const char *y = am__ox_linear(g, a->qkv, a->kn, h);
        const char *first = am__ox_op(g, "Split", 2, (const char *[]){y, am__ox_i64(g, 3, (int64_t[]){QD, KD, KD}, false)}, 1,
                                      &(am__ox_attr){"axis", 2, 2, 0, NULL, 0}, 3);
        q = first;
        k = am__ox_out(g, first, 1);
        v = am__ox_out(g, first, 2);
    } else {
        q = am__ox_linear(g, a->q, a->kn, h);
        k = am__ox_linear(g, a->k, a->kn, h);
        v = am__ox_linear(g, a->v, a->kn, h);
    }
    q = heads_split(g, q, a->heads, D, false);
    k = heads_split(g, k, a->kv_heads, D, false);
    v = heads_split(g, v, a->kv_heads, D, false);
    if (st->rope) {
        q = rope_apply(g, q, D, c);
        k = rope_apply(g, k, D, c);
    }
    if (c && c->past_k) { /* the cache: past keys/values first, then this call's */
        k = attr_op(g, "Concat", 2, (const char *[]){c->past_k[li], k}, int_attr("axis", 2));
        v = attr_op(g, "Concat", 2, (const char *[]){c->past_v[li], v}, int_attr("axis", 2));
    }
    if (c && c->present_k) {
        c->present_k[li] = k;
        c->present_v[li] = v;
    }
    k = repeat_kv(g, k, a->heads, a->kv_heads, D);
    v = repeat_kv(g, v, a->heads, a->kv_heads, D);
    const char *kt = transpose(g, k, 4, (int64_t[]){0, 1, 3, 2});
    const char *s = am__ox_2(g, "MatMul", q, kt); /* [B,heads,T,S] */
    if (a->scale != 1.0f) s = mul_c(g, s, a->scale);
    if (mask_add) s = am__ox_2(g, "Add", s, mask_add);
    const char *p = attr_op(g, "Softmax", 1, &s, int_attr("axis", -1));
    const char *ctx = transpose(g, am__ox_2(g, "MatMul", p, v), 4, (int64_t[]){0, 2, 1, 3});
    ctx = reshape(g, ctx, 3, (int64_t[]){0, 0, QD});
    return am__ox_linear(g, a->o, a->kn, ctx);
}

static const char *mlp(am__ox *g, const am__mlp *p, const char *h) {
    const char *f;
    if (p->gate) f = am__ox_2(g, "Mul", am__ox_act(g, p->act, am__ox_linear(g, p->gate, p->kn, h)), am__ox_linear(g, p->fc1, p->kn, h));
    else f = am__ox_act(g, p->act, am__ox_linear(g, p->fc1, p->kn, h));
    return am__ox_linear(g, p->fc2, p->kn, f);
}

const char *am__ox_stack(am__ox *g, const am__stack *st, const char *x, const char *mask_add, am__ox_cache *c) {
    for (int64_t li = 0; li < st->n && x; li++) {
        const am__layer *L = &st->layer[li];
        /* the sublayers as nn/stack.c's sublayer(): pre-norm x += f(norm(x)), post-norm x = norm(x + f(x));
         * cross-attention needs an encoder state, which a model graph without one skips as the forward does */
        for (int k = 0; k < 2 && x; k++) {
            const am__norm *n = k == 0 ? &L->n_self : &L->n_mlp;
            const char *h = st->pre_norm ? am__ox_norm(g, n, x) : x;
            const char *o = k == 0 ? self_attention(g, st, li, h, mask_add, c) : mlp(g, &L->mlp, h);
            x = am__ox_2(g, "Add", x, o);
            if (!st->pre_norm) x = am__ox_norm(g, n, x);
        }
    }
    return st->final_norm.mod ? am__ox_norm(g, &st->final_norm, x) : x;
}

/* the layer pieces for emitters of other stacks (export/onnx_seq2seq.c) */
const char *am__ox_mlp(am__ox *g, const am__mlp *p, const char *h) { return mlp(g, p, h); }
const char *am__ox_heads(am__ox *g, const char *x, int64_t heads, int64_t D) { return heads_split(g, x, heads, D, false); }
