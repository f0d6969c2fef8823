/* pipelines/call.c — pipeline(inputs, **kwargs): transformers' task names, the call keyword
 * arguments each task takes (checked by name and type, applied for one call only), and the call
 * itself over am_pipeline_run. */
#include "core/error.h"
#include "pipelines/pipeline.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    am_task task;
} k_tasks[] = {
    {"text-classification", AM_TASK_SEQUENCE_CLASSIFICATION},
    {"sentiment-analysis", AM_TASK_SEQUENCE_CLASSIFICATION},
    {"classify", AM_TASK_SEQUENCE_CLASSIFICATION},
    {"token-classification", AM_TASK_TOKEN_CLASSIFICATION},
    {"ner", AM_TASK_TOKEN_CLASSIFICATION},
    {"question-answering", AM_TASK_QUESTION_ANSWERING},
    {"qa", AM_TASK_QUESTION_ANSWERING},
    {"fill-mask", AM_TASK_MASKED_LM},
    {"image-classification", AM_TASK_IMAGE_CLASSIFICATION},
    {"object-detection", AM_TASK_OBJECT_DETECTION},
    {"image-segmentation", AM_TASK_IMAGE_SEGMENTATION},
    {"image-to-text", AM_TASK_VISION2SEQ},
    {"audio-classification", AM_TASK_AUDIO_CLASSIFICATION},
    {"automatic-speech-recognition", AM_TASK_SPEECH_SEQ2SEQ},
    {"asr", AM_TASK_SPEECH_SEQ2SEQ},
};

am_status am_pipeline_task_parse(const char *name, am_task *out) {
    if (!name || !out) return am__error(AM_ERR_INVALID_ARGUMENT, "am_pipeline_task_parse: NULL argument");
    for (size_t i = 0; i < sizeof k_tasks / sizeof k_tasks[0]; i++)
        if (!strcmp(name, k_tasks[i].name)) {
            *out = k_tasks[i].task;
            return AM_OK;
        }
    return am__error(AM_ERR_INVALID_ARGUMENT, "unknown pipeline task '%s' (known: text-classification (classify), token-classification "
                     "(ner), question-answering (qa), fill-mask, image-classification, object-detection, image-segmentation, "
                     "image-to-text, audio-classification, automatic-speech-recognition (asr))", name);
}

static const char *const k_kw_cls[] = {"top_k", "function_to_apply", NULL};
static const char *const k_kw_ner[] = {"aggregation_strategy", NULL};
static const char *const k_kw_qa[] = {"question", "context", "top_k", "doc_stride", "max_answer_len", "max_seq_len", "handle_impossible_answer", NULL};
static const char *const k_kw_fm[] = {"top_k", NULL};
static const char *const k_kw_img[] = {"top_k", NULL};
static const char *const k_kw_det[] = {"threshold", NULL};
static const char *const k_kw_i2t[] = {"max_new_tokens", "generate_kwargs", NULL};
static const char *const k_kw_seg[] = {"subtask", "threshold", "mask_threshold", "overlap_mask_area_threshold", NULL};
static const char *const k_kw_acls[] = {"top_k", NULL};
static const char *const k_kw_asr[] = {"return_timestamps", "chunk_length_s", "stride_length_s", "max_new_tokens", "generate_kwargs",
                                       "return_language", NULL};
static const char *const k_kw_none[] = {NULL};

const char *const *am_pipeline_call_kwargs(const am_pipeline *p) {
    switch (p ? p->task : AM_TASK_AUTO) {
    case AM_TASK_SEQUENCE_CLASSIFICATION: return k_kw_cls;
    case AM_TASK_TOKEN_CLASSIFICATION: return k_kw_ner;
    case AM_TASK_QUESTION_ANSWERING: return k_kw_qa;
    case AM_TASK_MASKED_LM: return k_kw_fm;
    case AM_TASK_IMAGE_CLASSIFICATION: return k_kw_img;
    case AM_TASK_OBJECT_DETECTION: return k_kw_det;
    case AM_TASK_VISION2SEQ: return k_kw_i2t;
    case AM_TASK_IMAGE_SEGMENTATION: return k_kw_seg;
    case AM_TASK_AUDIO_CLASSIFICATION: return k_kw_acls;
    case AM_TASK_SPEECH_SEQ2SEQ: return k_kw_asr;
    default: return k_kw_none;
    }
}

static bool is_int(const cJSON *v) { return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e15; }

static am_status want_int(const char *k, const cJSON *v, int lo, int *out) {
    if (!is_int(v) || v->valuedouble < lo || v->valuedouble > 1 << 30)
        return am__error(AM_ERR_INVALID_ARGUMENT, "%s must be an integer >= %d", k, lo);
    *out = (int)v->valuedouble;
    return AM_OK;
}

/* Applies one keyword argument (the name is already known to the task). */
static am_status apply(am_pipeline *p, const char *k, const cJSON *v, const char **question, const char **context) {
    am_task t = p->task;
    if (!strcmp(k, "top_k")) {
        if (cJSON_IsNull(v)) { /* None: text-classification returns every label; the others keep their default */
            p->o.top_k = t == AM_TASK_SEQUENCE_CLASSIFICATION ? -1 : 0;
            return AM_OK;
        }
        return want_int(k, v, 1, &p->o.top_k);
    }
    if (!strcmp(k, "function_to_apply")) {
        static const char *const names[] = {"softmax", "sigmoid", "none"};
        for (int i = 0; i < 3; i++)
            if (cJSON_IsString(v) && !strcasecmp(v->valuestring, names[i])) {
                p->o.function = (am_pipeline_function)(AM_FUNCTION_SOFTMAX + i);
                return AM_OK;
            }
        return am__error(AM_ERR_INVALID_ARGUMENT, "function_to_apply must be \"softmax\", \"sigmoid\" or \"none\"");
    }
    if (!strcmp(k, "aggregation_strategy")) {
        static const char *const names[] = {"none", "simple", "first", "average", "max"};
        for (int i = 0; i < 5; i++)
            if (cJSON_IsString(v) && !strcasecmp(v->valuestring, names[i])) {
                p->o.aggregation = (am_aggregation)i;
                return AM_OK;
            }
        return am__error(AM_ERR_INVALID_ARGUMENT, "aggregation_strategy must be \"none\", \"simple\", \"first\", \"average\" or \"max\"");
    }
    if (!strcmp(k, "question") || !strcmp(k, "context")) {
        if (!cJSON_IsString(v)) return am__error(AM_ERR_INVALID_ARGUMENT, "%s must be a string", k);
        *(!strcmp(k, "question") ? question : context) = v->valuestring;
        return AM_OK;
    }
    if (!strcmp(k, "doc_stride")) return want_int(k, v, 1, &p->o.doc_stride);
    if (!strcmp(k, "max_answer_len")) return want_int(k, v, 1, &p->o.max_answer_len);
    if (!strcmp(k, "max_seq_len")) return want_int(k, v, 1, &p->o.max_seq_len);
    if (!strcmp(k, "handle_impossible_answer")) {
        if (!cJSON_IsBool(v)) return am__error(AM_ERR_INVALID_ARGUMENT, "handle_impossible_answer must be true or false");
        p->o.handle_impossible_answer = cJSON_IsTrue(v);
        return AM_OK;
    }
    if (!strcmp(k, "threshold") || !strcmp(k, "mask_threshold") || !strcmp(k, "overlap_mask_area_threshold")) {
        if (!cJSON_IsNumber(v)) return am__error(AM_ERR_INVALID_ARGUMENT, "%s must be a number", k);
        if (t == AM_TASK_OBJECT_DETECTION) p->threshold = v->valuedouble;
        return AM_OK; /* the semantic subtask reads none of them, as transformers' */
    }
    if (!strcmp(k, "subtask")) {
        if (cJSON_IsNull(v) || (cJSON_IsString(v) && !strcmp(v->valuestring, "semantic"))) return AM_OK;
        if (cJSON_IsString(v) && (!strcmp(v->valuestring, "instance") || !strcmp(v->valuestring, "panoptic")))
            return am__error(AM_ERR_UNSUPPORTED, "Subtask %s is not supported for model %s", v->valuestring, am_model_class_name(p->model));
        return am__error(AM_ERR_INVALID_ARGUMENT, "subtask must be \"semantic\", \"instance\", \"panoptic\" or null");
    }
    if (!strcmp(k, "max_new_tokens")) {
        int x;
        if (want_int(k, v, 1, &x)) return AM_ERR_INVALID_ARGUMENT;
        p->max_new_tokens = x;
        return AM_OK;
    }
    if (!strcmp(k, "generate_kwargs")) {
        if (!cJSON_IsObject(v)) return am__error(AM_ERR_INVALID_ARGUMENT, "generate_kwargs must be a dict (a JSON object)");
        free(p->generate_kwargs);
        p->generate_kwargs = cJSON_PrintUnformatted(v);
        return p->generate_kwargs ? AM_OK : am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    if (!strcmp(k, "return_timestamps")) {
        if (cJSON_IsNull(v) || cJSON_IsFalse(v)) p->return_timestamps = 0;
        else if (cJSON_IsTrue(v)) p->return_timestamps = 1;
        else if (cJSON_IsString(v) && !strcmp(v->valuestring, "char")) p->return_timestamps = 2;
        else if (cJSON_IsString(v) && !strcmp(v->valuestring, "word")) p->return_timestamps = 3;
        else return am__error(AM_ERR_INVALID_ARGUMENT, "return_timestamps must be true, false, \"char\" or \"word\"");
        return AM_OK;
    }
    if (!strcmp(k, "return_language")) {
        if (!cJSON_IsBool(v) && !cJSON_IsNull(v)) return am__error(AM_ERR_INVALID_ARGUMENT, "return_language must be true or false");
        p->return_language = cJSON_IsTrue(v);
        return AM_OK;
    }
    if (!strcmp(k, "chunk_length_s")) {
        if (cJSON_IsNull(v)) p->chunk_length_s = 0;
        else if (!cJSON_IsNumber(v) || v->valuedouble < 0 || !isfinite(v->valuedouble) || v->valuedouble > 1e6)
            return am__error(AM_ERR_INVALID_ARGUMENT, "chunk_length_s must be a number of seconds >= 0");
        else p->chunk_length_s = v->valuedouble;
        return AM_OK;
    }
    if (!strcmp(k, "stride_length_s")) { /* a number (both sides) or [left, right] */
        double lr[2];
        if (cJSON_IsNull(v)) lr[0] = lr[1] = NAN;
        else if (cJSON_IsNumber(v)) lr[0] = lr[1] = v->valuedouble;
        else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(v, 0)) &&
                 cJSON_IsNumber(cJSON_GetArrayItem(v, 1))) {
            lr[0] = cJSON_GetArrayItem(v, 0)->valuedouble;
            lr[1] = cJSON_GetArrayItem(v, 1)->valuedouble;
        } else
            return am__error(AM_ERR_INVALID_ARGUMENT, "stride_length_s must be a number of seconds or a list [left, right]");
        for (int i = 0; i < 2; i++)
            if (!isnan(lr[i]) && (lr[i] < 0 || !isfinite(lr[i]) || lr[i] > 1e6))
                return am__error(AM_ERR_INVALID_ARGUMENT, "stride_length_s must be >= 0 seconds");
        p->stride_length_s[0] = lr[0];
        p->stride_length_s[1] = lr[1];
        return AM_OK;
    }
    return am__error(AM_ERR_INTERNAL, "keyword argument %s has no handler", k);
}

#define QA_NOT_OBJECT "not a JSON object with \"question\" and \"context\""

/* Question answering's inputs as dicts: each a JSON object {"question": ..., "context": ...}. */
static am_status qa_inputs(am_pipeline *p, size_t n, const char *const *inputs, am_pipeline_result **out) {
    cJSON **js = calloc(n ? n : 1, sizeof *js);
    const char **q = calloc(n ? n : 1, sizeof *q), **c = calloc(n ? n : 1, sizeof *c);
    am_status s = js && q && c ? AM_OK : am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n && !s; i++) {
        js[i] = inputs[i] ? cJSON_Parse(inputs[i]) : NULL;
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(js[i], "question"), *b = cJSON_GetObjectItemCaseSensitive(js[i], "context");
        q[i] = cJSON_IsString(a) ? a->valuestring : NULL;
        c[i] = cJSON_IsString(b) ? b->valuestring : NULL;
        if (!q[i] || !c[i]) q[i] = c[i] = ""; /* answered below with its own error */
    }
    if (!s) s = am_pipeline_run(p, n, q, c, out);
    for (size_t i = 0; i < n && !s; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(js[i], "question"), *b = cJSON_GetObjectItemCaseSensitive(js[i], "context");
        if (cJSON_IsString(a) && cJSON_IsString(b)) continue;
        am_pipeline_result_free(out[i]);
        if (!(out[i] = am__pl_result_error(AM__PL_ANSWERS, QA_NOT_OBJECT))) s = AM_ERR_NO_MEMORY;
    }
    if (s == AM_ERR_NO_MEMORY)
        for (size_t i = 0; i < n; i++) {
            am_pipeline_result_free(out[i]);
            out[i] = NULL;
        }
    for (size_t i = 0; js && i < n; i++) cJSON_Delete(js[i]);
    free(js);
    free(q);
    free(c);
    return s;
}

am_status am_pipeline_call(am_pipeline *p, size_t n, const char *const *inputs, const char *kwargs_json, am_pipeline_result **out) {
    if (!p || !out || (n && !inputs)) return am__error(AM_ERR_INVALID_ARGUMENT, "am_pipeline_call: NULL argument");
    cJSON *kw = NULL;
    if (kwargs_json) {
        kw = cJSON_Parse(kwargs_json);
        if (!cJSON_IsObject(kw)) {
            cJSON_Delete(kw);
            return am__error(AM_ERR_INVALID_ARGUMENT, "am_pipeline_call: the keyword arguments are not a JSON object");
        }
    }
    /* this call's settings over the pipeline's; put back afterwards */
    am_pipeline_options saved = p->o;
    double thr = p->threshold;
    int64_t mnt = p->max_new_tokens;
    char *gk = p->generate_kwargs;
    p->generate_kwargs = NULL;
    int rts = p->return_timestamps;
    bool rl = p->return_language;
    double cl = p->chunk_length_s, sl[2] = {p->stride_length_s[0], p->stride_length_s[1]};
    const char *question = NULL, *context = NULL;
    am_status s = AM_OK;
    const cJSON *it;
    const char *const *ok = am_pipeline_call_kwargs(p);
    cJSON_ArrayForEach(it, kw) {
        bool known = false;
        for (const char *const *k = ok; *k && !known; k++) known = !strcmp(*k, it->string);
        if (!known) {
            char takes[512] = "";
            for (const char *const *k = ok; *k; k++) {
                size_t at = strlen(takes);
                snprintf(takes + at, sizeof takes - at, "%s%s", at ? ", " : "", *k);
            }
            s = am__error(AM_ERR_INVALID_ARGUMENT, "'%s' is not a keyword argument of the %s pipeline (it takes %s)", it->string,
                          am_task_name(p->task), *takes ? takes : "none");
            break;
        }
        if ((s = apply(p, it->string, it, &question, &context))) break;
    }
    if (!s && (p->task == AM_TASK_VISION2SEQ || p->task == AM_TASK_SPEECH_SEQ2SEQ) && p->max_new_tokens && p->generate_kwargs && strstr(p->generate_kwargs, "\"max_new_tokens\""))
        s = am__error(AM_ERR_INVALID_ARGUMENT, "'max_new_tokens' is defined twice, once in 'generate_kwargs' and once as a direct "
                      "parameter, please use only 1 version");
    if (!s) {
        if (p->task == AM_TASK_QUESTION_ANSWERING && (question || context)) {
            if (n) s = am__error(AM_ERR_INVALID_ARGUMENT, "question answering: give the question and context as keyword arguments or as inputs, not both");
            else if (!question || !context) s = am__error(AM_ERR_INVALID_ARGUMENT, "question answering needs both question and context");
            else s = am_pipeline_run(p, 1, &question, &context, out);
        } else if (p->task == AM_TASK_QUESTION_ANSWERING)
            s = qa_inputs(p, n, inputs, out);
        else
            s = am_pipeline_run(p, n, inputs, NULL, out);
    }
    free(p->generate_kwargs);
    p->generate_kwargs = gk;
    p->o = saved;
    p->threshold = thr;
    p->max_new_tokens = mnt;
    p->return_timestamps = rts;
    p->return_language = rl;
    p->chunk_length_s = cl;
    p->stride_length_s[0] = sl[0];
    p->stride_length_s[1] = sl[1];
    cJSON_Delete(kw);
    return s;
}
