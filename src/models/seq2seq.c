/* models/seq2seq.c — the encoder-decoder engine shared by T5, BART and Whisper: inputs, encoder (on
 * input_ids, or on an architecture's front end such as Whisper's convolutions over input_features), the
 * encoder state for cross-attention, decoder, LM head; and generation (encoder once per call,
 * rows repeated for beams, decoder steps over the KV cache). */
#include "models/seq2seq.h"
#include "core/error.h"
#include <stdlib.h>
#include <string.h>

static void s2s_free(void *p) {
    am__s2s_impl *t = p;
    if (!t) return;
    am__stack_free(&t->enc);
    am__stack_free(&t->dec);
    free(t);
}

am_status am__shift_right(const am_model *m, const int64_t *ids, int64_t B, int64_t T, int64_t *out) {
    if (am__config_is_null(m->config, "decoder_start_token_id"))
        return am__error(AM_ERR_INVALID_ARGUMENT, "forward: no decoder_input_ids given and config.decoder_start_token_id is not set, so they cannot be made "
                                                  "from input_ids (shift_tokens_right)");
    if (am__config_is_null(m->config, "pad_token_id")) return am__error(AM_ERR_INVALID_ARGUMENT, "forward: self.model.config.pad_token_id has to be defined.");
    int64_t start = am__config_int(m->config, "decoder_start_token_id", 2), pad = am__config_int(m->config, "pad_token_id", 1);
    for (int64_t b = 0; b < B; b++) {
        out[b * T] = start;
        for (int64_t t = 1; t < T; t++) {
            int64_t v = ids[b * T + t - 1];
            out[b * T + t] = v == -100 ? pad : v;
        }
    }
    return AM_OK;
}

am_status am__s2s_layers(am__module *sm, bool decoder, const am__s2s_layers_spec *sp, am__stack *st) {
    am__module *list = am__module_new(sm, "layers", "ModuleList");
    am_status s = am__stack_alloc(st, sp->n);
    if (s != AM_OK) return s;
    int64_t D = sp->D;
    char cls[64];
    snprintf(cls, sizeof cls, "%s%sLayer", sp->cls, decoder ? "Decoder" : "Encoder");
    st->H = D;
    st->causal = decoder;
    st->attn_role = decoder ? AM__ATTN_DECODER : AM__ATTN_SELF;
    am__drop hd = {NULL, sp->ph};
    for (int64_t i = 0; i < sp->n; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        am__module *L = am__module_new(list, idx, cls);
        am__layer *l = &st->layer[i];
        l->self = sp->attn(L, "self_attn", D, sp->heads, sp->pa);
        if (decoder) am__nn_leaf(L, "activation_fn", sp->act_cls);
        l->n_self = (am__norm){am__nn_layernorm(L, "self_attn_layer_norm", D, 1e-5), AM__NORM_LAYER, 1e-5};
        if (decoder) {
            l->cross = sp->attn(L, "encoder_attn", D, sp->heads, sp->pa);
            l->n_cross = (am__norm){am__nn_layernorm(L, "encoder_attn_layer_norm", D, 1e-5), AM__NORM_LAYER, 1e-5};
        } else am__nn_leaf(L, "activation_fn", sp->act_cls);
        am__module *fc1 = am__nn_linear(L, "fc1", D, sp->ffn, true), *fc2 = am__nn_linear(L, "fc2", sp->ffn, D, true);
        l->mlp = (am__mlp){fc1, NULL, fc2, false, sp->ffn, sp->act, {NULL, sp->pact}};
        l->n_mlp = (am__norm){am__nn_layernorm(L, "final_layer_norm", D, 1e-5), AM__NORM_LAYER, 1e-5};
        l->d_self = l->d_cross = l->d_mlp = hd;
    }
    return AM_OK;
}

/* lm_head(x * head_scale) + final_logits_bias on M rows (x is scaled in place) */
static am_status lm_head(const am__s2s_impl *t, int64_t M, float *x, float *logits) {
    int64_t D = t->dec.H;
    if (t->head_scale != 1.0f)
        for (int64_t i = 0; i < M * D; i++) x[i] *= t->head_scale;
    am_status s = am__linear_fwd(t->lm_head, M, x, logits);
    if (s != AM_OK || !t->logits_bias) return s;
    float *tmp;
    const float *fb = am__f32_view(t->logits_bias->t, &tmp);
    if (!fb) return AM_ERR_NO_MEMORY;
    for (int64_t i = 0; i < M; i++)
        for (int64_t v = 0; v < t->V; v++) logits[i * t->V + v] += fb[v];
    free(tmp);
    return AM_OK;
}

/* the decoder's positions for T new tokens after `past` (BART's learned table; NULL for T5) */
static am_status dec_positions(const am__s2s_impl *t, int64_t B, int64_t T, int64_t past, int64_t **pos) {
    *pos = NULL;
    if (!t->dec_positions) return AM_OK;
    if (!(*pos = malloc((size_t)(B * T > 0 ? B * T : 1) * sizeof(int64_t)))) return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for positions");
    for (int64_t i = 0; i < B * T; i++) (*pos)[i] = past + i % T;
    return AM_OK;
}

/* Bart/T5ForSequenceClassification: the decoder state at the last <eos> of every row of input_ids,
 * through dropout, dense, tanh, dropout, out_proj */
static am_status cls_head(am_model *m, am__fwd *cx, const int64_t *ids, int64_t B, int64_t S, int64_t T, const float *dec, am_tensors *out) {
    const am__s2s_impl *t = m->impl;
    int64_t D = t->dec.H;
    if (T != S)
        return am__error(AM_ERR_SHAPE, "forward: decoder_input_ids has length %lld but input_ids %lld; the <eos> positions of input_ids index the decoder output",
                         (long long)T, (long long)S);
    int64_t *at = malloc((size_t)B * sizeof(int64_t));
    float *rep = NULL, *t1 = malloc((size_t)(B * D) * sizeof(float));
    am_status s = at && t1 ? am__eos_index(ids, B, S, am__config_int(m->config, "eos_token_id", 2), at) : am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    if (s == AM_OK && !(rep = am__gather_rows(dec, B, T, D, at))) s = AM_ERR_NO_MEMORY;
    if (s == AM_OK) {
        am__drop_fwd(cx, t->cls_drop, B * D, rep);
        s = am__transform_fwd(t->cls_dense, AM_ACT_TANH, NULL, B, rep, t1);
    }
    if (s == AM_OK) {
        am__drop_fwd(cx, t->cls_drop, B * D, t1);
        s = am__linear_output(t->cls_out, B, 1, false, t1, out, "logits");
    }
    free(at);
    free(rep);
    free(t1);
    return s;
}

static am_status put3(am_tensors *out, const char *name, int64_t a, int64_t b, int64_t c, const float *x) {
    return am__put_output(out, name, 3, (int64_t[]){a, b, c}, x);
}

/* the front end (t->front) and the encoder stack over its output: *enc [B*S, H] (owned) */
static am_status front_encode(am_model *m, am__fwd *cx, const am_tensors *in, am_tensors *hs, const char *hs_name, float **enc, int64_t *B, int64_t *S) {
    am__s2s_impl *t = m->impl;
    float *x = NULL;
    am_status s = t->front(m, cx, in, &x, B, S);
    if (s == AM_OK) {
        am__stack_io io = {.B = *B, .T = *S, .x = x, .hs = hs, .hs_name = hs_name};
        s = am__stack_forward(cx, &t->enc, &io);
    }
    if (s != AM_OK) free(x);
    else *enc = x;
    return s;
}

static am_status s2s_forward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out) {
    am__s2s_impl *t = m->impl;
    bool hs = opts && opts->output_hidden_states;
    int64_t B = -1, S = -1;
    const char *ehs = t->has_decoder ? "encoder_hidden_states" : "hidden_states";
    am__fwd cx = am__fwd_begin(m);
    float *enc = NULL, *dec = NULL, *logits = NULL;
    am_tensor *ids = NULL, *mask = NULL, *dids = NULL, *dmask = NULL;
    am_status s = AM_OK;
    if (t->front) s = front_encode(m, &cx, in, hs ? out : NULL, ehs, &enc, &B, &S);
    else {
        if (!(ids = am__input_ids(in, "input_ids", &B, &S, true)))
            return am_tensors_get(in, "input_ids") ? AM_ERR_SHAPE : am__error(AM_ERR_INVALID_ARGUMENT, "forward: You have to specify either input_ids or inputs_embeds");
        s = B == 0 || S == 0 ? am__error(AM_ERR_INVALID_ARGUMENT, "forward: input_ids is empty (shape [%lld, %lld])", (long long)B, (long long)S) : AM_OK;
        if (s == AM_OK) s = am__opt_input(in, "attention_mask", &B, &S, &mask);
    }
    int64_t DB = B, T = S, *shifted = NULL;
    const int64_t *dec_ids = NULL;
    am_tensor *raw = am_tensors_get(in, "decoder_input_ids");
    if (s == AM_OK && t->has_decoder && t->has_encoder) {
        if (raw) {
            /* batch must match the encoder's; the decoder length is its own */
            if (am_tensor_ndim(raw) == 2) T = am_tensor_dim(raw, 1);
            if (!(dids = am__input_ids(in, "decoder_input_ids", &DB, &T, true))) s = AM_ERR_SHAPE;
            else if (T == 0) s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: decoder_input_ids is empty");
            else dec_ids = dids->data;
        } else if (!t->shift_inputs) s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: You have to specify either decoder_input_ids or decoder_inputs_embeds");
        else if (!(shifted = malloc((size_t)(B * S) * sizeof(int64_t)))) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        else if ((s = am__shift_right(m, ids->data, B, S, shifted)) == AM_OK) dec_ids = shifted;
        if (s == AM_OK) s = am__opt_input(in, "decoder_attention_mask", &DB, &T, &dmask);
    }
    am__cross *cross = NULL;
    uint8_t *dm = NULL;
    int64_t *pos = NULL;
    if (s == AM_OK && t->has_encoder && !t->front)
        s = am__encode(&cx, &t->enc_emb, &t->enc, B, S, ids->data, NULL, NULL, mask ? mask->data : NULL, hs ? out : NULL, ehs, &enc);
    if (s == AM_OK && !t->has_decoder) s = put3(out, "last_hidden_state", B, S, t->enc.H, enc);
    if (s == AM_OK && t->has_decoder) {
        if (t->has_encoder) s = am__cross_new(&t->dec, enc, mask ? mask->data : NULL, B, S, 1, &cross);
        else { /* the decoder alone (ForCausalLM): input_ids and attention_mask are its own */
            dec_ids = ids->data;
            dmask = mask;
            mask = NULL;
        }
        if (s == AM_OK) s = am__mask_bytes(dmask ? dmask->data : NULL, B * T, &dm);
        if (s == AM_OK) s = dec_positions(t, B, T, 0, &pos);
        if (s == AM_OK && !(dec = malloc((size_t)(B * T * t->dec.H) * sizeof(float)))) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the decoder");
        if (s == AM_OK) s = am__embed_fwd(&cx, &t->dec_emb, B, T, dec_ids, pos, NULL, dec);
        if (s == AM_OK) {
            am__stack_io io = {.B = B, .T = T, .x = dec, .mask = dm, .mask_stride = T, .cross = cross, .hs = hs ? out : NULL,
                               .hs_name = t->has_encoder ? "decoder_hidden_states" : "hidden_states"};
            s = am__stack_forward(&cx, &t->dec, &io);
        }
        if (s == AM_OK && t->lm_head) {
            if (!(logits = malloc((size_t)(B * T * t->V) * sizeof(float)))) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the logits");
            if (s == AM_OK) s = lm_head(t, B * T, dec, logits);
            if (s == AM_OK) s = put3(out, "logits", B, T, t->V, logits);
        } else if (s == AM_OK && t->cls_out) s = cls_head(m, &cx, ids->data, B, S, T, dec, out);
        else if (s == AM_OK && t->qa) s = am__qa_head_forward(t->qa, B, T, dec, out);
        else if (s == AM_OK) s = put3(out, "last_hidden_state", B, T, t->dec.H, dec);
        if (s == AM_OK && t->has_encoder) s = put3(out, "encoder_last_hidden_state", B, S, t->enc.H, enc);
    }
    am__cross_free(cross);
    free(enc);
    free(dec);
    free(logits);
    free(dm);
    free(pos);
    free(shifted);
    am_tensor_free(ids);
    am_tensor_free(mask);
    am_tensor_free(dids);
    am_tensor_free(dmask);
    return s;
}

/* ---- generation ---- */

static am_status s2s_encode(am_model *m, const am_tensors *in, int64_t expand, void **enc) {
    am__s2s_impl *t = m->impl;
    int64_t B = -1, S = -1;
    *enc = NULL;
    if (t->front) { /* Whisper: input_features through the front end; no encoder padding mask */
        am__fwd cx = am__fwd_begin(m);
        float *h = NULL;
        am_status s = front_encode(m, &cx, in, NULL, NULL, &h, &B, &S);
        if (s == AM_OK) s = am__cross_new(&t->dec, h, NULL, B, S, expand, (am__cross **)enc);
        free(h);
        return s;
    }
    if (!in || !am_tensors_get(in, "input_ids"))
        return am__error(AM_ERR_INVALID_ARGUMENT, "generate: an encoder-decoder model needs input_ids for its encoder");
    am_tensor *ids = am__input_ids(in, "input_ids", &B, &S, true), *mask = NULL;
    if (!ids) return AM_ERR_SHAPE;
    am_status s = B == 0 || S == 0 ? am__error(AM_ERR_INVALID_ARGUMENT,
                                               "generate: input_ids is empty (shape [%lld, %lld]); the encoder needs at least one token per row",
                                               (long long)B, (long long)S)
                                   : am__opt_input(in, "attention_mask", &B, &S, &mask);
    am__fwd cx = am__fwd_begin(m);
    float *h = NULL;
    if (s == AM_OK) s = am__encode(&cx, &t->enc_emb, &t->enc, B, S, ids->data, NULL, NULL, mask ? mask->data : NULL, NULL, NULL, &h);
    if (s == AM_OK) s = am__cross_new(&t->dec, h, mask ? mask->data : NULL, B, S, expand, (am__cross **)enc);
    free(h);
    am_tensor_free(ids);
    am_tensor_free(mask);
    return s;
}

static am_status s2s_cache_new(const am_model *m, int64_t B, int64_t cap, am__kv_cache **out) {
    return am__stack_cache_new(&((const am__s2s_impl *)m->impl)->dec, B, cap, out);
}

static am_status s2s_step(am_model *m, am__kv_cache *cache, void *enc, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos,
                          const uint8_t *mask, int64_t mask_stride, float *logits) {
    am__s2s_impl *t = m->impl;
    (void)pos; /* relative or learned positions count from the cache length */
    if (T <= 0 || B != cache->B || (!enc && t->has_encoder))
        return am__error(AM_ERR_INVALID_ARGUMENT, "decoder step: bad arguments (%lld rows, %lld tokens)", (long long)B, (long long)T);
    am__fwd cx = am__fwd_begin(m);
    float *h = NULL;
    int64_t *p = NULL;
    am_status s = dec_positions(t, B, T, cache->len, &p);
    if (s == AM_OK) s = am__step_last(&cx, &t->dec_emb, &t->dec, B, T, ids, p, mask, mask_stride, cache, enc, &h);
    if (s == AM_OK) s = lm_head(t, B, h, logits);
    free(h);
    free(p);
    return s;
}

static int64_t s2s_vocab(const am_model *m) { return ((const am__s2s_impl *)m->impl)->V; }
static int64_t s2s_max_positions(const am_model *m) { return ((const am__s2s_impl *)m->impl)->max_pos; }

static const am__gen_ops k_s2s_gen = {true, s2s_max_positions, s2s_vocab, s2s_cache_new, s2s_encode, am__cross_free, s2s_step};
static const am__gen_ops k_dec_gen = {false, s2s_max_positions, s2s_vocab, s2s_cache_new, NULL, NULL, s2s_step}; /* the decoder alone */

/* export/: the decoder alone (BartForCausalLM) is a decoder-only model's graph; everything else
 * is written by export/onnx_seq2seq.c from the whole am__s2s_impl */
static void s2s_describe(const am_model *m, am__describe *d) {
    const am__s2s_impl *t = m->impl;
    if (!t->has_encoder) *d = (am__describe){.emb = &t->dec_emb, .stack = &t->dec, .lm_decoder = t->lm_head};
    else *d = (am__describe){.emb = &t->enc_emb, .stack = &t->enc, .s2s = t};
}

am_status am__s2s_init(am_model *m, const char *const *input_names, am__s2s_impl **out) {
    am__s2s_impl *t = calloc(1, sizeof *t);
    if (!t) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    t->head_scale = 1.0f;
    t->has_encoder = t->has_decoder = true;
    m->impl = t;
    m->impl_free = s2s_free;
    m->forward = s2s_forward;
    m->input_names = input_names;
    m->describe = s2s_describe;
    am_task task = m->spec->task;
    if (task == AM_TASK_SEQ2SEQ_LM || task == AM_TASK_MASKED_LM || task == AM_TASK_SPEECH_SEQ2SEQ) m->gen = &k_s2s_gen; /* 4.32 maps bart masked-lm to the seq2seq LM */
    if (task == AM_TASK_CAUSAL_LM) m->gen = &k_dec_gen;
    *out = t;
    return AM_OK;
}
