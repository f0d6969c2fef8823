/* pipelines/pipeline.h — internals of the task pipelines: the pipeline object, results, the
 * batched forward runner, and each task's post-processing as functions of given logits (so the
 * tests can drive NER grouping and QA span selection with crafted numbers, without a model). */
#ifndef AM_PIPELINES_PIPELINE_H
#define AM_PIPELINES_PIPELINE_H
#include "automodel.h"
#include "core/util.h"

typedef struct am_feature_extractor am_feature_extractor; /* src/audio (automodel.h) */

/* What the pipeline needs to know about its tokenizer beyond the public API (read from the
 * tokenizer folder's tokenizer.json / tokenizer_config.json / special_tokens_map.json). */
typedef struct am__pl_tokinfo {
    int32_t unk_id, mask_id, cls_id, pad_id; /* -1 when absent */
    char *mask_token;                        /* owned; NULL when absent */
    bool subword_prefix;                     /* model.continuing_subword_prefix is set (WordPiece "##") */
    char *wp_prefix;                         /* the WordPiece decoder's prefix ("##"); NULL when the decoder is another */
    bool wp_cleanup;                         /* the WordPiece decoder's cleanup flag */
} am__pl_tokinfo;

struct am_pipeline {
    am_task task;
    am_model *model;
    am_tokenizer *tok;
    am_pipeline_options o;
    char **ignore;
    size_t n_ignore;
    am__pl_tokinfo ti;
    size_t max_len;
    bool type_ids; /* the model takes token_type_ids */
    bool warned_length;
    int num_labels;
    char *path;
    /* the image tasks */
    am_image_processor *proc;
    char *output_dir;
    size_t n_masks_written; /* names the mask files of one pipeline uniquely */
    /* call keyword arguments of the image tasks (am_pipeline_call sets them for one call) */
    double threshold;       /* object-detection: default 0.9 */
    int64_t max_new_tokens; /* image-to-text: 0 unset */
    char *generate_kwargs;  /* image-to-text: JSON object or NULL */
    /* the audio tasks (audio.c) */
    am_feature_extractor *fe;
    bool ctc;                  /* automatic-speech-recognition: a CTC model (else Whisper) */
    int return_timestamps;     /* 0 none, 1 true, 2 "char", 3 "word" */
    bool return_language;
    double chunk_length_s;     /* 0: no chunking */
    double stride_length_s[2]; /* NAN: chunk_length_s / 6 */
    int64_t logits_ratio;      /* CTC: inputs_to_logits_ratio (the product of conv_stride) */
    double fe_chunk_length;    /* Whisper: the feature extractor's chunk_length (seconds) */
};

typedef enum { AM__PL_LABELS = 1, AM__PL_ENTITIES, AM__PL_ANSWERS, AM__PL_FILLS, AM__PL_DETECTIONS, AM__PL_SEGMENTS, AM__PL_TEXTS, AM__PL_TRANSCRIPT } am__pl_kind;

struct am_pipeline_result {
    am__pl_kind kind;
    char *error;
    bool truncated;
    bool list_shape; /* classify: top_k given (a ranked list, not the legacy best-label shape) */
    bool grouped;    /* ner: entity_group instead of entity/index */
    bool score_first; /* image-classification: {"score", "label"} (the text pipeline writes "label" first) */
    size_t n, cap, n_masks;
    am_label_score *labels;
    am_entity *entities;
    am_answer *answers;
    am_mask_fill *fills;
    am_detection *dets;
    am_segment *segs;
    am_generated_text *texts;
    /* automatic-speech-recognition: the text, and chunks written as 1 {"text", "timestamp"} (CTC),
     * 2 {"timestamp", "text"} (Whisper), 3 {"language", "timestamp", "text"}, 4 {"language", "text"}; 0: no "chunks" */
    const char *text;
    am_transcript_chunk *chunks;
    int chunk_style;
    char **strs; /* owned strings the items point to */
    size_t n_strs, cap_strs;
};

am_pipeline_result *am__pl_result_new(am__pl_kind kind);
am_pipeline_result *am__pl_result_error(am__pl_kind kind, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Takes ownership of s (freed with the result); returns it, or NULL (and frees s) on OOM. */
char *am__pl_result_own(am_pipeline_result *r, char *s);
/* Appends one zeroed item; NULL on OOM. */
void *am__pl_result_push(am_pipeline_result *r);

/* Python's text[start:end] for code-point offsets (owned). */
char *am__pl_substr_cp(const char *text, size_t len, size_t start, size_t end);
size_t am__pl_cp_len(const char *s, size_t n);

/* tokenizer.convert_tokens_to_string(tokens): the WordPiece decoder done on token strings when
 * the tokenizer has one (so words transformers took from the text, like [UNK] replacements, join
 * the same way), else the tokenizer's decoder over ids. Owned. */
char *am__pl_tokens_to_string(const am_pipeline *p, const char *const *tokens, const int32_t *ids, size_t n);

/* ---- token classification ---- */
typedef struct am__ner_token {
    int32_t id;
    const char *token; /* the token string (convert_ids_to_tokens) */
    size_t start, end; /* character offsets */
    bool special;
} am__ner_token;
/* gather_pre_entities + aggregate + group_entities + ignore_labels over one sequence:
 * logits [n x n_labels] (row-major, float32 as the model gives them). */
am_pipeline_result *am__ner_postprocess(const am_pipeline *p, const char *text, size_t text_len, const am__ner_token *toks,
                                        size_t n, const float *logits, int n_labels, am_aggregation agg);

/* ---- question answering ---- */
/* One window of a (question, context) pair as the fast tokenizer's overflow gives it. */
typedef struct am__qa_feature {
    size_t n;
    int32_t *ids, *type_ids, *seq_ids, *word_ids;
    size_t *starts, *ends; /* character offsets into the sequence each token belongs to */
    uint8_t *p_mask;       /* 1: cannot be part of an answer */
} am__qa_feature;
/* Splits an encoded (question, context) pair into windows of at most max_seq_len tokens whose
 * contexts overlap by `stride` tokens (only_second truncation with return_overflowing_tokens). */
am_status am__qa_features(const am_pipeline *p, const am_encoding *pair, size_t max_seq_len, size_t stride,
                          am__qa_feature **out, size_t *n_out);
void am__qa_features_free(am__qa_feature *f, size_t n);
/* select_starts_ends + decode_spans on one window: fills up to top_k (start, end, score) and
 * returns how many; *min_null_score is updated when handle_impossible. */
size_t am__qa_decode(const float *start_logits, const float *end_logits, const uint8_t *p_mask, size_t n, size_t top_k,
                     size_t max_answer_len, bool handle_impossible, double *min_null_score, size_t *starts, size_t *ends,
                     double *scores);
/* The character span of tokens s..e of a window (word-aligned as get_indices does). */
void am__qa_char_span(const am__qa_feature *f, size_t s, size_t e, size_t *cs, size_t *ce);

/* ---- the batched runner ---- */
/* Receives row `row` of a batch padded to T tokens, holding sequence `seq`. */
typedef am_status (*am__pl_consume)(void *ctx, size_t seq, const am_tensors *out, size_t row, size_t T);
/* Runs the model on n token sequences (type_ids may be NULL), batch_size at a time, sorted by
 * length and right-padded, and hands every row to fn. */
am_status am__pl_forward_rows(am_pipeline *p, size_t n, const int32_t *const *ids, const int32_t *const *type_ids, const size_t *lens,
                              am__pl_consume fn, void *ctx);
/* Row `row` of output `name` as float32 (NULL when absent or not float32). */
const float *am__pl_out_f32(const am_tensors *out, const char *name, size_t row, size_t row_elems);
am_status am__qa_run(am_pipeline *p, size_t n, const char *const *questions, const char *const *contexts, am_pipeline_result **out);

/* ---- the image tasks (vision.c) ---- */
bool am__pl_is_image_task(am_task t);
/* Loads the image processor (and for image-to-text the tokenizer) of an image pipeline. */
am_status am__pl_vision_init(am_pipeline *p, const am_load_options *lo);
/* The semantic subtask's post-processing of one image's logits [L, h, w] (float32): upsampled
 * bilinearly (align_corners=False) to H x W, argmax, then into r (AM__PL_SEGMENTS) one segment per
 * label present in id order, its mask written as a PNG named mask<*counter>.png into dir (NULL: the
 * current folder); labels from cfg's id2label (NULL: LABEL_<id>). */
am_status am__pl_semantic_segments(am_pipeline_result *r, const float *logits, int L, int h, int w, int H, int W, const am_config *cfg,
                                   const char *dir, size_t *counter);
/* image- and audio-classification: softmax of row `row` of "logits" [B, C], the top_k labels
 * (default 5, clipped to C) as [{"score", "label"}]. */
am_pipeline_result *am__pl_cls_post(am_pipeline *p, const am_tensors *out, size_t row);
/* max_new_tokens and generate_kwargs (a JSON object: the scalar keys) onto the generation options. */
am_status am__pl_gen_kwargs(const am_pipeline *p, am_generate_options *g);
/* One result per image file path. */
am_status am__pl_vision_run(am_pipeline *p, size_t n, const char *const *paths, am_pipeline_result **out);

/* ---- the audio tasks (audio.c) ---- */
bool am__pl_is_audio_task(am_task t);
am_status am__pl_audio_init(am_pipeline *p, const am_load_options *lo);
/* One result per audio file path. */
am_status am__pl_audio_run(am_pipeline *p, size_t n, const char *const *paths, am_pipeline_result **out);
/* One model call of the speech-recognition pipeline: its tokens (CTC: the argmax per frame; Whisper:
 * the generated ids) and, when chunked, its stride in samples (chunk length, left, right). */
typedef struct am__asr_call {
    const int64_t *tokens;
    size_t n;
    bool has_stride;
    int64_t stride[3];
} am__asr_call;
/* The CTC post-processing: each chunk's frames trimmed by its stride rescaled to logit frames
 * (rescale_stride with 1 / inputs_to_logits_ratio), concatenated, decoded with
 * skip_special_tokens=False; return_timestamps 2 "char" / 3 "word" give chunks timed by
 * offset * ratio / sampling_rate. */
am_status am__asr_ctc_post(const am_tokenizer *tok, int64_t ratio, int sampling_rate, const am__asr_call *calls, size_t n,
                           int return_timestamps, am_pipeline_result **out);
/* Python's round(): half to even. */
double am__py_round(double x);
/* The Whisper post-processing: strides to seconds, then _decode_asr. */
am_status am__asr_whisper_post(const am_tokenizer *tok, int sampling_rate, double time_precision, const am__asr_call *calls,
                               size_t n, bool return_timestamps, bool return_language, am_pipeline_result **out);

/* softmax / sigmoid in float32 as numpy computes them on float32 logits */
void am__pl_softmax(const float *x, size_t n, float *out);
#endif
