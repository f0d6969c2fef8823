/* models/whisper.c — Whisper (modeling_whisper.py of transformers 4.32): WhisperModel and
 * WhisperForConditionalGeneration on the encoder-decoder engine (models/seq2seq.c). The encoder reads
 * log-mel input_features through two Conv1d + GELU (the second with stride 2) and adds its
 * sinusoidal embed_positions (a weight of the checkpoint); pre-norm layers with a final layer_norm on
 * both sides; the decoder has learned positions counted from the cache length; attention keys have
 * no bias; proj_out (no bias) is tied to the decoder's embed_tokens. Generation's Whisper rules
 * (forced language/task tokens, timestamps) are in generate/generate.c. */
#include "core/error.h"
#include "core/util.h"
#include "models/seq2seq.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* WhisperConfig() of transformers 4.32 */
const am__config_default am__whisper_defaults[] = {
    {"vocab_size", "51865"}, {"num_mel_bins", "80"}, {"encoder_layers", "6"}, {"encoder_attention_heads", "4"}, {"decoder_layers", "6"},
    {"decoder_attention_heads", "4"}, {"decoder_ffn_dim", "1536"}, {"encoder_ffn_dim", "1536"}, {"encoder_layerdrop", "0.0"},
    {"decoder_layerdrop", "0.0"}, {"decoder_start_token_id", "50257"}, {"use_cache", "true"}, {"is_encoder_decoder", "true"},
    {"activation_function", "\"gelu\""}, {"d_model", "256"}, {"dropout", "0.0"}, {"attention_dropout", "0.0"}, {"activation_dropout", "0.0"},
    {"init_std", "0.02"}, {"scale_embedding", "false"}, {"max_source_positions", "1500"}, {"max_target_positions", "448"},
    {"pad_token_id", "50256"}, {"bos_token_id", "50256"}, {"eos_token_id", "50256"}, {"suppress_tokens", "null"},
    {"begin_suppress_tokens", "[220, 50256]"}, {"use_weighted_layer_sum", "false"}, {"classifier_proj_size", "256"},
    {"apply_spec_augment", "false"}, {"mask_time_prob", "0.05"}, {"mask_time_length", "10"}, {"mask_time_min_masks", "2"},
    {"mask_feature_prob", "0.0"}, {"mask_feature_length", "10"}, {"mask_feature_min_masks", "0"}, {"median_filter_width", "7"},
    {"num_hidden_layers", "6"}, {NULL, NULL}};

/* WhisperConfig.__init__: num_hidden_layers = encoder_layers */
am_status am__whisper_config_init(am_config *c, const char *origin) {
    (void)origin;
    if (cJSON_GetObjectItemCaseSensitive(c->values, "num_hidden_layers")) return AM_OK;
    return am_config_set_int(c, "num_hidden_layers", am__config_int(c, "encoder_layers", 6));
}

/* attention_mask: accepted and not used, as WhisperEncoder.forward takes it (4.32 reads it only for
 * SpecAugment, which training mode refuses here) */
static const char *const k_whisper_inputs[] = {"input_features", "attention_mask", "decoder_input_ids", "decoder_attention_mask", NULL};

/* WhisperAttention: k_proj without bias; q scaled by head_dim^-0.5 (as a score scale here) */
static am__attn whisper_attention(am__module *parent, const char *name, int64_t D, int64_t heads, double p) {
    am__module *m = am__module_new(parent, name, "WhisperAttention");
    am__module *k = am__nn_linear(m, "k_proj", D, D, false), *v = am__nn_linear(m, "v_proj", D, D, true);
    am__module *q = am__nn_linear(m, "q_proj", D, D, true), *o = am__nn_linear(m, "out_proj", D, D, true);
    return (am__attn){q, k, v, o, NULL, false, heads, heads, D / heads, 1.0f / sqrtf((float)(D / heads)), {NULL, p}};
}

/* the encoder's input: gelu(conv1(x)), gelu(conv2(.)) as rows [B*S, D], + embed_positions, dropout */
static am_status whisper_front(am_model *m, am__fwd *cx, const am_tensors *in, float **out, int64_t *B, int64_t *S) {
    const am__s2s_impl *t = m->impl;
    const am__module *c1 = t->front_mod[0], *c2 = t->front_mod[1], *pm = t->front_mod[2];
    const am_tensor *pw = am__mod_tensor(pm, "weight");
    int64_t M = am__mod_tensor(c1, "weight")->shape[1], D = t->enc.H, P = pw->shape[0];
    *out = NULL;
    const am_tensor *f = am_tensors_get(in, "input_features");
    if (!f) return am__error(AM_ERR_INVALID_ARGUMENT, "forward: missing required input 'input_features'");
    if (f->ndim != 3) return am__error(AM_ERR_SHAPE, "forward: input_features must have 3 dimensions [batch, %lld, frames], got %d", (long long)M, f->ndim);
    if (!am__dtype_is_float(f->dtype)) return am__error(AM_ERR_INVALID_ARGUMENT, "forward: input_features must be a float tensor, got %s", am_dtype_name(f->dtype));
    int64_t N = f->shape[0], L = f->shape[2];
    if (f->shape[1] != M)
        return am__error(AM_ERR_SHAPE, "forward: input_features has %lld mel bins (dimension 1) but the model's conv1 takes %lld (num_mel_bins)",
                         (long long)f->shape[1], (long long)M);
    if (N == 0) return am__error(AM_ERR_INVALID_ARGUMENT, "forward: input_features is empty");
    if (L != 2 * P)
        return am__error(AM_ERR_SHAPE,
                         "forward: Whisper expects the mel input features to be of length %lld, but found %lld. Make sure to pad the input mel features to %lld.",
                         (long long)(2 * P), (long long)L, (long long)(2 * P));
    if (cx->training && am__config_bool(m->config, "apply_spec_augment", false))
        return am__error(AM_ERR_UNSUPPORTED, "forward: SpecAugment (config.apply_spec_augment in training mode) is not supported; call eval() or set it false");
    am_tensor *x32 = am__tensor_convert(f, AM_F32);
    float *h1 = malloc((size_t)(N * L * D) * sizeof(float)), *h2 = malloc((size_t)(N * P * D) * sizeof(float)), *pt = NULL;
    am_status s = x32 && h1 && h2 ? AM_OK : am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the convolutions of %lld x %lld frames", (long long)N, (long long)L);
    int64_t l1 = 0, l2 = 0;
    if (s == AM_OK) s = am__conv1d_fwd(c1, N, M, L, x32->data, true, 1, 1, 1, h1, &l1);
    if (s == AM_OK) {
        am__act_f32(AM_ACT_GELU, N * l1 * D, h1);
        s = am__conv1d_fwd(c2, N, D, l1, h1, false, 2, 1, 1, h2, &l2);
    }
    const float *pf = s == AM_OK ? am__f32_view(pw, &pt) : NULL;
    if (s == AM_OK && !pf) s = AM_ERR_NO_MEMORY;
    if (s == AM_OK) {
        am__act_f32(AM_ACT_GELU, N * l2 * D, h2);
        for (int64_t b = 0; b < N; b++)
            for (int64_t i = 0; i < P * D; i++) h2[b * P * D + i] += pf[i];
        am__drop_fwd(cx, (am__drop){NULL, am__config_float(m->config, "dropout", 0.0)}, N * P * D, h2);
    }
    free(pt);
    free(h1);
    am_tensor_free(x32);
    if (s != AM_OK) {
        free(h2);
        return s;
    }
    *out = h2;
    *B = N;
    *S = P;
    return AM_OK;
}

/* WhisperEncoder / WhisperDecoder: pre-norm layers, final layer_norm; functional dropouts */
static am_status whisper_stack_build(am_model *m, am__module *base, bool decoder, const char *act_cls, am__act act, am__s2s_impl *t) {
    const am_config *c = m->config;
    const char *name = decoder ? "decoder" : "encoder";
    int64_t V = am__config_int(c, "vocab_size", 51865), D = am__config_int(c, "d_model", 256);
    int64_t n = am__config_int(c, decoder ? "decoder_layers" : "encoder_layers", 6);
    int64_t heads = am__config_int(c, decoder ? "decoder_attention_heads" : "encoder_attention_heads", 4);
    int64_t ffn = am__config_int(c, decoder ? "decoder_ffn_dim" : "encoder_ffn_dim", 1536);
    int64_t P = am__config_int(c, decoder ? "max_target_positions" : "max_source_positions", decoder ? 448 : 1500);
    int64_t pad = am__config_is_null(c, "pad_token_id") ? -1 : am__config_int(c, "pad_token_id", 50256);
    double ph = am__config_float(c, "dropout", 0.0), pa = am__config_float(c, "attention_dropout", 0.0), pact = am__config_float(c, "activation_dropout", 0.0);
    if (n < 0 || n > 100000 || heads <= 0 || D % heads || ffn <= 0 || P <= 0)
        return am__error(AM_ERR_FORMAT,
                         "config: d_model (%lld) must be a positive multiple of %s_attention_heads (%lld), with %s_layers >= 0, %s_ffn_dim > 0 and "
                         "positive max_%s_positions",
                         (long long)D, name, (long long)heads, name, name, decoder ? "target" : "source");
    am__stack *st = decoder ? &t->dec : &t->enc;
    am__module *sm = am__module_new(base, name, decoder ? "WhisperDecoder" : "WhisperEncoder");
    am__module *tokens = NULL, *pos;
    if (decoder) {
        tokens = am__nn_embedding(sm, "embed_tokens", V, D, pad);
        pos = am__nn_embedding(sm, "embed_positions", P, D, -1);
        free(pos->type);
        pos->type = am__strdup("WhisperPositionalEmbedding");
        if (!pos->type) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    } else {
        int64_t M = am__config_int(c, "num_mel_bins", 80);
        if (M <= 0) return am__error(AM_ERR_FORMAT, "config: num_mel_bins must be positive, got %lld", (long long)M);
        t->front_mod[0] = am__nn_conv1d(sm, "conv1", M, D, 3, 1, 1, 1, true);
        t->front_mod[1] = am__nn_conv1d(sm, "conv2", D, D, 3, 2, 1, 1, true);
        pos = am__nn_embedding(sm, "embed_positions", P, D, -1);
        t->front_mod[2] = pos;
    }
    am__s2s_layers_spec sp = {"Whisper", whisper_attention, n, D, heads, ffn, act_cls, act, ph, pa, pact};
    am_status s = am__s2s_layers(sm, decoder, &sp, st);
    if (s != AM_OK) return s;
    st->pre_norm = true;
    st->final_norm = (am__norm){am__nn_layernorm(sm, "layer_norm", D, 1e-5), AM__NORM_LAYER, 1e-5};
    if (decoder) t->dec_emb = (am__embed){.word = tokens, .pos = pos, .scale = 1.0f, .pos_limit = "max_target_positions", .drop = {NULL, ph}};
    return AM_OK;
}

am_status am__whisper_build(am_model *m) {
    const am_config *c = m->config;
    am__s2s_impl *t;
    am_status s = am__s2s_init(m, k_whisper_inputs, &t);
    if (s != AM_OK) return s;
    int64_t V = am__config_int(c, "vocab_size", 51865), D = am__config_int(c, "d_model", 256);
    int64_t pad = am__config_is_null(c, "pad_token_id") ? -1 : am__config_int(c, "pad_token_id", 50256);
    if (V <= 0 || D <= 0) return am__error(AM_ERR_FORMAT, "config: vocab_size and d_model must be positive");
    if (pad >= V) return am__error(AM_ERR_FORMAT, "config: pad_token_id (%lld) is outside the vocabulary (%lld)", (long long)pad, (long long)V);
    t->V = V;
    t->max_pos = am__config_int(c, "max_target_positions", 448);
    t->dec_positions = true;
    t->front = whisper_front;
    const char *act = am__config_str(c, "activation_function", "gelu"), *act_cls;
    am__act actk;
    if (!am__act_parse(act, &actk, &act_cls)) return am__error(AM_ERR_UNSUPPORTED, "config: activation_function \"%s\" is not a supported activation", act);
    am__module *base = m->root;
    bool lm = m->spec->task == AM_TASK_SPEECH_SEQ2SEQ;
    if (lm) base = am__module_new(m->root, "model", "WhisperModel");
    s = whisper_stack_build(m, base, false, act_cls, actk, t);
    if (s == AM_OK) s = whisper_stack_build(m, base, true, act_cls, actk, t);
    if (s != AM_OK) return s;
    if (lm) {
        t->lm_head = am__nn_linear(m->root, "proj_out", D, V, false);
        if (am__config_bool(c, "tie_word_embeddings", true)) am__model_tie(m, "proj_out.weight", "model.decoder.embed_tokens.weight");
    }
    return AM_OK;
}
