/* models/bart.c — BART (modeling_bart.py): BartModel, BartForConditionalGeneration and
 * BartForSequenceClassification. Post-LN encoder and decoder with learned positions offset by 2,
 * embedding LayerNorm, optional sqrt(d_model) embedding scale, final_logits_bias on the LM head,
 * decoder inputs shifted from input_ids when none are given. */
#include "core/error.h"
#include "core/util.h"
#include "models/seq2seq.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* BartConfig() of transformers 4.32: model-specific keys, then the generic ones it overrides. */
const am__config_default am__bart_defaults[] = {
    {"vocab_size", "50265"}, {"max_position_embeddings", "1024"}, {"d_model", "1024"}, {"encoder_ffn_dim", "4096"}, {"encoder_layers", "12"},
    {"encoder_attention_heads", "16"}, {"decoder_ffn_dim", "4096"}, {"decoder_layers", "12"}, {"decoder_attention_heads", "16"},
    {"dropout", "0.1"}, {"attention_dropout", "0.0"}, {"activation_dropout", "0.0"}, {"activation_function", "\"gelu\""},
    {"init_std", "0.02"}, {"encoder_layerdrop", "0.0"}, {"decoder_layerdrop", "0.0"}, {"classifier_dropout", "0.0"},
    {"use_cache", "true"}, {"num_hidden_layers", "12"}, {"scale_embedding", "false"},
    {"pad_token_id", "1"}, {"bos_token_id", "0"}, {"eos_token_id", "2"}, {"is_encoder_decoder", "true"},
    {"decoder_start_token_id", "2"}, {"forced_eos_token_id", "2"},
    {"id2label", "{\"0\": \"LABEL_0\", \"1\": \"LABEL_1\", \"2\": \"LABEL_2\"}"},
    {"label2id", "{\"LABEL_0\": 0, \"LABEL_1\": 1, \"LABEL_2\": 2}"}, {NULL, NULL}};

/* BartConfig.__init__: num_hidden_layers = encoder_layers; the BART-CNN compatibility flag
 * force_bos_token_to_be_generated sets forced_bos_token_id = bos_token_id. */
am_status am__bart_config_init(am_config *c, const char *origin) {
    (void)origin;
    am_status s = AM_OK;
    if (!cJSON_GetObjectItemCaseSensitive(c->values, "num_hidden_layers"))
        s = am_config_set_int(c, "num_hidden_layers", am__config_int(c, "encoder_layers", 12));
    if (s == AM_OK && am__config_is_null(c, "forced_bos_token_id") && am__config_bool(c, "force_bos_token_to_be_generated", false)) {
        const cJSON *bos = am__config_value(c, "bos_token_id");
        s = cJSON_IsNumber(bos) ? am_config_set_int(c, "forced_bos_token_id", (int64_t)bos->valuedouble) : am_config_set_json(c, "forced_bos_token_id", "null");
    }
    return s;
}

static const char *const k_bart_inputs[] = {"input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask", NULL};
static const char *const k_bart_causal_inputs[] = {"input_ids", "attention_mask", NULL};

static am__attn bart_attention(am__module *parent, const char *name, int64_t D, int64_t heads, double p) {
    am__module *m = am__module_new(parent, name, "BartAttention");
    am__module *k = am__nn_linear(m, "k_proj", D, D, true), *v = am__nn_linear(m, "v_proj", D, D, true);
    am__module *q = am__nn_linear(m, "q_proj", D, D, true), *o = am__nn_linear(m, "out_proj", D, D, true);
    return (am__attn){q, k, v, o, NULL, false, heads, heads, D / heads, 1.0f / sqrtf((float)(D / heads)), {NULL, p}};
}

/* BartEncoder / BartDecoder: post-LN layers, learned positions offset by 2, embedding LayerNorm;
 * every dropout is functional (F.dropout with the model's mode). */
static am_status bart_stack_build(am_model *m, am__module *base, const char *base_prefix, bool decoder, const char *act_cls, am__act act,
                                  am__module *shared, am__stack *st, am__embed *emb) {
    const am_config *c = m->config;
    const char *name = decoder ? "decoder" : "encoder";
    int64_t V = am__config_int(c, "vocab_size", 50265), D = am__config_int(c, "d_model", 1024), P = am__config_int(c, "max_position_embeddings", 1024);
    int64_t pad = am__config_is_null(c, "pad_token_id") ? -1 : am__config_int(c, "pad_token_id", 1);
    int64_t n = am__config_int(c, decoder ? "decoder_layers" : "encoder_layers", 12);
    int64_t heads = am__config_int(c, decoder ? "decoder_attention_heads" : "encoder_attention_heads", 16);
    int64_t ffn = am__config_int(c, decoder ? "decoder_ffn_dim" : "encoder_ffn_dim", 4096);
    double ph = am__config_float(c, "dropout", 0.1), pa = am__config_float(c, "attention_dropout", 0.0), pact = am__config_float(c, "activation_dropout", 0.0);
    if (n < 0 || n > 100000 || heads <= 0 || D % heads || ffn <= 0)
        return am__error(AM_ERR_FORMAT, "config: d_model (%lld) must be a positive multiple of %s_attention_heads (%lld), with %s_layers >= 0 and %s_ffn_dim > 0",
                         (long long)D, name, (long long)heads, name, name);
    am__module *sm = am__module_new(base, name, decoder ? "BartDecoder" : "BartEncoder");
    am__module *tokens = am__nn_embedding(sm, "embed_tokens", V, D, pad);
    char al[160], tgt[160];
    snprintf(al, sizeof al, "%s%s.embed_tokens.weight", base_prefix, name);
    snprintf(tgt, sizeof tgt, "%sshared.weight", base_prefix);
    if (shared) am__model_tie(m, al, tgt); /* the stacks' embed_tokens.weight is the shared Parameter */
    else shared = tokens;                  /* BartDecoderWrapper: the decoder's own table */
    am__module *pos = am__nn_embedding(sm, "embed_positions", P + 2, D, -1);
    free(pos->type);
    pos->type = am__strdup("BartLearnedPositionalEmbedding");
    am__s2s_layers_spec sp = {"Bart", bart_attention, n, D, heads, ffn, act_cls, act, ph, pa, pact};
    am_status s = am__s2s_layers(sm, decoder, &sp, st);
    if (s != AM_OK) return s;
    am__drop hd = {NULL, ph};
    am__norm ln = {am__nn_layernorm(sm, "layernorm_embedding", D, 1e-5), AM__NORM_LAYER, 1e-5};
    float scale = am__config_bool(c, "scale_embedding", false) ? sqrtf((float)D) : 1.0f;
    *emb = (am__embed){.word = shared, .pos = pos, .pos_offset = 2, .scale = scale, .norm = ln, .drop = hd};
    return AM_OK;
}

am_status am__bart_build(am_model *m) {
    const am_config *c = m->config;
    am__s2s_impl *t;
    am_status s = am__s2s_init(m, k_bart_inputs, &t);
    if (s != AM_OK) return s;
    am_task task = m->spec->task;
    int64_t V = am__config_int(c, "vocab_size", 50265), D = am__config_int(c, "d_model", 1024), P = am__config_int(c, "max_position_embeddings", 1024);
    int64_t pad = am__config_is_null(c, "pad_token_id") ? -1 : am__config_int(c, "pad_token_id", 1);
    t->V = V;
    t->max_pos = P;
    t->shift_inputs = t->dec_positions = true;
    if (V <= 0 || D <= 0 || P <= 0) return am__error(AM_ERR_FORMAT, "config: vocab_size, d_model and max_position_embeddings must be positive");
    if (pad >= V) return am__error(AM_ERR_FORMAT, "config: pad_token_id (%lld) is outside the vocabulary (%lld)", (long long)pad, (long long)V);
    const char *act = am__config_str(c, "activation_function", "gelu"), *act_cls;
    am__act actk;
    if (!am__act_parse(act, &actk, &act_cls)) return am__error(AM_ERR_UNSUPPORTED, "config: activation_function \"%s\" is not a supported activation", act);
    am__module *root = m->root, *base = root;
    bool lm = task == AM_TASK_SEQ2SEQ_LM || task == AM_TASK_MASKED_LM; /* 4.32 maps bart masked-lm to BartForConditionalGeneration */
    if (task == AM_TASK_CAUSAL_LM) { /* BartForCausalLM: BartDecoderWrapper, the decoder alone */
        t->has_encoder = false;
        m->input_names = k_bart_causal_inputs;
        base = am__module_new(root, "model", "BartDecoderWrapper");
        if ((s = bart_stack_build(m, base, "model.", true, act_cls, actk, NULL, &t->dec, &t->dec_emb)) != AM_OK) return s;
        t->lm_head = am__nn_linear(root, "lm_head", D, V, false);
        if (am__config_bool(c, "tie_word_embeddings", true)) am__model_tie(m, "lm_head.weight", "model.decoder.embed_tokens.weight");
        return AM_OK;
    }
    const char *bp = "";
    if (task != AM_TASK_BASE) {
        base = am__module_new(root, "model", "BartModel");
        bp = "model.";
    }
    am__module *shared = am__nn_embedding(base, "shared", V, D, pad);
    s = bart_stack_build(m, base, bp, false, act_cls, actk, shared, &t->enc, &t->enc_emb);
    if (s == AM_OK) s = bart_stack_build(m, base, bp, true, act_cls, actk, shared, &t->dec, &t->dec_emb);
    if (s != AM_OK) return s;
    if (lm) {
        int64_t fs[2] = {1, V};
        t->logits_bias = am__module_buffer(root, "final_logits_bias", AM_F32, 2, fs, true);
        t->lm_head = am__nn_linear(root, "lm_head", D, V, false);
        if (am__config_bool(c, "tie_word_embeddings", true)) am__model_tie(m, "lm_head.weight", "model.shared.weight");
    } else if (task == AM_TASK_SEQUENCE_CLASSIFICATION) {
        am__module *ch = am__module_new(root, "classification_head", "BartClassificationHead");
        t->cls_dense = am__nn_linear(ch, "dense", D, D, true);
        t->cls_drop = (am__drop){am__nn_dropout(ch, "dropout", am__config_float(c, "classifier_dropout", 0.0)), 0};
        t->cls_out = am__nn_linear(ch, "out_proj", D, am_config_num_labels(c), true);
    } else if (task == AM_TASK_QUESTION_ANSWERING) t->qa = am__nn_linear(root, "qa_outputs", D, am_config_num_labels(c), true);
    return AM_OK;
}
