/* export/onnx_pb.c — protobuf wire encoding of the onnx.proto messages the exporter writes (field
 * numbers: proto/onnx.proto), and the graph builder on top: names, nodes, attributes, constants,
 * weights as initializers (borrowed from the model's tensors, inline or in the external data file),
 * graph inputs/outputs with dynamic axes, and the ModelProto. */
#include "export/onnx.h"
#include "core/error.h"
#include <stdlib.h>
#include <string.h>

/* ---- wire format ---- */

static void put_varint(am__pb *m, uint64_t v) {
    uint8_t b[10];
    int n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) b[n] |= 0x80;
        n++;
    } while (v);
    am__buf_put(&m->b, b, (size_t)n);
}
static void put_tag(am__pb *m, int field, int wt) { put_varint(m, ((uint64_t)field << 3) | (uint64_t)wt); }

uint64_t am__pb_size(const am__pb *m) { return m->b.len + m->ext_bytes; }

void am__pb_varint_field(am__pb *m, int field, uint64_t v) {
    put_tag(m, field, 0);
    put_varint(m, v);
}
void am__pb_float_field(am__pb *m, int field, float v) {
    put_tag(m, field, 5);
    uint8_t b[4];
    memcpy(b, &v, 4); /* little-endian hosts only (the library's loaders assume it too) */
    am__buf_put(&m->b, b, 4);
}
void am__pb_str_field(am__pb *m, int field, const char *s) {
    size_t n = strlen(s);
    put_tag(m, field, 2);
    put_varint(m, n);
    am__buf_put(&m->b, s, n);
}
static bool add_ext(am__pb *m, size_t at, const void *p, uint64_t n) {
    if (m->n_ext == m->cap_ext) {
        size_t c = m->cap_ext ? 2 * m->cap_ext : 16;
        am__pb_ext *e = realloc(m->ext, c * sizeof *e);
        if (!e) {
            m->oom = true;
            return false;
        }
        m->ext = e;
        m->cap_ext = c;
    }
    m->ext[m->n_ext++] = (am__pb_ext){at, p, n};
    m->ext_bytes += n;
    return true;
}
void am__pb_borrow_field(am__pb *m, int field, const void *p, uint64_t n) {
    put_tag(m, field, 2);
    put_varint(m, n);
    if (n) add_ext(m, m->b.len, p, n);
}
void am__pb_msg_field(am__pb *m, int field, am__pb *c) {
    put_tag(m, field, 2);
    put_varint(m, am__pb_size(c));
    size_t base = m->b.len;
    am__buf_put(&m->b, c->b.data ? c->b.data : "", c->b.len);
    for (size_t i = 0; i < c->n_ext; i++) add_ext(m, base + c->ext[i].at, c->ext[i].p, c->ext[i].n);
    if (c->oom || c->b.failed) m->oom = true;
    am__pb_free(c);
}
void am__pb_free(am__pb *m) {
    am__buf_free(&m->b);
    free(m->ext);
    memset(m, 0, sizeof *m);
}
am_status am__pb_write(const am__pb *m, FILE *f, const char *path) {
    size_t at = 0;
    for (size_t i = 0; i <= m->n_ext; i++) {
        size_t upto = i < m->n_ext ? m->ext[i].at : m->b.len;
        if (upto > at && fwrite(m->b.data + at, 1, upto - at, f) != upto - at) return am__error(AM_ERR_IO, "%s: write failed", path);
        at = upto;
        if (i < m->n_ext && m->ext[i].n && fwrite(m->ext[i].p, 1, m->ext[i].n, f) != m->ext[i].n) return am__error(AM_ERR_IO, "%s: write failed", path);
    }
    return AM_OK;
}

/* ---- the builder ---- */

static bool failed(am__ox *g) {
    if (g->st == AM_OK && (g->nodes.oom || g->nodes.b.failed || g->inits.oom || g->inits.b.failed || g->data.oom || g->data.b.failed ||
                          g->outer_nodes.oom || g->outer_nodes.b.failed || g->inputs.oom || g->inputs.b.failed || g->outputs.oom ||
                          g->outputs.b.failed))
        g->st = am__error(AM_ERR_NO_MEMORY, "export: out of memory while building the graph");
    return g->st != AM_OK;
}

void am__ox_init(am__ox *g, int opset, am_dtype wdtype) {
    memset(g, 0, sizeof *g);
    g->opset = opset;
    g->wdtype = wdtype;
    g->data_name = "model.onnx_data";
}

void am__ox_free(am__ox *g) {
    am__pb_free(&g->nodes);
    am__pb_free(&g->inits);
    am__pb_free(&g->inputs);
    am__pb_free(&g->outputs);
    am__pb_free(&g->data);
    am__pb_free(&g->outer_nodes);
    for (size_t i = 0; i < g->n_strs; i++) free(g->strs[i]);
    free(g->strs);
    free(g->tens);
    free(g->tname);
    for (size_t i = 0; i < g->n_owned; i++) free(g->owned[i]);
    free(g->owned);
    memset(g, 0, sizeof *g);
}

static bool grow(void **v, size_t *cap, size_t n, size_t el) {
    if (n < *cap) return true;
    size_t c = *cap ? 2 * *cap : 64;
    void *p = realloc(*v, c * el);
    if (!p) return false;
    *v = p;
    *cap = c;
    return true;
}

/* keeps s (owned) for the life of g; NULL (error set) when out of memory */
static const char *keep(am__ox *g, char *s) {
    if (!s || !grow((void **)&g->strs, &g->cap_strs, g->n_strs, sizeof *g->strs)) {
        free(s);
        if (g->st == AM_OK) g->st = am__error(AM_ERR_NO_MEMORY, "export: out of memory while building the graph");
        return NULL;
    }
    return g->strs[g->n_strs++] = s;
}

const char *am__ox_name(am__ox *g, const char *s) { return failed(g) ? NULL : keep(g, am__strdup(s)); }

const char *am__ox_out(am__ox *g, const char *first, int k) {
    if (!first) return NULL;
    return k == 0 ? first : keep(g, am__strfmt("%s_%d", first, k));
}

static void attr(am__pb *n, const am__ox_attr *a) {
    am__pb p = {0};
    am__pb_str_field(&p, 1, a->name);
    am__pb_varint_field(&p, 20, (uint64_t)a->kind);
    if (a->kind == 1) am__pb_float_field(&p, 2, a->f);
    else if (a->kind == 2) am__pb_varint_field(&p, 3, (uint64_t)a->i);
    else
        for (int i = 0; i < a->n; i++) am__pb_varint_field(&p, 8, (uint64_t)a->ints[i]);
    am__pb_msg_field(n, 5, &p);
}

/* a STRING attribute */
static void str_attr(am__pb *n, const char *name, const char *v) {
    am__pb p = {0};
    am__pb_str_field(&p, 1, name);
    am__pb_varint_field(&p, 20, 3);
    am__pb_str_field(&p, 4, v);
    am__pb_msg_field(n, 5, &p);
}

/* writes the node: string attributes str[2i] = str[2i+1], graph attributes; outputs out[] when
 * given, else "<name>_<k>" after the generated name */
static const char *node(am__ox *g, const char *op, int nin, const char *const *in, int nattr, const am__ox_attr *a, int nstr, const char *const *str,
                        int ngraph, const char *const *gname, am__pb *const *graph, int nout, const char *const *out) {
    if (failed(g)) return NULL;
    for (int i = 0; i < nin; i++) /* NULL: a producer failed (its error is set); "" omits an optional input */
        if (!in[i]) {
            if (g->st == AM_OK) g->st = am__error(AM_ERR_INTERNAL, "export: %s node without its input %d", op, i);
            return NULL;
        }
    const char *name = keep(g, am__strfmt("/%s_%lld", op, (long long)g->next++));
    if (!name) return NULL;
    am__pb n = {0};
    for (int i = 0; i < nin; i++) am__pb_str_field(&n, 1, in[i]);
    for (int k = 0; k < nout; k++) {
        const char *o = out ? out[k] : am__ox_out(g, name, k);
        if (!o) {
            am__pb_free(&n);
            return NULL;
        }
        am__pb_str_field(&n, 2, o);
    }
    am__pb_str_field(&n, 3, name);
    am__pb_str_field(&n, 4, op);
    for (int i = 0; i < nattr; i++) attr(&n, &a[i]);
    for (int i = 0; i < ngraph; i++) { /* AttributeProto: name 1, g 6, type 20 = GRAPH (5) */
        am__pb p = {0};
        am__pb_str_field(&p, 1, gname[i]);
        am__pb_varint_field(&p, 20, 5);
        am__pb_msg_field(&p, 6, graph[i]);
        am__pb_msg_field(&n, 5, &p);
    }
    for (int i = 0; i < nstr; i++) str_attr(&n, str[2 * i], str[2 * i + 1]);
    am__pb_msg_field(&g->nodes, 1, &n);
    return failed(g) ? NULL : name;
}
const char *am__ox_op(am__ox *g, const char *op, int nin, const char *const *in, int nattr, const am__ox_attr *a, int nout) {
    return node(g, op, nin, in, nattr, a, 0, NULL, 0, NULL, NULL, nout, NULL);
}
void am__ox_node(am__ox *g, const char *op, int nin, const char *const *in, int nattr, const am__ox_attr *a, int ngraph, const char *const *gname,
                 am__pb *const *graph, int nout, const char *const *out) {
    node(g, op, nin, in, nattr, a, 0, NULL, ngraph, gname, graph, nout, out);
}
const char *am__ox_op_s(am__ox *g, const char *op, int nin, const char *const *in, int nattr, const am__ox_attr *a, int nstr, const char *const *str) {
    return node(g, op, nin, in, nattr, a, nstr, str, 0, NULL, NULL, 1, NULL);
}
const char *am__ox_1(am__ox *g, const char *op, const char *x) { return am__ox_op(g, op, 1, (const char *[]){x}, 0, NULL, 1); }
const char *am__ox_2(am__ox *g, const char *op, const char *x, const char *y) { return am__ox_op(g, op, 2, (const char *[]){x, y}, 0, NULL, 1); }

/* a TensorProto header: dims, data_type, name (the data follows) */
static void tensor_head(am__pb *t, const char *name, int elem, int ndim, const int64_t *dims) {
    for (int i = 0; i < ndim; i++) am__pb_varint_field(t, 1, (uint64_t)dims[i]);
    am__pb_varint_field(t, 2, (uint64_t)elem);
    am__pb_str_field(t, 8, name);
}

/* an initializer whose bytes are p[n] (borrowed); small ones inline, the rest external when asked */
static void initializer(am__ox *g, const char *name, int elem, int ndim, const int64_t *dims, const void *p, uint64_t n) {
    am__pb t = {0};
    tensor_head(&t, name, elem, ndim, dims);
    if (g->external && n >= 1024) { /* onnx's convert_model_to_external_data size_threshold */
        uint64_t off = am__pb_size(&g->data);
        static const uint8_t zeros[4096];
        uint64_t pad = (4096 - off % 4096) % 4096; /* page-aligned, so a runtime can map each tensor */
        if (pad) {
            add_ext(&g->data, g->data.b.len, zeros, pad);
            off += pad;
        }
        add_ext(&g->data, g->data.b.len, p, n);
        const char *kv[3][2] = {{"location", g->data_name}, {"offset", NULL}, {"length", NULL}};
        char offs[32], lens[32];
        snprintf(offs, sizeof offs, "%llu", (unsigned long long)off);
        snprintf(lens, sizeof lens, "%llu", (unsigned long long)n);
        kv[1][1] = offs;
        kv[2][1] = lens;
        for (int i = 0; i < 3; i++) {
            am__pb e = {0};
            am__pb_str_field(&e, 1, kv[i][0]);
            am__pb_str_field(&e, 2, kv[i][1]);
            am__pb_msg_field(&t, 13, &e);
        }
        am__pb_varint_field(&t, 14, 1); /* data_location = EXTERNAL */
    } else
        am__pb_borrow_field(&t, 9, p, n); /* raw_data */
    am__pb_msg_field(&g->inits, 5, &t);
}

static void *own(am__ox *g, size_t n) {
    void *p = grow((void **)&g->owned, &g->cap_owned, g->n_owned, sizeof *g->owned) ? malloc(n ? n : 1) : NULL;
    if (!p) {
        if (g->st == AM_OK) g->st = am__error(AM_ERR_NO_MEMORY, "export: out of memory for %zu bytes of constants", n);
        return NULL;
    }
    return g->owned[g->n_owned++] = p;
}

/* a constant initializer (the bytes copied into g): a scalar when ndim is 0, else a vector [n] */
static const char *constant(am__ox *g, int elem, int ndim, int n, const void *v, size_t es) {
    if (failed(g)) return NULL;
    void *c = own(g, (size_t)n * es);
    const char *name = c ? keep(g, am__strfmt("/const_%lld", (long long)g->next++)) : NULL;
    if (!name) return NULL;
    memcpy(c, v, (size_t)n * es);
    int64_t d = n;
    am__pb t = {0};
    tensor_head(&t, name, elem, ndim, &d);
    am__pb_borrow_field(&t, 9, c, (uint64_t)n * es);
    am__pb_msg_field(&g->inits, 5, &t);
    return name;
}
const char *am__ox_i64(am__ox *g, int n, const int64_t *v, bool scalar) { return constant(g, AM__OX_INT64, scalar ? 0 : 1, n, v, 8); }
const char *am__ox_f32(am__ox *g, float v) { return constant(g, AM__OX_FLOAT, 0, 1, &v, 4); }
const char *am__ox_f32s(am__ox *g, int n, const float *v) { return constant(g, AM__OX_FLOAT, 1, n, v, 4); }

/* "bert.encoder.layer.0.attention.self.query" + ".weight" */
static char *param_name(const am__module *mod, const char *pname) {
    am__buf b = {0};
    const am__module *chain[64];
    int n = 0;
    for (const am__module *m = mod; m && m->parent && n < 64; m = m->parent) chain[n++] = m;
    while (n--) {
        am__buf_puts(&b, chain[n]->name);
        am__buf_puts(&b, ".");
    }
    am__buf_puts(&b, pname);
    if (b.failed) {
        am__buf_free(&b);
        return NULL;
    }
    return am__buf_take(&b);
}

static int onnx_elem(am_dtype dt) {
    switch (dt) {
    case AM_F32: return AM__OX_FLOAT;
    case AM_F16: return AM__OX_FLOAT16;
    case AM_BF16: return AM__OX_BFLOAT16;
    case AM_I64: return AM__OX_INT64;
    default: return 0;
    }
}

const char *am__ox_weight(am__ox *g, const am__module *mod, const char *pname) {
    if (failed(g)) return NULL;
    const am_tensor *t = mod ? am__mod_tensor(mod, pname) : NULL;
    if (!t || !t->data) {
        g->st = am__error(AM_ERR_INTERNAL, "export: parameter %s of %s has no data", pname, mod ? mod->name : "(none)");
        return NULL;
    }
    for (size_t i = 0; i < g->n_tens; i++)
        if (g->tens[i] == t) return g->tname[i]; /* a tied weight: one initializer */
    const char *name = keep(g, param_name(mod, pname));
    if (!name) return NULL;
    if (!am__tensor_is_contiguous(t) || !onnx_elem(t->dtype) || !am__dtype_is_float(t->dtype)) {
        g->st = am__error(AM_ERR_UNSUPPORTED, "export: %s is not a contiguous float tensor", name);
        return NULL;
    }
    int64_t numel = am__shape_numel(t->ndim, t->shape);
    const void *p = t->data;
    am_dtype dt = t->dtype;
    if (g->wdtype != AM_DTYPE_AUTO && g->wdtype != dt) { /* --dtype: a converted copy */
        size_t es = g->wdtype == AM_F32 ? 4 : 2;
        void *c = own(g, (size_t)numel * es);
        float *f = c ? malloc((size_t)(numel ? numel : 1) * sizeof(float)) : NULL;
        if (!f) {
            if (g->st == AM_OK) g->st = am__error(AM_ERR_NO_MEMORY, "export: out of memory converting %s", name);
            return NULL;
        }
        am__to_f32(t->data, dt, numel, f);
        for (int64_t i = 0; i < numel; i++) {
            if (g->wdtype == AM_F32) ((float *)c)[i] = f[i];
            else if (g->wdtype == AM_F16) ((uint16_t *)c)[i] = am__f32_to_f16(f[i]);
            else ((uint16_t *)c)[i] = am__f32_to_bf16(f[i]);
        }
        free(f);
        p = c;
        dt = g->wdtype;
    }
    size_t es = dt == AM_F32 ? 4 : 2;
    initializer(g, name, onnx_elem(dt), t->ndim, t->shape, p, (uint64_t)numel * es);
    const char *v = name;
    if (dt != AM_F32) { /* computed in float32, as automodel's own kernels widen stored weights */
        if (g->casts_outer) { /* into the outer graph's nodes (a merged decoder's branches share it) */
            am__pb t = g->nodes;
            g->nodes = g->outer_nodes;
            g->outer_nodes = t;
        }
        v = am__ox_op(g, "Cast", 1, &name, 1, &(am__ox_attr){"to", 2, AM__OX_FLOAT, 0, NULL, 0}, 1);
        if (g->casts_outer) {
            am__pb t = g->nodes;
            g->nodes = g->outer_nodes;
            g->outer_nodes = t;
        }
    }
    if (!v || !grow((void **)&g->tens, &g->cap_tens, g->n_tens, sizeof *g->tens) ||
        !grow((void **)&g->tname, &g->cap_tname, g->n_tens, sizeof *g->tname)) {
        if (g->st == AM_OK) g->st = am__error(AM_ERR_NO_MEMORY, "export: out of memory");
        return NULL;
    }
    g->tens[g->n_tens] = t;
    g->tname[g->n_tens++] = v;
    return failed(g) ? NULL : v;
}

static void value_info(am__pb *dst, int field, const char *name, int elem, int ndim, const char *const *dims, const int64_t *fixed) {
    am__pb shape = {0}, tt = {0}, tp = {0}, vi = {0};
    for (int i = 0; i < ndim; i++) {
        am__pb d = {0};
        if (dims && dims[i]) am__pb_str_field(&d, 2, dims[i]);
        else am__pb_varint_field(&d, 1, (uint64_t)fixed[i]);
        am__pb_msg_field(&shape, 1, &d);
    }
    am__pb_varint_field(&tt, 1, (uint64_t)elem);
    am__pb_msg_field(&tt, 2, &shape);
    am__pb_msg_field(&tp, 1, &tt);
    am__pb_str_field(&vi, 1, name);
    am__pb_msg_field(&vi, 2, &tp);
    am__pb_msg_field(dst, field, &vi);
}

void am__ox_io(am__ox *g, bool output, const char *name, int elem, int ndim, const char *const *dims, const int64_t *fixed) {
    if (g->st != AM_OK) return;
    value_info(output ? &g->outputs : &g->inputs, output ? 12 : 11, name, elem, ndim, dims, fixed);
}

void am__ox_output_as(am__ox *g, const char *from, const char *to, int ndim, const char *const *dims, const int64_t *fixed) {
    if (failed(g) || !from) return;
    am__pb n = {0};
    am__pb_str_field(&n, 1, from);
    am__pb_str_field(&n, 2, to);
    am__pb_str_field(&n, 3, to);
    am__pb_str_field(&n, 4, "Identity");
    am__pb_msg_field(&g->nodes, 1, &n);
    am__ox_io(g, true, to, AM__OX_FLOAT, ndim, dims, fixed);
}

static void concat(am__pb *dst, const am__pb *src) {
    size_t base = dst->b.len;
    am__buf_put(&dst->b, src->b.data ? src->b.data : "", src->b.len);
    for (size_t i = 0; i < src->n_ext; i++) add_ext(dst, base + src->ext[i].at, src->ext[i].p, src->ext[i].n);
}

am_status am__ox_subgraph(am__ox *g, const char *name, const am__pb *outputs, am__pb *out) {
    memset(out, 0, sizeof *out);
    if (failed(g)) return g->st;
    concat(out, &g->nodes); /* GraphProto: node 1, name 2, output 12 */
    am__pb_str_field(out, 2, name);
    concat(out, outputs);
    am__pb_free(&g->nodes);
    if (out->oom || out->b.failed) {
        am__pb_free(out);
        return g->st = am__error(AM_ERR_NO_MEMORY, "export: out of memory building the subgraph %s", name);
    }
    return AM_OK;
}

am_status am__ox_model(am__ox *g, const char *graph_name, am__pb *out) {
    memset(out, 0, sizeof *out);
    if (failed(g)) return g->st;
    /* GraphProto: node 1, name 2, initializer 5, input 11, output 12; each part already holds its
     * own field tags, so the graph is their concatenation */
    am__pb graph = {0};
    concat(&graph, &g->nodes);
    am__pb_str_field(&graph, 2, graph_name);
    concat(&graph, &g->inits);
    concat(&graph, &g->inputs);
    concat(&graph, &g->outputs);
    am__pb *m = out;
    am__pb_varint_field(m, 1, g->opset >= 15 ? 8 : 7); /* ir_version of the onnx release that introduced the opset */
    am__pb_str_field(m, 2, "automodel");
    am__pb_str_field(m, 3, am_version());
    am__pb op = {0};
    am__pb_str_field(&op, 1, "");
    am__pb_varint_field(&op, 2, (uint64_t)g->opset);
    am__pb_msg_field(m, 8, &op);
    am__pb_msg_field(m, 7, &graph);
    if (m->oom || m->b.failed || graph.oom || graph.b.failed) {
        am__pb_free(m);
        return g->st = am__error(AM_ERR_NO_MEMORY, "export: out of memory writing the model");
    }
    return AM_OK;
}
