/* pipelines/audio.c — the audio pipelines of transformers 4.32:
 *  - audio-classification: the file decoded as ffmpeg_read does (mono, the feature extractor's
 *    rate), the feature extractor, one model call per file, softmax, top_k (default 5, clipped to
 *    num_labels) as [{"score", "label"}];
 *  - automatic-speech-recognition, CTC (Wav2Vec2ForCTC): argmax per frame, Wav2Vec2CTCTokenizer's
 *    decode with skip_special_tokens=False; return_timestamps "char" / "word" from the decode's
 *    offsets times inputs_to_logits_ratio / sampling_rate;
 *  - automatic-speech-recognition, Whisper: generate on the input features (max_new_tokens,
 *    generate_kwargs, return_timestamps), then WhisperTokenizer._decode_asr.
 * With chunk_length_s the waveform is cut as chunk_iter does: chunks of chunk_len samples (rounded
 * to a multiple of inputs_to_logits_ratio for CTC) overlapping by stride_length_s (default
 * chunk_length_s / 6) on each side; the first chunk has no left stride, the last (the first whose
 * end passes the input's end) no right stride. CTC drops each chunk's strides from its frames
 * (rescale_stride); Whisper merges the chunks in _decode_asr. */
#include "core/error.h"
#include "core/json.h"
#include "audio/audio.h"
#include "core/util.h"
#include "models/model.h"
#include "pipelines/pipeline.h"
#include "tokenizers/asr.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool am__pl_is_audio_task(am_task t) { return t == AM_TASK_AUDIO_CLASSIFICATION || t == AM_TASK_SPEECH_SEQ2SEQ; }

/* Wav2Vec2Config.inputs_to_logits_ratio: the product of conv_stride */
static am_status ctc_ratio(am_pipeline *p) {
    char *js = am_config_get_json(am_model_config(p->model), "conv_stride");
    cJSON *j = NULL;
    am_status s = js ? am__json_parse(js, strlen(js), p->path, &j) : am__error(AM_ERR_FORMAT, "%s: the CTC model's config has no conv_stride", p->path);
    am_free(js);
    p->logits_ratio = 1;
    const cJSON *it;
    if (!s && !cJSON_IsArray(j)) s = am__error(AM_ERR_FORMAT, "%s: config conv_stride must be a list of integers", p->path);
    if (!s) cJSON_ArrayForEach(it, j) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 1 << 16 || p->logits_ratio > (1 << 20)) {
            s = am__error(AM_ERR_FORMAT, "%s: config conv_stride must be a list of positive integers", p->path);
            break;
        }
        p->logits_ratio *= (int64_t)it->valuedouble;
    }
    cJSON_Delete(j);
    return s;
}

/* WhisperFeatureExtractor.chunk_length (preprocessor_config.json, default 30): the time precision
 * of timestamp tokens is chunk_length / max_source_positions */
static am_status whisper_chunk_length(am_pipeline *p) {
    p->fe_chunk_length = 30;
    if (!am__is_dir(p->path)) return AM_OK; /* a hub id: the cached config (same values) was checked by the extractor */
    char *path = am__path_join(p->path, "preprocessor_config.json");
    char *buf = NULL;
    size_t len = 0;
    cJSON *j = NULL;
    am_status s = path ? am__read_file(path, &buf, &len) : am__error(AM_ERR_NO_MEMORY, "out of memory");
    if (!s) s = am__json_parse(buf, len, path, &j);
    const cJSON *cl = s ? NULL : cJSON_GetObjectItemCaseSensitive(j, "chunk_length");
    if (cl && (!cJSON_IsNumber(cl) || cl->valuedouble <= 0)) s = am__error(AM_ERR_FORMAT, "%s: chunk_length must be a positive number", path);
    else if (cl) p->fe_chunk_length = cl->valuedouble;
    cJSON_Delete(j);
    free(buf);
    free(path);
    return s;
}

am_status am__pl_audio_init(am_pipeline *p, const am_load_options *lo) {
    (void)lo;
    am_status s;
    p->stride_length_s[0] = p->stride_length_s[1] = NAN;
    p->fe = am_feature_extractor_from_pretrained(p->path);
    if (!p->fe) {
        am__error_prefix("%s: loading the feature extractor", p->path);
        return am__error_code() ? am__error_code() : AM_ERR_INTERNAL;
    }
    if (p->task == AM_TASK_SPEECH_SEQ2SEQ && (p->ctc ? (s = ctc_ratio(p)) : (s = whisper_chunk_length(p)))) return s;
    if (p->task == AM_TASK_SPEECH_SEQ2SEQ) {
        const char *tdir = p->o.tokenizer ? p->o.tokenizer : p->path;
        p->tok = am_tokenizer_from_pretrained(tdir);
        if (!p->tok) {
            am__error_prefix("%s: loading the tokenizer", tdir);
            return am__error_code() ? am__error_code() : AM_ERR_INTERNAL;
        }
        if (p->ctc && !am__tok_is_ctc(p->tok))
            return am__error(AM_ERR_UNSUPPORTED, "%s: a CTC model needs a Wav2Vec2CTCTokenizer (tokenizer_config.json's tokenizer_class)", tdir);
        const char *mt = am_config_model_type(am_model_config(p->model));
        if (!p->ctc && (!mt || strcmp(mt, "whisper")))
            return am__error(AM_ERR_UNSUPPORTED, "%s: automatic-speech-recognition supports CTC models and Whisper, not model_type '%s'", p->path,
                             mt ? mt : "?");
    }
    return AM_OK;
}

/* ---- running the model ---- */

/* The feature extractor's tensors as the model's inputs (only the names the model takes). */
static am_tensors *model_inputs(am_pipeline *p, const am_tensors *feat) {
    am_tensors *in = am_tensors_new();
    if (!in) return NULL;
    for (size_t i = 0; i < am_tensors_count(feat); i++) {
        const char *name = am_tensors_name(feat, i);
        bool takes = false;
        for (const char *const *k = p->model->input_names; k && *k && !takes; k++) takes = !strcmp(*k, name);
        if (!takes) continue;
        if (am_tensors_set(in, name, am_tensors_at(feat, i))) {
            am_tensors_free(in);
            return NULL;
        }
    }
    return in;
}

/* One model call on samples[0..len): CTC argmax ids, Whisper generated ids, or (classification)
 * the logits into *logits_out. *tokens owned. */
static am_status call_model(am_pipeline *p, const float *samples, size_t len, int64_t **tokens, size_t *nt, am_tensors **logits_out) {
    *tokens = NULL;
    *nt = 0;
    am__audio_view one = {samples, len, am_feature_extractor_sampling_rate(p->fe)}; /* the chunk, not copied */
    am_tensors *feat = NULL, *in = NULL, *out = NULL;
    am_status s = am__feature_extractor_call_views(p->fe, &one, 1, NULL, &feat);
    if (!s && !(in = model_inputs(p, feat))) s = am__error_code() ? am__error_code() : AM_ERR_NO_MEMORY;
    if (!s && p->task == AM_TASK_SPEECH_SEQ2SEQ && !p->ctc) {
        am_generate_options g = am_generate_options_default();
        s = am__pl_gen_kwargs(p, &g);
        if (!s && p->return_timestamps == 1) g.return_timestamps = 1; /* generate_kwargs["return_timestamps"] */
        if (!s && !(out = am_model_generate(p->model, in, &g))) s = am__error_code() ? am__error_code() : AM_ERR_INTERNAL;
        const am_tensor *t = s ? NULL : am_tensors_get(out, "sequences");
        if (!s && (!t || am_tensor_dtype(t) != AM_I64 || am_tensor_ndim(t) != 2 || am_tensor_dim(t, 0) != 1))
            s = am__error(AM_ERR_INTERNAL, "%s: generate gave no int64 'sequences' [1, length]", p->path);
        if (!s) {
            *nt = (size_t)am_tensor_dim(t, 1);
            if (!(*tokens = malloc((*nt ? *nt : 1) * sizeof **tokens))) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
            else memcpy(*tokens, am_tensor_cdata(t), *nt * sizeof **tokens);
        }
    } else if (!s) {
        if (!(out = am_model_forward(p->model, in, NULL))) s = am__error_code() ? am__error_code() : AM_ERR_INTERNAL;
        const am_tensor *t = s ? NULL : am_tensors_get(out, "logits");
        if (!s && (!t || am_tensor_dtype(t) != AM_F32 || am_tensor_dim(t, 0) != 1 || am_tensor_ndim(t) != (p->ctc ? 3 : 2)))
            s = am__error(AM_ERR_INTERNAL, "%s: the model gave no float32 'logits' for one input", p->path);
        if (!s && p->ctc) { /* logits.argmax(dim=-1): the first maximum */
            size_t T = (size_t)am_tensor_dim(t, 1), V = (size_t)am_tensor_dim(t, 2);
            const float *l = am_tensor_cdata(t);
            if (!(*tokens = malloc((T ? T : 1) * sizeof **tokens))) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
            for (size_t i = 0; i < T && !s; i++) {
                size_t best = 0;
                for (size_t v = 1; v < V; v++)
                    if (l[i * V + v] > l[i * V + best]) best = v;
                (*tokens)[i] = (int64_t)best;
            }
            *nt = s ? 0 : T;
        } else if (!s) {
            *logits_out = out;
            out = NULL;
        }
    }
    am_tensors_free(out);
    am_tensors_free(in);
    am_tensors_free(feat);
    return s;
}

/* chunk_len, stride_left, stride_right in samples, as the pipeline's preprocess computes them */
static am_status chunk_sizes(const am_pipeline *p, int64_t *chunk_len, int64_t *left, int64_t *right) {
    int sr = am_feature_extractor_sampling_rate(p->fe);
    int64_t align = p->ctc ? p->logits_ratio : 1; /* getattr(config, "inputs_to_logits_ratio", 1) */
    double sl = isnan(p->stride_length_s[0]) ? p->chunk_length_s / 6 : p->stride_length_s[0];
    double sr_ = isnan(p->stride_length_s[1]) ? p->chunk_length_s / 6 : p->stride_length_s[1];
    *chunk_len = (int64_t)am__py_round(p->chunk_length_s * sr / (double)align) * align;
    *left = (int64_t)am__py_round(sl * sr / (double)align) * align;
    *right = (int64_t)am__py_round(sr_ * sr / (double)align) * align;
    if (*chunk_len < *left + *right) return am__error(AM_ERR_INVALID_ARGUMENT, "Chunk length must be superior to stride length");
    if (*chunk_len - *left - *right <= 0)
        return am__error(AM_ERR_INVALID_ARGUMENT, "chunk_length_s leaves no samples between the strides (chunk %lld, strides %lld + %lld)",
                         (long long)*chunk_len, (long long)*left, (long long)*right);
    return AM_OK;
}

static am_status asr_one(am_pipeline *p, const am_audio *a, am_pipeline_result **r) {
    const float *x = am_audio_samples(a);
    size_t L = am_audio_length(a);
    int sr = am_feature_extractor_sampling_rate(p->fe);
    am__asr_call *calls = NULL;
    size_t nc = 0;
    am_status s = AM_OK;
    if (p->chunk_length_s > 0) {
        int64_t chunk_len, left, right;
        if ((s = chunk_sizes(p, &chunk_len, &left, &right))) return s;
        int64_t step = chunk_len - left - right;
        size_t cap = (size_t)(L / (size_t)step) + 2;
        if (!(calls = calloc(cap, sizeof *calls))) return am__error(AM_ERR_NO_MEMORY, "out of memory");
        for (int64_t st = 0; st < (int64_t)L && !s && nc < cap; st += step) {
            int64_t end = st + chunk_len;
            int64_t clen = end > (int64_t)L ? (int64_t)L - st : chunk_len;
            bool last = right > 0 ? end > (int64_t)L : end >= (int64_t)L;
            if (clen > left) {
                calls[nc].has_stride = true;
                calls[nc].stride[0] = clen;
                calls[nc].stride[1] = st == 0 ? 0 : left;
                calls[nc].stride[2] = last ? 0 : right;
                int64_t *tk = NULL;
                am_tensors *unused = NULL;
                s = call_model(p, x + st, (size_t)clen, &tk, &calls[nc].n, &unused);
                am_tensors_free(unused);
                calls[nc++].tokens = tk;
            }
            if (last) break;
        }
    } else {
        if (!(calls = calloc(1, sizeof *calls))) return am__error(AM_ERR_NO_MEMORY, "out of memory");
        int64_t *tk = NULL;
        am_tensors *unused = NULL;
        s = call_model(p, x, L, &tk, &calls[0].n, &unused);
        am_tensors_free(unused);
        calls[0].tokens = tk;
        nc = 1;
    }
    if (!s) {
        if (p->ctc) {
            s = am__asr_ctc_post(p->tok, p->logits_ratio, sr, calls, nc, p->return_timestamps, r);
        } else {
            /* time_precision = feature_extractor.chunk_length / config.max_source_positions */
            int64_t msp = 0;
            if (am_config_get_int(am_model_config(p->model), "max_source_positions", &msp) != AM_OK || msp <= 0)
                s = am__error(AM_ERR_FORMAT, "%s: the Whisper config has no max_source_positions", p->path);
            if (!s) s = am__asr_whisper_post(p->tok, sr, p->fe_chunk_length / (double)msp, calls, nc, p->return_timestamps == 1, p->return_language, r);
        }
    }
    for (size_t i = 0; i < nc; i++) free((void *)calls[i].tokens);
    free(calls);
    return s;
}

static am_status cls_one(am_pipeline *p, const am_audio *a, am_pipeline_result **r) {
    int64_t *tk = NULL;
    size_t nt = 0;
    am_tensors *logits = NULL;
    am_status s = call_model(p, am_audio_samples(a), am_audio_length(a), &tk, &nt, &logits);
    free(tk);
    if (!s && !(*r = am__pl_cls_post(p, logits, 0))) s = am__error_code() ? am__error_code() : AM_ERR_NO_MEMORY;
    am_tensors_free(logits);
    return s;
}

am_status am__pl_audio_run(am_pipeline *p, size_t n, const char *const *paths, am_pipeline_result **out) {
    am__pl_kind kind = p->task == AM_TASK_AUDIO_CLASSIFICATION ? AM__PL_LABELS : AM__PL_TRANSCRIPT;
    if (p->task == AM_TASK_SPEECH_SEQ2SEQ && !p->ctc && p->return_timestamps > 1)
        return am__error(AM_ERR_UNSUPPORTED, p->return_timestamps == 2
                             ? "Whisper cannot return `char` timestamps, only word level or segment level timestamps. Use "
                               "`return_timestamps='word'` or `return_timestamps=True` respectively."
                             : "return_timestamps='word' for Whisper (cross-attention alignment of tokens) is not implemented; use "
                               "return_timestamps=True for segment timestamps");
    if (p->task == AM_TASK_SPEECH_SEQ2SEQ && p->ctc && p->return_timestamps == 1)
        return am__error(AM_ERR_INVALID_ARGUMENT, "CTC can either predict character (char) level timestamps, or word level timestamps. "
                         "Set `return_timestamps='char'` or `return_timestamps='word'` as required.");
    if (p->task == AM_TASK_SPEECH_SEQ2SEQ && p->ctc && p->return_language)
        return am__error(AM_ERR_INVALID_ARGUMENT, "return_language is only supported by Whisper models");
    if (p->task == AM_TASK_SPEECH_SEQ2SEQ && p->chunk_length_s > 0) { /* a ValueError of the call, before any input */
        int64_t c, l, r;
        am_status s = chunk_sizes(p, &c, &l, &r);
        if (s) return s;
    }
    int sr = am_feature_extractor_sampling_rate(p->fe);
    for (size_t i = 0; i < n; i++) {
        if (!paths[i] || !*paths[i]) {
            if (!(out[i] = am__pl_result_error(kind, "empty audio path"))) goto oom;
            continue;
        }
        am_audio *a = am_audio_load(paths[i], sr);
        if (!a) {
            if (am__error_code() == AM_ERR_NO_MEMORY || !(out[i] = am__pl_result_error(kind, "%s", am_last_error()))) goto oom;
            continue;
        }
        am_pipeline_result *r = NULL;
        am_status s = kind == AM__PL_LABELS ? cls_one(p, a, &r) : asr_one(p, a, &r);
        am_audio_free(a);
        if (s == AM_ERR_NO_MEMORY) goto oom;
        if (s && !(r = am__pl_result_error(kind, "%s: %s", paths[i], am_last_error()))) goto oom;
        out[i] = r;
    }
    return AM_OK;
oom:
    for (size_t i = 0; i < n; i++) {
        am_pipeline_result_free(out[i]);
        out[i] = NULL;
    }
    return am__error(AM_ERR_NO_MEMORY, "out of memory");
}
