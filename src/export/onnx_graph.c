/* export/onnx_graph.c — the graph emitter over the nn/ descriptors: the same am__embed, am__stack,
 * am__norm, am__mlp and activation names the C forward (nn/stack.c, nn/layers.c) runs, written as
 * ONNX nodes (opsets 14-17). Every value is float32 [batch, sequence, width] with dynamic batch and
 * sequence axes: shapes come from Shape nodes and Reshape's 0 (copy) dimensions, never from a
 * traced example. */
#include "export/onnx.h"
#include "core/error.h"
#include <math.h>
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
    if (mask) m = unsqueeze(g, attr_op(g, "Cast", 1, &mask, int_attr("to", AM__OX_FLOAT)), 2, (int64_t[]){1, 2}); /* [B,1,1,T] */
    if (causal) {
        const char *t = seq_len(g, ids, true);
        const char *tt = attr_op(g, "Concat", 2, (const char *[]){t, t}, int_attr("axis", 0));
        /* ConstantOfShape's value: a one-element float tensor attribute (kind 4) is not in our
         * attribute writer, so ones come from Expand of a scalar 1 */
        const char *ones = am__ox_2(g, "Expand", am__ox_f32(g, 1.0f), tt);
        const char *tri = attr_op(g, "Trilu", 1, &ones, int_attr("upper", 0)); /* [T,T] lower triangle */
        m = m ? am__ox_2(g, "Mul", m, tri) : tri;
    }
    if (!m) return NULL; /* no mask at all */
    const char *inv = am__ox_2(g, "Sub", am__ox_f32(g, 1.0f), m);
    return mul_c(g, inv, AM_FINFO_MIN_F32);
}

/* [B,T,heads*D] -> [B,heads,T,D] (or [B,heads,D,T] with keys_t) */
static const char *heads_split(am__ox *g, const char *x, int64_t heads, int64_t D, bool keys_t) {
    const char *r = reshape(g, x, 4, (int64_t[]){0, 0, heads, D});
    return transpose(g, r, 4, keys_t ? (int64_t[]){0, 2, 3, 1} : (int64_t[]){0, 2, 1, 3});
}

static const char *self_attention(am__ox *g, const am__stack *st, const am__attn *a, const char *h, const char *mask_add) {
    if (a->qkv || a->kv_heads != a->heads || st->rope || st->rel_bias) {
        if (g->st == AM_OK)
            g->st = am__error(AM_ERR_UNSUPPORTED, "export: this attention (fused QKV, grouped KV heads, rotary or relative bias) has no ONNX form yet");
        return NULL;
    }
    int64_t D = a->head_dim;
    const char *q = heads_split(g, am__ox_linear(g, a->q, a->kn, h), a->heads, D, false);
    const char *kt = heads_split(g, am__ox_linear(g, a->k, a->kn, h), a->kv_heads, D, true);
    const char *v = heads_split(g, am__ox_linear(g, a->v, a->kn, h), a->kv_heads, D, false);
    const char *s = am__ox_2(g, "MatMul", q, kt); /* [B,heads,T,T] */
    if (a->scale != 1.0f) s = mul_c(g, s, a->scale);
    if (mask_add) s = am__ox_2(g, "Add", s, mask_add);
    const char *p = attr_op(g, "Softmax", 1, &s, int_attr("axis", -1));
    const char *ctx = transpose(g, am__ox_2(g, "MatMul", p, v), 4, (int64_t[]){0, 2, 1, 3});
    ctx = reshape(g, ctx, 3, (int64_t[]){0, 0, a->heads * D});
    return am__ox_linear(g, a->o, a->kn, ctx);
}

static const char *mlp(am__ox *g, const am__mlp *p, const char *h) {
    const char *f;
    if (p->gate) f = am__ox_2(g, "Mul", am__ox_act(g, p->act, am__ox_linear(g, p->gate, p->kn, h)), am__ox_linear(g, p->fc1, p->kn, h));
    else f = am__ox_act(g, p->act, am__ox_linear(g, p->fc1, p->kn, h));
    return am__ox_linear(g, p->fc2, p->kn, f);
}

const char *am__ox_stack(am__ox *g, const am__stack *st, const char *x, const char *mask_add) {
    for (int64_t li = 0; li < st->n && x; li++) {
        const am__layer *L = &st->layer[li];
        /* the sublayers as nn/stack.c's sublayer(): pre-norm x += f(norm(x)), post-norm x = norm(x + f(x));
         * cross-attention needs an encoder state, which a model graph without one skips as the forward does */
        for (int k = 0; k < 2 && x; k++) {
            const am__norm *n = k == 0 ? &L->n_self : &L->n_mlp;
            const char *h = st->pre_norm ? am__ox_norm(g, n, x) : x;
            const char *o = k == 0 ? self_attention(g, st, &L->self, h, mask_add) : mlp(g, &L->mlp, h);
            x = am__ox_2(g, "Add", x, o);
            if (!st->pre_norm) x = am__ox_norm(g, n, x);
        }
    }
    return st->final_norm.mod ? am__ox_norm(g, &st->final_norm, x) : x;
}
