/* nn/module.c — module tree construction, traversal in state_dict order, repr and train/eval. */
#include "nn/module.h"
#include "core/error.h"
#include "core/util.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Builders are written as plain declarations, without a check after every call, so an allocation
 * failure while building a tree is sticky: the call returns a scratch module or parameter of this
 * thread (writes to it go nowhere, and children of it are scratch too) and am__module_build_failed()
 * says so; the loader checks once after the build and frees the tree. */
static _Thread_local bool g_build_failed;
static _Thread_local am__module g_scratch_module;
static _Thread_local am__param g_scratch_param;

void am__module_build_begin(void) { g_build_failed = false; }
void am__module_build_fail(void) { g_build_failed = true; }
bool am__module_build_failed(void) { return g_build_failed; }

static am__module *scratch_module(void) {
    g_build_failed = true;
    memset(&g_scratch_module, 0, sizeof g_scratch_module);
    return &g_scratch_module;
}

static am__param *scratch_param(void) {
    g_build_failed = true;
    memset(&g_scratch_param, 0, sizeof g_scratch_param);
    return &g_scratch_param;
}

am__module *am__module_new(am__module *parent, const char *name, const char *type) {
    if (parent == &g_scratch_module) return scratch_module();
    am__module *m = calloc(1, sizeof *m);
    if (m) {
        m->name = am__strdup(name ? name : "");
        m->type = am__strdup(type);
    }
    if (!m || !m->name || (type && !m->type)) {
        if (m) free(m->name), free(m->type);
        free(m);
        return parent ? scratch_module() : NULL;
    }
    m->padding_idx = -1;
    m->training = true;
    m->parent = parent;
    if (parent) {
        am__module **c = realloc(parent->children, (parent->n_children + 1) * sizeof *c);
        if (!c) {
            free(m->name);
            free(m->type);
            free(m);
            return scratch_module();
        }
        parent->children = c;
        parent->children[parent->n_children++] = m;
    }
    return m;
}

void am__module_free(am__module *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n_children; i++) am__module_free(m->children[i]);
    for (size_t i = 0; i < m->n_params; i++) {
        free(m->params[i].name);
        am_tensor_free(m->params[i].t);
    }
    free(m->params);
    free(m->children);
    free(m->name);
    free(m->type);
    free(m->extra);
    free(m);
}

void am__module_set_extra(am__module *m, const char *fmt, ...) {
    if (m == &g_scratch_module) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(m->extra);
    m->extra = am__strdup(buf);
    if (!m->extra) g_build_failed = true;
}

static am__param *add_param(am__module *m, const char *name, am_dtype dt, int ndim, const int64_t *shape) {
    if (m == &g_scratch_module) return scratch_param();
    char *pname = am__strdup(name);
    am__param *p = pname ? realloc(m->params, (m->n_params + 1) * sizeof *p) : NULL;
    if (!p) {
        free(pname);
        return scratch_param();
    }
    m->params = p;
    am__param *r = &m->params[m->n_params++];
    memset(r, 0, sizeof *r);
    r->name = pname;
    r->dtype = dt;
    r->ndim = ndim;
    for (int i = 0; i < ndim; i++) r->shape[i] = shape[i];
    return r;
}

am__param *am__module_param(am__module *m, const char *name, int ndim, const int64_t *shape, am__init_kind init) {
    am__param *p = add_param(m, name, AM_F32, ndim, shape);
    p->trainable = true;
    p->init = init;
    return p;
}

am__param *am__module_buffer(am__module *m, const char *name, am_dtype dt, int ndim, const int64_t *shape, bool persistent) {
    am__param *p = add_param(m, name, dt, ndim, shape);
    p->is_buffer = true;
    p->persistent = persistent;
    return p;
}

am__module *am__module_child(const am__module *m, const char *name) {
    for (size_t i = 0; m && i < m->n_children; i++)
        if (!strcmp(m->children[i]->name, name)) return m->children[i];
    return NULL;
}

am__param *am__module_find_param(const am__module *m, const char *name) {
    for (size_t i = 0; m && i < m->n_params; i++)
        if (!strcmp(m->params[i].name, name)) return &m->params[i];
    return NULL;
}

am_tensor *am__mod_tensor(const am__module *m, const char *pname) {
    am__param *p = am__module_find_param(m, pname);
    return p ? p->t : NULL;
}

typedef struct {
    am__named_param *v;
    size_t n, cap;
} np_vec;

static bool collect(const am__module *m, const char *prefix, np_vec *out) {
    /* PyTorch: own parameters, then own buffers, then children */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < m->n_params; i++) {
            am__param *p = &m->params[i];
            if (p->is_buffer != (pass == 1)) continue;
            if (out->n == out->cap) {
                size_t cap = out->cap ? out->cap * 2 : 64;
                am__named_param *v = realloc(out->v, cap * sizeof *out->v);
                if (!v) return false;
                out->v = v;
                out->cap = cap;
            }
            char *full = malloc(strlen(prefix) + strlen(p->name) + 2);
            if (!full) return false;
            sprintf(full, "%s%s%s", prefix, *prefix ? "." : "", p->name);
            out->v[out->n++] = (am__named_param){full, (am__module *)m, p};
        }
    for (size_t i = 0; i < m->n_children; i++) {
        const am__module *c = m->children[i];
        char *cp = malloc(strlen(prefix) + strlen(c->name) + 2);
        if (!cp) return false;
        sprintf(cp, "%s%s%s", prefix, *prefix ? "." : "", c->name);
        bool ok = collect(c, cp, out);
        free(cp);
        if (!ok) return false;
    }
    return true;
}

am_status am__named_params(const am__module *root, am__named_param **out, size_t *n) {
    np_vec v = {0};
    *out = NULL;
    *n = 0;
    if (!collect(root, "", &v)) {
        am__named_params_free(v.v, v.n);
        return am__error(AM_ERR_NO_MEMORY, "out of memory listing the model's parameters");
    }
    *out = v.v;
    *n = v.n;
    return AM_OK;
}

void am__named_params_free(am__named_param *v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i].name);
    free(v);
}

am__param *am__module_lookup(const am__module *root, const char *name, am__module **owner) {
    const am__module *m = root;
    const char *p = name;
    for (;;) {
        const char *dot = strchr(p, '.');
        if (!dot) {
            am__param *r = am__module_find_param(m, p);
            if (r && owner) *owner = (am__module *)m;
            return r;
        }
        size_t len = (size_t)(dot - p);
        const am__module *next = NULL;
        for (size_t i = 0; i < m->n_children; i++)
            if (strlen(m->children[i]->name) == len && !strncmp(m->children[i]->name, p, len)) {
                next = m->children[i];
                break;
            }
        if (!next) return NULL;
        m = next;
        p = dot + 1;
    }
}

static void put_indent(am__buf *b, int n) {
    for (int i = 0; i < n; i++) am__buf_puts(b, " ");
}

void am__module_repr(const am__module *m, void *vb, int indent) {
    am__buf *b = vb;
    am__buf_printf(b, "%s(", m->type);
    if (m->n_children == 0) {
        if (m->extra) am__buf_puts(b, m->extra);
        am__buf_puts(b, ")");
        return;
    }
    if (m->extra) {
        am__buf_puts(b, "\n");
        put_indent(b, indent + 2);
        am__buf_puts(b, m->extra);
    }
    for (size_t i = 0; i < m->n_children; i++) {
        am__buf_puts(b, "\n");
        put_indent(b, indent + 2);
        am__buf_printf(b, "(%s): ", m->children[i]->name);
        am__module_repr(m->children[i], b, indent + 2);
    }
    am__buf_puts(b, "\n");
    put_indent(b, indent);
    am__buf_puts(b, ")");
}

void am__module_train(am__module *m, bool training) {
    m->training = training;
    for (size_t i = 0; i < m->n_children; i++) am__module_train(m->children[i], training);
}

/* ---- building blocks ---- */

am__module *am__nn_linear(am__module *parent, const char *name, int64_t in, int64_t out, bool bias) {
    am__module *m = am__module_new(parent, name, "Linear");
    am__module_set_extra(m, "in_features=%lld, out_features=%lld, bias=%s", (long long)in, (long long)out, bias ? "True" : "False");
    m->is_linear = true;
    int64_t ws[2] = {out, in};
    am__module_param(m, "weight", 2, ws, AM_INIT_NORMAL);
    if (bias) am__module_param(m, "bias", 1, &out, AM_INIT_ZEROS);
    return m;
}

/* nn.Conv2d (zero padding, groups; no dilation): weight [out, in/groups, kh, kw], bias [out] */
am__module *am__nn_conv2d(am__module *parent, const char *name, int64_t in, int64_t out, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                          int64_t pw, int64_t groups, bool bias) {
    am__module *m = am__module_new(parent, name, "Conv2d");
    char pad[96] = "", grp[48] = "";
    if (ph || pw) snprintf(pad, sizeof pad, ", padding=(%lld, %lld)", (long long)ph, (long long)pw);
    if (groups != 1) snprintf(grp, sizeof grp, ", groups=%lld", (long long)groups);
    am__module_set_extra(m, "%lld, %lld, kernel_size=(%lld, %lld), stride=(%lld, %lld)%s%s%s", (long long)in, (long long)out, (long long)kh, (long long)kw,
                         (long long)sh, (long long)sw, pad, grp, bias ? "" : ", bias=False");
    int64_t ws[4] = {out, groups > 0 ? in / groups : in, kh, kw};
    am__module_param(m, "weight", 4, ws, AM_INIT_NORMAL);
    if (bias) am__module_param(m, "bias", 1, &out, AM_INIT_ZEROS);
    return m;
}

/* nn.Conv1d (zero padding, groups; no dilation): weight [out, in/groups, k], bias [out] */
am__module *am__nn_conv1d(am__module *parent, const char *name, int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, int64_t groups, bool bias) {
    am__module *m = am__module_new(parent, name, "Conv1d");
    char pd[48] = "", grp[48] = "";
    if (pad) snprintf(pd, sizeof pd, ", padding=(%lld,)", (long long)pad);
    if (groups != 1) snprintf(grp, sizeof grp, ", groups=%lld", (long long)groups);
    am__module_set_extra(m, "%lld, %lld, kernel_size=(%lld,), stride=(%lld,)%s%s%s", (long long)in, (long long)out, (long long)k, (long long)stride, pd, grp,
                         bias ? "" : ", bias=False");
    int64_t ws[3] = {out, groups > 0 ? in / groups : in, k};
    am__module_param(m, "weight", 3, ws, AM_INIT_NORMAL);
    if (bias) am__module_param(m, "bias", 1, &out, AM_INIT_ZEROS);
    return m;
}

am__module *am__nn_embedding(am__module *parent, const char *name, int64_t num, int64_t dim, int64_t padding_idx) {
    am__module *m = am__module_new(parent, name, "Embedding");
    if (padding_idx >= 0) am__module_set_extra(m, "%lld, %lld, padding_idx=%lld", (long long)num, (long long)dim, (long long)padding_idx);
    else am__module_set_extra(m, "%lld, %lld", (long long)num, (long long)dim);
    m->is_embedding = true;
    m->padding_idx = padding_idx;
    int64_t ws[2] = {num, dim};
    am__module_param(m, "weight", 2, ws, AM_INIT_NORMAL);
    return m;
}

am__module *am__nn_layernorm(am__module *parent, const char *name, int64_t dim, double eps) {
    am__module *m = am__module_new(parent, name, "LayerNorm");
    char e[64];
    am__format_py_float(eps, e, sizeof e);
    am__module_set_extra(m, "(%lld,), eps=%s, elementwise_affine=True", (long long)dim, e);
    am__module_param(m, "weight", 1, &dim, AM_INIT_ONES);
    am__module_param(m, "bias", 1, &dim, AM_INIT_ZEROS);
    return m;
}

am__module *am__nn_dropout(am__module *parent, const char *name, double p) {
    am__module *m = am__module_new(parent, name, "Dropout");
    m->p = p;
    char e[64];
    am__format_py_float(p, e, sizeof e);
    am__module_set_extra(m, "p=%s, inplace=False", e);
    return m;
}

am__module *am__nn_leaf(am__module *parent, const char *name, const char *type) { return am__module_new(parent, name, type); }
