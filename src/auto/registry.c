/* auto/registry.c — the registry as data: model_type -> config class/defaults/prefix, and
 * (model_type, task) -> class name and builder. Adding an architecture adds rows here. */
#include "auto/auto.h"
#include "core/error.h"
#include <string.h>

extern const am__config_default am__bert_defaults[], am__roberta_defaults[], am__distilbert_defaults[];
am_status am__bert_build(am_model *m);
am_status am__roberta_build(am_model *m);
am_status am__distilbert_build(am_model *m);
extern const am__config_default am__t5_defaults[], am__bart_defaults[];
am_status am__t5_build(am_model *m);
am_status am__bart_build(am_model *m);
am_status am__t5_config_init(am_config *c, const char *origin);
am_status am__bart_config_init(am_config *c, const char *origin);

extern const am__config_default am__gpt2_defaults[], am__llama_defaults[];
am_status am__gpt2_build(am_model *m);
am_status am__llama_build(am_model *m);
extern const am__config_default am__vit_defaults[];
am_status am__vit_build_model(am_model *m);
extern const am__config_default am__yolos_defaults[];
am_status am__yolos_build(am_model *m);
extern const am__config_default am__ved_defaults[];
am_status am__ved_build(am_model *m);
am_status am__ved_config_init(am_config *c, const char *origin);
extern const am__config_default am__segformer_defaults[];
am_status am__segformer_build(am_model *m);
extern const am__config_default am__wav2vec2_defaults[];
am_status am__wav2vec2_build(am_model *m);
am_status am__wav2vec2_config_init(am_config *c, const char *origin);
extern const am__config_default am__whisper_defaults[];
am_status am__whisper_build(am_model *m);
am_status am__whisper_config_init(am_config *c, const char *origin);

static const am__type_spec k_types[] = {
    {"bert", "BertConfig", am__bert_defaults, "bert"},
    {"roberta", "RobertaConfig", am__roberta_defaults, "roberta"},
    {"distilbert", "DistilBertConfig", am__distilbert_defaults, "distilbert"},
    {"gpt2", "GPT2Config", am__gpt2_defaults, "transformer"},
    {"llama", "LlamaConfig", am__llama_defaults, "model"},
    {"t5", "T5Config", am__t5_defaults, "transformer"},
    {"bart", "BartConfig", am__bart_defaults, "model"},
    {"vit", "ViTConfig", am__vit_defaults, "vit"},
    {"yolos", "YolosConfig", am__yolos_defaults, "vit"},
    {"vision-encoder-decoder", "VisionEncoderDecoderConfig", am__ved_defaults, "vision_encoder_decoder"},
    {"segformer", "SegformerConfig", am__segformer_defaults, "segformer"},
    {"wav2vec2", "Wav2Vec2Config", am__wav2vec2_defaults, "wav2vec2"},
    {"whisper", "WhisperConfig", am__whisper_defaults, "model"},
};

static const char *const k_bert_mlm_tied[] = {"predictions.decoder.bias", "cls.predictions.decoder.weight", NULL};
static const char *const k_roberta_mlm_tied[] = {"lm_head.decoder.weight", "lm_head.decoder.bias", NULL};
static const char *const k_distil_mlm_tied[] = {"vocab_projector.weight", NULL};
static const char *const k_lm_head_tied[] = {"lm_head.weight", NULL};

static const char *const k_t5_tied[] = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", NULL};
static const char *const k_t5_cg_tied[] = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight", NULL};
static const char *const k_t5_enc_tied[] = {"encoder.embed_tokens.weight", NULL};
static const char *const k_t5_unexpected[] = {"decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight", NULL};
static const char *const k_t5_enc_unexpected[] = {"decoder", NULL};
static const char *const k_t5_fp32[] = {"wo", NULL};
static const char *const k_bart_tied[] = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", NULL};
static const char *const k_bart_cg_tied[] = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight", NULL};
static const char *const k_bart_cg_missing[] = {"final_logits_bias", NULL};
static const char *const k_bart_unexpected[] = {"encoder.version", "decoder.version", NULL};
static const char *const k_whisper_cg_tied[] = {"proj_out.weight", NULL};

static const am__head_spec k_heads[] = {
    {"bert", AM_TASK_BASE, "BertModel", am__bert_build, NULL, NULL, NULL, false, NULL},
    {"bert", AM_TASK_SEQUENCE_CLASSIFICATION, "BertForSequenceClassification", am__bert_build, NULL, NULL, NULL, false, NULL},
    {"bert", AM_TASK_TOKEN_CLASSIFICATION, "BertForTokenClassification", am__bert_build, NULL, NULL, NULL, false, NULL},
    {"bert", AM_TASK_QUESTION_ANSWERING, "BertForQuestionAnswering", am__bert_build, NULL, NULL, NULL, false, NULL},
    {"bert", AM_TASK_MASKED_LM, "BertForMaskedLM", am__bert_build, k_bert_mlm_tied, NULL, NULL, true, NULL},
    {"bert", AM_TASK_CAUSAL_LM, "BertLMHeadModel", am__bert_build, k_bert_mlm_tied, NULL, NULL, true, NULL},
    {"roberta", AM_TASK_BASE, "RobertaModel", am__roberta_build, NULL, NULL, NULL, false, NULL},
    {"roberta", AM_TASK_SEQUENCE_CLASSIFICATION, "RobertaForSequenceClassification", am__roberta_build, NULL, NULL, NULL, false, NULL},
    {"roberta", AM_TASK_TOKEN_CLASSIFICATION, "RobertaForTokenClassification", am__roberta_build, NULL, NULL, NULL, false, NULL},
    {"roberta", AM_TASK_QUESTION_ANSWERING, "RobertaForQuestionAnswering", am__roberta_build, NULL, NULL, NULL, false, NULL},
    {"roberta", AM_TASK_MASKED_LM, "RobertaForMaskedLM", am__roberta_build, k_roberta_mlm_tied, NULL, NULL, false, NULL},
    {"roberta", AM_TASK_CAUSAL_LM, "RobertaForCausalLM", am__roberta_build, k_roberta_mlm_tied, NULL, NULL, true, NULL},
    {"distilbert", AM_TASK_BASE, "DistilBertModel", am__distilbert_build, NULL, NULL, NULL, false, NULL},
    {"distilbert", AM_TASK_SEQUENCE_CLASSIFICATION, "DistilBertForSequenceClassification", am__distilbert_build, NULL, NULL, NULL, false, NULL},
    {"distilbert", AM_TASK_TOKEN_CLASSIFICATION, "DistilBertForTokenClassification", am__distilbert_build, NULL, NULL, NULL, false, NULL},
    {"distilbert", AM_TASK_QUESTION_ANSWERING, "DistilBertForQuestionAnswering", am__distilbert_build, NULL, NULL, NULL, false, NULL},
    {"distilbert", AM_TASK_MASKED_LM, "DistilBertForMaskedLM", am__distilbert_build, k_distil_mlm_tied, NULL, NULL, false, NULL},
    {"gpt2", AM_TASK_BASE, "GPT2Model", am__gpt2_build, NULL, NULL, NULL, false, NULL},
    {"gpt2", AM_TASK_CAUSAL_LM, "GPT2LMHeadModel", am__gpt2_build, k_lm_head_tied, NULL, NULL, true, NULL},
    {"gpt2", AM_TASK_SEQUENCE_CLASSIFICATION, "GPT2ForSequenceClassification", am__gpt2_build, NULL, NULL, NULL, false, NULL},
    {"gpt2", AM_TASK_TOKEN_CLASSIFICATION, "GPT2ForTokenClassification", am__gpt2_build, NULL, NULL, NULL, false, NULL},
    {"gpt2", AM_TASK_QUESTION_ANSWERING, "GPT2ForQuestionAnswering", am__gpt2_build, NULL, NULL, NULL, false, NULL},
    {"llama", AM_TASK_BASE, "LlamaModel", am__llama_build, NULL, NULL, NULL, false, NULL},
    {"llama", AM_TASK_CAUSAL_LM, "LlamaForCausalLM", am__llama_build, k_lm_head_tied, NULL, NULL, true, NULL},
    {"llama", AM_TASK_SEQUENCE_CLASSIFICATION, "LlamaForSequenceClassification", am__llama_build, NULL, NULL, NULL, false, NULL},
    {"t5", AM_TASK_BASE, "T5Model", am__t5_build, k_t5_tied, NULL, k_t5_unexpected, false, k_t5_fp32},
    {"t5", AM_TASK_SEQ2SEQ_LM, "T5ForConditionalGeneration", am__t5_build, k_t5_cg_tied, NULL, k_t5_unexpected, true, k_t5_fp32},
    {"t5", AM_TASK_SEQUENCE_CLASSIFICATION, "T5ForSequenceClassification", am__t5_build, k_t5_tied, NULL, k_t5_unexpected, false, k_t5_fp32},
    {"t5", AM_TASK_QUESTION_ANSWERING, "T5ForQuestionAnswering", am__t5_build, k_t5_tied, NULL, k_t5_unexpected, false, k_t5_fp32},
    /* no Auto class maps to it in 4.32: reached through config.architectures (task base) */
    {"t5", AM_TASK_BASE, "T5EncoderModel", am__t5_build, k_t5_enc_tied, NULL, k_t5_enc_unexpected, false, k_t5_fp32},
    {"bart", AM_TASK_BASE, "BartModel", am__bart_build, k_bart_tied, NULL, k_bart_unexpected, false, NULL},
    {"bart", AM_TASK_SEQ2SEQ_LM, "BartForConditionalGeneration", am__bart_build, k_bart_cg_tied, k_bart_cg_missing, k_bart_unexpected, true, NULL},
    {"bart", AM_TASK_SEQUENCE_CLASSIFICATION, "BartForSequenceClassification", am__bart_build, k_bart_tied, NULL, k_bart_unexpected, false, NULL},
    {"bart", AM_TASK_QUESTION_ANSWERING, "BartForQuestionAnswering", am__bart_build, k_bart_tied, NULL, k_bart_unexpected, false, NULL},
    {"bart", AM_TASK_CAUSAL_LM, "BartForCausalLM", am__bart_build, k_lm_head_tied, NULL, k_bart_unexpected, true, NULL},
    /* AutoModelForMaskedLM maps bart to BartForConditionalGeneration in 4.32 (after the row above, so
     * the class name resolves to the seq2seq row) */
    {"bart", AM_TASK_MASKED_LM, "BartForConditionalGeneration", am__bart_build, k_bart_cg_tied, k_bart_cg_missing, k_bart_unexpected, true, NULL},
    {"vit", AM_TASK_BASE, "ViTModel", am__vit_build_model, NULL, NULL, NULL, false, NULL},
    {"vit", AM_TASK_IMAGE_CLASSIFICATION, "ViTForImageClassification", am__vit_build_model, NULL, NULL, NULL, false, NULL},
    {"yolos", AM_TASK_BASE, "YolosModel", am__yolos_build, NULL, NULL, NULL, false, NULL},
    {"yolos", AM_TASK_OBJECT_DETECTION, "YolosForObjectDetection", am__yolos_build, NULL, NULL, NULL, false, NULL},
    {"vision-encoder-decoder", AM_TASK_VISION2SEQ, "VisionEncoderDecoderModel", am__ved_build, NULL, NULL, NULL, true, NULL},
    {"segformer", AM_TASK_BASE, "SegformerModel", am__segformer_build, NULL, NULL, NULL, false, NULL},
    {"segformer", AM_TASK_SEMANTIC_SEGMENTATION, "SegformerForSemanticSegmentation", am__segformer_build, NULL, NULL, NULL, false, NULL},
    {"wav2vec2", AM_TASK_BASE, "Wav2Vec2Model", am__wav2vec2_build, NULL, NULL, NULL, false, NULL},
    {"wav2vec2", AM_TASK_AUDIO_CLASSIFICATION, "Wav2Vec2ForSequenceClassification", am__wav2vec2_build, NULL, NULL, NULL, false, NULL},
    {"wav2vec2", AM_TASK_CTC, "Wav2Vec2ForCTC", am__wav2vec2_build, NULL, NULL, NULL, false, NULL},
    {"whisper", AM_TASK_BASE, "WhisperModel", am__whisper_build, NULL, NULL, NULL, false, NULL},
    {"whisper", AM_TASK_SPEECH_SEQ2SEQ, "WhisperForConditionalGeneration", am__whisper_build, k_whisper_cg_tied, NULL, NULL, true, NULL},
};

static const char *const k_task_names[AM_TASK_COUNT] = {
    [AM_TASK_AUTO] = "auto",
    [AM_TASK_BASE] = "base",
    [AM_TASK_SEQUENCE_CLASSIFICATION] = "sequence-classification",
    [AM_TASK_TOKEN_CLASSIFICATION] = "token-classification",
    [AM_TASK_QUESTION_ANSWERING] = "question-answering",
    [AM_TASK_CAUSAL_LM] = "causal-lm",
    [AM_TASK_MASKED_LM] = "masked-lm",
    [AM_TASK_SEQ2SEQ_LM] = "seq2seq-lm",
    [AM_TASK_IMAGE_CLASSIFICATION] = "image-classification",
    [AM_TASK_OBJECT_DETECTION] = "object-detection",
    [AM_TASK_IMAGE_SEGMENTATION] = "image-segmentation",
    [AM_TASK_SEMANTIC_SEGMENTATION] = "semantic-segmentation",
    [AM_TASK_AUDIO_CLASSIFICATION] = "audio-classification",
    [AM_TASK_SPEECH_SEQ2SEQ] = "speech-seq2seq",
    [AM_TASK_VISION2SEQ] = "vision2seq",
    [AM_TASK_CTC] = "ctc",
};

/* transformers' Auto class for each task (named in errors). */
static const char *const k_auto_names[AM_TASK_COUNT] = {
    [AM_TASK_AUTO] = "AutoModel",
    [AM_TASK_BASE] = "AutoModel",
    [AM_TASK_SEQUENCE_CLASSIFICATION] = "AutoModelForSequenceClassification",
    [AM_TASK_TOKEN_CLASSIFICATION] = "AutoModelForTokenClassification",
    [AM_TASK_QUESTION_ANSWERING] = "AutoModelForQuestionAnswering",
    [AM_TASK_CAUSAL_LM] = "AutoModelForCausalLM",
    [AM_TASK_MASKED_LM] = "AutoModelForMaskedLM",
    [AM_TASK_SEQ2SEQ_LM] = "AutoModelForSeq2SeqLM",
    [AM_TASK_IMAGE_CLASSIFICATION] = "AutoModelForImageClassification",
    [AM_TASK_OBJECT_DETECTION] = "AutoModelForObjectDetection",
    [AM_TASK_IMAGE_SEGMENTATION] = "AutoModelForImageSegmentation",
    [AM_TASK_SEMANTIC_SEGMENTATION] = "AutoModelForSemanticSegmentation",
    [AM_TASK_AUDIO_CLASSIFICATION] = "AutoModelForAudioClassification",
    [AM_TASK_SPEECH_SEQ2SEQ] = "AutoModelForSpeechSeq2Seq",
    [AM_TASK_VISION2SEQ] = "AutoModelForVision2Seq",
    [AM_TASK_CTC] = "AutoModelForCTC",
};

const char *am_task_name(am_task t) { return (unsigned)t < AM_TASK_COUNT && k_task_names[t] ? k_task_names[t] : "unknown"; }
const char *am__auto_class_name(am_task t) { return (unsigned)t < AM_TASK_COUNT && k_auto_names[t] ? k_auto_names[t] : "AutoModel"; }

am_status am_task_parse(const char *s, am_task *out) {
    for (int i = 0; s && i < AM_TASK_COUNT; i++)
        if (k_task_names[i] && !strcmp(s, k_task_names[i])) {
            *out = (am_task)i;
            return AM_OK;
        }
    return am__error(AM_ERR_INVALID_ARGUMENT, "unknown task '%s' (expected base, sequence-classification, token-classification, question-answering, causal-lm, masked-lm, seq2seq-lm, ...)",
                     s ? s : "(null)");
}

const char *am_attn_impl_name(am_attn_impl impl) { return am__attn_impl_name(impl); }

am_status am_attn_impl_parse(const char *s, am_attn_impl *out) {
    static const am_attn_impl k[] = {AM_ATTN_EAGER, AM_ATTN_SDPA, AM_ATTN_FLASH};
    for (size_t i = 0; s && i < sizeof k / sizeof k[0]; i++)
        if (!strcmp(s, am__attn_impl_name(k[i]))) {
            *out = k[i];
            return AM_OK;
        }
    /* transformers' PreTrainedModel._autoset_attn_implementation ValueError, for a class that
     * supports both flash_attention_2 and sdpa */
    return am__error(AM_ERR_INVALID_ARGUMENT,
                     "Specified `attn_implementation=\"%s\"` is not supported. The only possible arguments are `attn_implementation=\"eager\"` "
                     "(manual attention implementation), `\"attn_implementation=flash_attention_2\"` (implementation using flash attention 2), "
                     "`\"attn_implementation=sdpa\"` (implementation using torch.nn.functional.scaled_dot_product_attention).",
                     s ? s : "None");
}

const am__type_spec *am__type_lookup(const char *model_type) {
    for (size_t i = 0; model_type && i < sizeof k_types / sizeof k_types[0]; i++)
        if (!strcmp(k_types[i].model_type, model_type)) return &k_types[i];
    return NULL;
}

const char *am__supported_model_types(void) { return "bart, bert, distilbert, gpt2, llama, roberta, segformer, t5, vision-encoder-decoder, vit, wav2vec2, whisper, yolos"; }

const am__head_spec *am__head_lookup(const char *model_type, am_task task) {
    for (size_t i = 0; model_type && i < sizeof k_heads / sizeof k_heads[0]; i++)
        if (k_heads[i].task == task && !strcmp(k_heads[i].model_type, model_type)) return &k_heads[i];
    return NULL;
}

const am__head_spec *am__head_by_class(const char *class_name) {
    for (size_t i = 0; class_name && i < sizeof k_heads / sizeof k_heads[0]; i++)
        if (!strcmp(k_heads[i].class_name, class_name)) return &k_heads[i];
    return NULL;
}

/* Config classes whose __init__ does more than fill defaults (derived keys, validation). */
static const struct {
    const char *model_type;
    am_status (*init)(am_config *c, const char *origin);
} k_config_inits[] = {{"t5", am__t5_config_init}, {"bart", am__bart_config_init}, {"vision-encoder-decoder", am__ved_config_init},
                       {"wav2vec2", am__wav2vec2_config_init}, {"whisper", am__whisper_config_init}};

am_status am__config_class_init(am_config *c, const char *origin) {
    const char *mt = am_config_model_type(c);
    for (size_t i = 0; i < sizeof k_config_inits / sizeof k_config_inits[0]; i++)
        if (!strcmp(k_config_inits[i].model_type, mt)) return k_config_inits[i].init(c, origin);
    return AM_OK;
}

const am__type_spec *am__model_type_spec(const am_model *m) { return am__type_lookup(m->spec->model_type); }
