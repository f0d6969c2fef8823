/* models/causal.c — the decoder-only architecture (GPT-2, Llama): one forward for every head, and the
 * generation interface over the stack's KV cache. Architecture files only describe their weights. */
#include "models/causal.h"
#include "core/error.h"
#include <stdlib.h>
#include <string.h>

static void causal_free(void *p) {
    am__causal_impl *c = p;
    if (!c) return;
    am__stack_free(&c->st);
    free(c);
}

static am_status causal_forward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out) {
    am__causal_impl *c = m->impl;
    int64_t B = -1, T = -1, H = c->st.H;
    am_tensor *ids = am__input_ids(in, "input_ids", &B, &T, true), *mask = NULL, *tt = NULL, *pt = NULL;
    if (!ids) return AM_ERR_INVALID_ARGUMENT;
    am_status s = B == 0 || T == 0 ? am__error(AM_ERR_INVALID_ARGUMENT, "%s: input_ids is empty", m->spec->class_name) : AM_OK;
    if (s == AM_OK) s = am__opt_input(in, "attention_mask", &B, &T, &mask);
    if (s == AM_OK) s = am__opt_input(in, "token_type_ids", &B, &T, &tt);
    if (s == AM_OK) s = am__opt_input(in, "position_ids", &B, &T, &pt);
    for (int64_t i = 0; s == AM_OK && pt && i < B * T; i++)
        if (((const int64_t *)pt->data)[i] < 0)
            s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: position_ids contains %lld (negative)", (long long)((const int64_t *)pt->data)[i]);
    am__fwd cx = am__fwd_begin(m);
    float *x = NULL, *pooled = NULL;
    int64_t *at = NULL;
    if (s == AM_OK)
        s = am__encode(&cx, &c->emb, &c->st, B, T, ids->data, pt ? pt->data : NULL, tt ? tt->data : NULL, mask ? mask->data : NULL,
                       opts && opts->output_hidden_states ? out : NULL, "hidden_states", &x);
    if (s == AM_OK) switch (m->spec->task) {
        case AM_TASK_BASE: s = am__put_output(out, "last_hidden_state", 3, (int64_t[]){B, T, H}, x); break;
        case AM_TASK_CAUSAL_LM:
        case AM_TASK_TOKEN_CLASSIFICATION:
            am__drop_fwd(&cx, c->head_drop, B * T * H, x);
            s = am__linear_output(c->head, B, T, true, x, out, "logits");
            break;
        case AM_TASK_SEQUENCE_CLASSIFICATION:
            if (!(at = malloc((size_t)B * sizeof(int64_t)))) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
            if (s == AM_OK) s = am__last_token_index(ids->data, B, T, c->has_pad, c->pad, at);
            if (s == AM_OK && !(pooled = am__gather_rows(x, B, T, H, at))) s = AM_ERR_NO_MEMORY;
            if (s == AM_OK) s = am__linear_output(c->head, B, 1, false, pooled, out, "logits");
            break;
        case AM_TASK_QUESTION_ANSWERING: s = am__qa_head_forward(c->head, B, T, x, out); break;
        default: s = am__error(AM_ERR_UNSUPPORTED, "%s: task not supported", m->spec->class_name);
        }
    free(x);
    free(pooled);
    free(at);
    am_tensor_free(ids);
    am_tensor_free(mask);
    am_tensor_free(tt);
    am_tensor_free(pt);
    return s;
}

/* ---- generation interface ---- */

static int64_t causal_max_positions(const am_model *m) { return ((const am__causal_impl *)m->impl)->max_pos; }
static int64_t causal_vocab(const am_model *m) { return am__module_find_param(((const am__causal_impl *)m->impl)->head, "weight")->shape[0]; }
static am_status causal_cache_new(const am_model *m, int64_t B, int64_t cap, am__kv_cache **out) {
    return am__stack_cache_new(&((const am__causal_impl *)m->impl)->st, B, cap, out);
}
static am_status causal_step(am_model *m, am__kv_cache *cache, void *enc, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos,
                             const uint8_t *mask, int64_t mstride, float *logits) {
    (void)enc;
    am__causal_impl *c = m->impl;
    am__fwd cx = am__fwd_begin(m);
    float *last = NULL;
    am_status s = am__step_last(&cx, &c->emb, &c->st, B, T, ids, pos, mask, mstride, cache, NULL, &last);
    if (s == AM_OK) s = am__linear_fwd(c->head, B, last, logits);
    free(last);
    return s;
}
static const am__gen_ops k_causal_gen = {false, causal_max_positions, causal_vocab, causal_cache_new, NULL, NULL, causal_step};

static void causal_describe(const am_model *m, am__describe *d) {
    const am__causal_impl *c = m->impl;
    am_task t = m->spec->task;
    *d = (am__describe){.emb = &c->emb, .stack = &c->st, .pad = c->pad, .has_pad = c->has_pad, .decoder = true,
                        .pool_last = t == AM_TASK_SEQUENCE_CLASSIFICATION};
    if (t == AM_TASK_CAUSAL_LM) d->lm_decoder = c->head;
    else if (t == AM_TASK_QUESTION_ANSWERING) d->qa = c->head;
    else d->classifier = c->head;
}

am_status am__causal_init(am_model *m, const char *const *input_names, am__causal_impl **out) {
    am__causal_impl *c = calloc(1, sizeof *c);
    if (!c) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    m->impl = c;
    m->impl_free = causal_free;
    m->forward = causal_forward;
    m->input_names = input_names;
    m->describe = causal_describe;
    if (m->spec->task == AM_TASK_CAUSAL_LM) m->gen = &k_causal_gen;
    *out = c;
    return AM_OK;
}
