/* generate/generate.c — model.generate() as transformers 4.32 does it: the generation config
 * (options > generation_config.json > config.json > defaults), logits processors and warpers,
 * greedy search, sampling, beam search and beam sampling, stopping (max length, EOS, wall clock,
 * stop strings, a streaming callback). The model is driven through am__gen_ops and its KV cache. */
#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/util.h"
#include "models/causal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

am_generate_options am_generate_options_default(void) {
    am_generate_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.max_new_tokens = o.max_length = o.min_new_tokens = o.min_length = AM_GEN_UNSET;
    o.do_sample = -1;
    o.num_beams = o.num_return_sequences = AM_GEN_UNSET;
    o.length_penalty = o.temperature = o.top_p = o.typical_p = o.repetition_penalty = AM_GEN_UNSET_FLOAT;
    o.early_stopping = -1;
    o.top_k = o.no_repeat_ngram_size = AM_GEN_UNSET;
    o.pad_token_id = o.bos_token_id = o.forced_bos_token_id = o.forced_eos_token_id = AM_GEN_UNSET;
    o.decoder_start_token_id = AM_GEN_UNSET;
    o.return_timestamps = o.is_multilingual = -1;
    return o;
}

bool am_model_can_generate(const am_model *m) { return m && m->gen && m->spec->can_generate; }

/* ---- the generation config in force ---- */

typedef struct idlist {
    int64_t *v;
    size_t n;
} idlist;

typedef struct gen_cfg {
    int64_t max_length, min_length, min_new_tokens, max_new_tokens, num_beams, nret, top_k, ngram;
    bool do_sample, output_scores;
    int early_stopping; /* 0 false, 1 true, 2 never */
    double length_penalty, temperature, top_p, typical_p, rep_penalty, max_time;
    int64_t pad, bos, forced_bos, forced_eos; /* -1: none */
    idlist eos, suppress, begin_suppress, forced; /* forced: pairs */
    idlist bad_flat;
    size_t *bad_lens, n_bad;
    int64_t begin_index;
    /* Whisper: forced ids may hold (1, None) = -1 (language left to the model); the timestamp
     * processor when ts (no_timestamps token, first timestamp token, its begin index, the
     * max_initial_timestamp_index or -1) */
    bool forced_none_ok, ts;
    int64_t ts_no, ts_begin, ts_index, ts_max_init;
} gen_cfg;

static void cfg_free(gen_cfg *c) {
    free(c->eos.v);
    free(c->suppress.v);
    free(c->begin_suppress.v);
    free(c->forced.v);
    free(c->bad_flat.v);
    free(c->bad_lens);
}

/* the value of a generation key: generation_config.json when the model has one (GenerationConfig
 * defaults for keys it lacks), else config.json (whose generic defaults are GenerationConfig's) */
static const cJSON *gen_value(const am_model *m, const char *key) {
    if (m->generation_config) return cJSON_GetObjectItemCaseSensitive(m->generation_config, key);
    return am__config_value(m->config, key);
}

static am_status get_int(const am_model *m, const char *key, int64_t set, int64_t dflt, bool nullable, int64_t *out) {
    if (set != AM_GEN_UNSET) {
        *out = set;
        return AM_OK;
    }
    const cJSON *v = gen_value(m, key);
    if (!v || cJSON_IsNull(v)) *out = dflt;
    else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble)) *out = (int64_t)v->valuedouble;
    else if (cJSON_IsBool(v)) *out = cJSON_IsTrue(v);
    else return am__error(AM_ERR_FORMAT, "generation config: \"%s\" must be an integer%s", key, nullable ? " or null" : "");
    return AM_OK;
}

static am_status get_float(const am_model *m, const char *key, double set, double dflt, double *out) {
    if (set != AM_GEN_UNSET_FLOAT) {
        *out = set;
        return AM_OK;
    }
    const cJSON *v = gen_value(m, key);
    if (!v || cJSON_IsNull(v)) *out = dflt;
    else if (cJSON_IsNumber(v)) *out = v->valuedouble;
    else return am__error(AM_ERR_FORMAT, "generation config: \"%s\" must be a number", key);
    return AM_OK;
}

static am_status set_list(idlist *l, const int64_t *v, size_t n) {
    l->v = malloc((n ? n : 1) * sizeof(int64_t));
    if (!l->v) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    if (n) memcpy(l->v, v, n * sizeof(int64_t));
    l->n = n;
    return AM_OK;
}

/* an int, a list of ints, or (pairs) a list of [int, int]; null -> empty */
static am_status json_list(const cJSON *v, const char *key, bool pairs, idlist *l) {
    l->n = 0;
    l->v = NULL;
    if (!v || cJSON_IsNull(v)) return set_list(l, NULL, 0);
    if (cJSON_IsNumber(v) && !pairs) {
        int64_t x = (int64_t)v->valuedouble;
        return set_list(l, &x, 1);
    }
    if (!cJSON_IsArray(v)) return am__error(AM_ERR_FORMAT, "generation config: \"%s\" must be a list", key);
    int n = cJSON_GetArraySize(v);
    l->v = malloc((size_t)(n * 2 + 1) * sizeof(int64_t));
    if (!l->v) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (const cJSON *it = v->child; it; it = it->next) {
        if (pairs) {
            if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2 || !cJSON_IsNumber(it->child) || !cJSON_IsNumber(it->child->next))
                return am__error(AM_ERR_FORMAT, "generation config: \"%s\" must be a list of [position, token] pairs", key);
            l->v[l->n++] = (int64_t)it->child->valuedouble;
            l->v[l->n++] = (int64_t)it->child->next->valuedouble;
        } else {
            if (!cJSON_IsNumber(it)) return am__error(AM_ERR_FORMAT, "generation config: \"%s\" must be a list of token ids", key);
            l->v[l->n++] = (int64_t)it->valuedouble;
        }
    }
    if (pairs) l->n /= 2;
    return AM_OK;
}

/* ---- Whisper's generate rules (WhisperForConditionalGeneration.generate of transformers 4.32) ---- */

/* tokenization_whisper.LANGUAGES (code, name) in its order; then TO_LANGUAGE_CODE's aliases (name, code) */
static const char *const k_whisper_langs[][2] = {
    {"en", "english"}, {"zh", "chinese"}, {"de", "german"}, {"es", "spanish"}, {"ru", "russian"}, {"ko", "korean"}, {"fr", "french"},
    {"ja", "japanese"}, {"pt", "portuguese"}, {"tr", "turkish"}, {"pl", "polish"}, {"ca", "catalan"}, {"nl", "dutch"}, {"ar", "arabic"},
    {"sv", "swedish"}, {"it", "italian"}, {"id", "indonesian"}, {"hi", "hindi"}, {"fi", "finnish"}, {"vi", "vietnamese"}, {"he", "hebrew"},
    {"uk", "ukrainian"}, {"el", "greek"}, {"ms", "malay"}, {"cs", "czech"}, {"ro", "romanian"}, {"da", "danish"}, {"hu", "hungarian"},
    {"ta", "tamil"}, {"no", "norwegian"}, {"th", "thai"}, {"ur", "urdu"}, {"hr", "croatian"}, {"bg", "bulgarian"}, {"lt", "lithuanian"},
    {"la", "latin"}, {"mi", "maori"}, {"ml", "malayalam"}, {"cy", "welsh"}, {"sk", "slovak"}, {"te", "telugu"}, {"fa", "persian"},
    {"lv", "latvian"}, {"bn", "bengali"}, {"sr", "serbian"}, {"az", "azerbaijani"}, {"sl", "slovenian"}, {"kn", "kannada"}, {"et", "estonian"},
    {"mk", "macedonian"}, {"br", "breton"}, {"eu", "basque"}, {"is", "icelandic"}, {"hy", "armenian"}, {"ne", "nepali"}, {"mn", "mongolian"},
    {"bs", "bosnian"}, {"kk", "kazakh"}, {"sq", "albanian"}, {"sw", "swahili"}, {"gl", "galician"}, {"mr", "marathi"}, {"pa", "punjabi"},
    {"si", "sinhala"}, {"km", "khmer"}, {"sn", "shona"}, {"yo", "yoruba"}, {"so", "somali"}, {"af", "afrikaans"}, {"oc", "occitan"},
    {"ka", "georgian"}, {"be", "belarusian"}, {"tg", "tajik"}, {"sd", "sindhi"}, {"gu", "gujarati"}, {"am", "amharic"}, {"yi", "yiddish"},
    {"lo", "lao"}, {"uz", "uzbek"}, {"fo", "faroese"}, {"ht", "haitian creole"}, {"ps", "pashto"}, {"tk", "turkmen"}, {"nn", "nynorsk"},
    {"mt", "maltese"}, {"sa", "sanskrit"}, {"lb", "luxembourgish"}, {"my", "myanmar"}, {"bo", "tibetan"}, {"tl", "tagalog"}, {"mg", "malagasy"},
    {"as", "assamese"}, {"tt", "tatar"}, {"haw", "hawaiian"}, {"ln", "lingala"}, {"ha", "hausa"}, {"ba", "bashkir"}, {"jw", "javanese"},
    {"su", "sundanese"}};
static const char *const k_whisper_aliases[][2] = {
    {"burmese", "my"}, {"valencian", "ca"}, {"flemish", "nl"}, {"haitian", "ht"}, {"letzeburgesch", "lb"}, {"pushto", "ps"},
    {"panjabi", "pa"}, {"moldavian", "ro"}, {"moldovan", "ro"}, {"sinhalese", "si"}, {"castilian", "es"}};
#define N_WLANG (sizeof k_whisper_langs / sizeof k_whisper_langs[0])
#define N_WALIAS (sizeof k_whisper_aliases / sizeof k_whisper_aliases[0])

/* an int-valued entry of a generation-config map (lang_to_id, task_to_id); false when absent */
static bool map_id(const cJSON *map, const char *key, int64_t *out) {
    const cJSON *v = cJSON_IsObject(map) ? cJSON_GetObjectItemCaseSensitive(map, key) : NULL;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)) return false;
    *out = (int64_t)v->valuedouble;
    return true;
}

/* "Unsupported language" as transformers lists it: TO_LANGUAGE_CODE's values for a 2-letter code, else its keys */
static am_status unsupported_language(const char *lang) {
    bool code = strlen(lang) == 2;
    am__buf b = {0};
    am__buf_puts(&b, "[");
    for (size_t i = 0; i < N_WLANG + N_WALIAS; i++) {
        const char *v = i < N_WLANG ? k_whisper_langs[i][code ? 0 : 1] : k_whisper_aliases[i - N_WLANG][code ? 1 : 0];
        am__buf_printf(&b, "%s'%s'", i ? ", " : "", v);
    }
    am__buf_puts(&b, "]");
    char *list = am__buf_take(&b);
    am_status s = am__error(AM_ERR_INVALID_ARGUMENT, "generate: Unsupported language: %s. Language should be one of: %s.", lang, list ? list : "[...]");
    free(list);
    return s;
}

/* WhisperForConditionalGeneration.generate before GenerationMixin.generate: return_timestamps,
 * is_multilingual, language and task (forced_decoder_ids rebuilt: language or None, task,
 * <|notimestamps|> unless timestamps are asked), and the WhisperTimeStampLogitsProcessor's settings.
 * "hasattr(generation_config, key)" is a key of generation_config.json (config.json's when the
 * model has none, as GenerationConfig.from_model_config keeps every key). Other models refuse the
 * options as transformers refuses unused model_kwargs. */
static am_status whisper_rules(const am_model *m, const am_generate_options *o, int64_t V, gen_cfg *c) {
    (void)V;
    if (strcmp(m->spec->model_type, "whisper")) {
        const char *k = o->return_timestamps >= 0 ? "return_timestamps" : o->language ? "language" : o->task ? "task" : o->is_multilingual >= 0 ? "is_multilingual" : NULL;
        if (k) return am__error(AM_ERR_INVALID_ARGUMENT, "generate: The following `model_kwargs` are not used by the model: ['%s'] (only Whisper takes it)", k);
        return AM_OK;
    }
    const cJSON *nts = gen_value(m, "no_timestamps_token_id"), *ml = gen_value(m, "is_multilingual");
    const cJSON *l2i = gen_value(m, "lang_to_id"), *t2i = gen_value(m, "task_to_id");
    if (o->return_timestamps >= 0 && !nts)
        return am__error(AM_ERR_INVALID_ARGUMENT,
                         "generate: You are trying to return timestamps, but the generation config is not properly set. Make sure to initialize the "
                         "generation config with the correct attributes that are needed such as `no_timestamps_token_id`. For more details on how to "
                         "generate the approtiate config, refer to https://github.com/huggingface/transformers/issues/21878#issuecomment-1451902363");
    if (o->return_timestamps >= 0 && (!cJSON_IsNumber(nts) || nts->valuedouble < 0 || nts->valuedouble >= (double)V))
        return am__error(AM_ERR_FORMAT, "generation config: \"no_timestamps_token_id\" must be a token id of the vocabulary [0, %lld)", (long long)V);
    if (o->is_multilingual >= 0 && !ml)
        return am__error(AM_ERR_INVALID_ARGUMENT, "generate: The generation config is outdated and is thus not compatible with the `is_multilingual` argument "
                                                  "to `generate`. Please update the generation config as per the instructions "
                                                  "https://github.com/huggingface/transformers/issues/25084#issuecomment-1664398224");
    bool multi = o->is_multilingual >= 0 ? o->is_multilingual != 0 : !ml || cJSON_IsTrue(ml) || (cJSON_IsNumber(ml) && ml->valuedouble != 0);
    if ((ml || o->is_multilingual >= 0) && !multi && (o->language || o->task))
        return am__error(AM_ERR_INVALID_ARGUMENT, "generate: Cannot specify `task` or `language` for an English-only model. If the model is intended to be "
                                                  "multilingual, pass `is_multilingual=True` to generate, or update the generation config.");
    if (o->language && !l2i)
        return am__error(AM_ERR_INVALID_ARGUMENT, "generate: The generation config is outdated and is thus not compatible with the `language` argument to "
                                                  "`generate`. Either set the language using the `forced_decoder_ids` in the model config, or update the "
                                                  "generation config as per the instructions https://github.com/huggingface/transformers/issues/25084#issuecomment-1664398224");
    if (o->task && !t2i)
        return am__error(AM_ERR_INVALID_ARGUMENT, "generate: The generation config is outdated and is thus not compatible with the `task` argument to "
                                                  "`generate`. Either set the task using the `forced_decoder_ids` in the model config, or update the "
                                                  "generation config as per the instructions https://github.com/huggingface/transformers/issues/25084#issuecomment-1664398224");
    bool ts = o->return_timestamps == 1;
    if (o->language || o->task) {
        const cJSON *gl = gen_value(m, "language"), *gt = gen_value(m, "task"); /* set on the generation config earlier */
        const char *lang = o->language ? o->language : cJSON_IsString(gl) ? gl->valuestring : NULL;
        const char *task = o->task ? o->task : cJSON_IsString(gt) ? gt->valuestring : NULL;
        int64_t pairs[6], np = 0, id = -1;
        if (lang) {
            char low[64], tok[80];
            size_t n = strlen(lang);
            if (n >= sizeof low) return unsupported_language(lang);
            for (size_t i = 0; i <= n; i++) low[i] = (char)(lang[i] >= 'A' && lang[i] <= 'Z' && o->language ? lang[i] - 'A' + 'a' : lang[i]);
            const char *code = NULL;
            for (size_t i = 0; i < N_WLANG && !code; i++)
                if (!strcmp(low, k_whisper_langs[i][1])) code = k_whisper_langs[i][0];
            for (size_t i = 0; i < N_WALIAS && !code; i++)
                if (!strcmp(low, k_whisper_aliases[i][0])) code = k_whisper_aliases[i][1];
            for (size_t i = 0; i < N_WLANG && !code; i++)
                if (!strcmp(low, k_whisper_langs[i][0])) code = k_whisper_langs[i][0];
            for (size_t i = 0; i < N_WALIAS && !code; i++)
                if (!strcmp(low, k_whisper_aliases[i][1])) code = k_whisper_aliases[i][1];
            if (cJSON_IsObject(l2i) && cJSON_GetObjectItemCaseSensitive(l2i, low)) snprintf(tok, sizeof tok, "%s", low);
            else if (code) snprintf(tok, sizeof tok, "<|%s|>", code);
            else return unsupported_language(low);
            if (!map_id(l2i, tok, &id)) return am__error(AM_ERR_INVALID_ARGUMENT, "generate: language token %s is not in the generation config's lang_to_id", tok);
        }
        pairs[np++] = 1, pairs[np++] = id; /* None: the model detects the language */
        if (task) {
            if (strcmp(task, "translate") && strcmp(task, "transcribe"))
                return am__error(AM_ERR_INVALID_ARGUMENT, "generate: The `%s`task is not supported. The task should be one of `['translate', 'transcribe']`", task);
            if (!map_id(t2i, task, &id)) return am__error(AM_ERR_INVALID_ARGUMENT, "generate: task \"%s\" is not in the generation config's task_to_id", task);
            pairs[np++] = 2, pairs[np++] = id;
        } else if (t2i) {
            if (!map_id(t2i, "transcribe", &id)) return am__error(AM_ERR_INVALID_ARGUMENT, "generate: task \"transcribe\" is not in the generation config's task_to_id");
            pairs[np++] = 2, pairs[np++] = id;
        }
        if (nts && cJSON_IsNumber(nts) && !ts) {
            pairs[np] = pairs[np - 2] + 1, pairs[np + 1] = (int64_t)nts->valuedouble;
            np += 2;
        }
        free(c->forced.v);
        c->forced.v = NULL;
        am_status s = set_list(&c->forced, pairs, (size_t)np);
        if (s != AM_OK) return s;
        c->forced.n = (size_t)np / 2;
        c->forced_none_ok = true;
    }
    if (ts) {
        /* WhisperTimeStampLogitsProcessor(generation_config) */
        if (!c->forced.n) return am__error(AM_ERR_INVALID_ARGUMENT, "generate: return_timestamps needs forced_decoder_ids (the generation config has none)");
        if (!c->eos.n) return am__error(AM_ERR_INVALID_ARGUMENT, "generate: return_timestamps needs eos_token_id");
        c->ts = true;
        c->ts_no = (int64_t)nts->valuedouble;
        c->ts_begin = c->ts_no + 1;
        c->ts_index = (int64_t)c->forced.n + 2 - (c->forced.v[2 * (c->forced.n - 1) + 1] == c->ts_no);
        const cJSON *mi = gen_value(m, "max_initial_timestamp_index");
        c->ts_max_init = -1;
        if (mi && !cJSON_IsNull(mi)) {
            if (!cJSON_IsNumber(mi) || mi->valuedouble != floor(mi->valuedouble) || mi->valuedouble < 0)
                return am__error(AM_ERR_FORMAT, "generation config: \"max_initial_timestamp_index\" must be a non-negative integer or null");
            c->ts_max_init = (int64_t)mi->valuedouble;
        }
    }
    return AM_OK;
}

/* WhisperTimeStampLogitsProcessor.__call__ on one row (after every other processor) */
static void timestamp_rules(const gen_cfg *c, const int64_t *seq, int64_t cur_len, float *sc, int64_t V) {
    int64_t tb = c->ts_begin < V ? c->ts_begin : V, eos = c->eos.v[0] < V ? c->eos.v[0] : V;
    sc[c->ts_no] = -INFINITY; /* <|notimestamps|> */
    if (cur_len == c->ts_index - 1) { /* the first timestamp is forced */
        for (int64_t v = 0; v < V; v++) sc[v] = -INFINITY;
        if (c->ts_begin < V) sc[c->ts_begin] = 0;
        return;
    }
    /* timestamps come in pairs, except directly before eos */
    int64_t n = cur_len - c->ts_index;
    bool last = n >= 1 && seq[cur_len - 1] >= c->ts_begin, pen = n < 2 || seq[cur_len - 2] >= c->ts_begin;
    if (last && pen)
        for (int64_t v = tb; v < V; v++) sc[v] = -INFINITY;
    else if (last)
        for (int64_t v = 0; v < eos; v++) sc[v] = -INFINITY;
    if (cur_len == c->ts_index && c->ts_max_init >= 0)
        for (int64_t v = c->ts_begin + c->ts_max_init + 1; v < V; v++) sc[v] = -INFINITY;
    /* log_softmax; the timestamps' total log-probability against the best text token */
    float mx = -INFINITY;
    for (int64_t v = 0; v < V; v++) mx = sc[v] > mx ? sc[v] : mx;
    if (isinf(mx)) return;
    double sum = 0, tsum = 0, tmax = -INFINITY;
    for (int64_t v = 0; v < V; v++) sum += exp((double)sc[v] - mx);
    float lse = mx + (float)log(sum);
    float tsm = -INFINITY;
    for (int64_t v = tb; v < V; v++) tsm = sc[v] - lse > tsm ? sc[v] - lse : tsm;
    for (int64_t v = tb; !isinf(tsm) && v < V; v++) tsum += exp((double)(sc[v] - lse) - tsm);
    double ts_lp = isinf(tsm) ? -INFINITY : tsm + log(tsum);
    for (int64_t v = 0; v < tb; v++) tmax = (double)(sc[v] - lse) > tmax ? (double)(sc[v] - lse) : tmax;
    if (ts_lp > tmax)
        for (int64_t v = 0; v < tb; v++) sc[v] = -INFINITY;
}

static am_status resolve(const am_model *m, const am_generate_options *o, int64_t T0, int64_t V, gen_cfg *c) {
    memset(c, 0, sizeof *c);
    am_status s = AM_OK;
    int64_t ds = 0, es = 0;
#define TRY(x)                                                                                                                         \
    do {                                                                                                                               \
        if ((s = (x)) != AM_OK) return s;                                                                                              \
    } while (0)
    TRY(get_int(m, "max_new_tokens", o->max_new_tokens, -1, true, &c->max_new_tokens));
    TRY(get_int(m, "max_length", o->max_length, 20, false, &c->max_length));
    TRY(get_int(m, "min_new_tokens", o->min_new_tokens, -1, true, &c->min_new_tokens));
    TRY(get_int(m, "min_length", o->min_length, 0, false, &c->min_length));
    TRY(get_int(m, "do_sample", o->do_sample < 0 ? AM_GEN_UNSET : o->do_sample, 0, false, &ds));
    TRY(get_int(m, "num_beams", o->num_beams, 1, false, &c->num_beams));
    TRY(get_int(m, "num_return_sequences", o->num_return_sequences, 1, false, &c->nret));
    TRY(get_float(m, "length_penalty", o->length_penalty, 1.0, &c->length_penalty));
    if (o->early_stopping >= 0) es = o->early_stopping;
    else {
        const cJSON *v = gen_value(m, "early_stopping");
        es = cJSON_IsTrue(v) ? 1 : (cJSON_IsString(v) && !strcmp(v->valuestring, "never")) ? 2 : 0;
    }
    TRY(get_float(m, "temperature", o->temperature, 1.0, &c->temperature));
    TRY(get_int(m, "top_k", o->top_k, 50, true, &c->top_k));
    TRY(get_float(m, "top_p", o->top_p, 1.0, &c->top_p));
    TRY(get_float(m, "typical_p", o->typical_p, 1.0, &c->typical_p));
    TRY(get_float(m, "repetition_penalty", o->repetition_penalty, 1.0, &c->rep_penalty));
    TRY(get_int(m, "no_repeat_ngram_size", o->no_repeat_ngram_size, 0, false, &c->ngram));
    TRY(get_int(m, "pad_token_id", o->pad_token_id, -1, true, &c->pad));
    TRY(get_int(m, "bos_token_id", o->bos_token_id, -1, true, &c->bos));
    TRY(get_int(m, "forced_bos_token_id", o->forced_bos_token_id, -1, true, &c->forced_bos));
    TRY(get_int(m, "forced_eos_token_id", o->forced_eos_token_id, -1, true, &c->forced_eos));
    c->do_sample = ds != 0;
    c->early_stopping = (int)es;
    c->output_scores = o->output_scores;
    c->max_time = o->max_time;
    if (o->n_eos) TRY(set_list(&c->eos, o->eos_token_ids, o->n_eos));
    else TRY(json_list(gen_value(m, "eos_token_id"), "eos_token_id", false, &c->eos));
    if (o->n_suppress_tokens) TRY(set_list(&c->suppress, o->suppress_tokens, o->n_suppress_tokens));
    else TRY(json_list(gen_value(m, "suppress_tokens"), "suppress_tokens", false, &c->suppress));
    if (o->n_begin_suppress_tokens) TRY(set_list(&c->begin_suppress, o->begin_suppress_tokens, o->n_begin_suppress_tokens));
    else TRY(json_list(gen_value(m, "begin_suppress_tokens"), "begin_suppress_tokens", false, &c->begin_suppress));
    if (o->n_forced_decoder_ids) {
        TRY(set_list(&c->forced, o->forced_decoder_ids, o->n_forced_decoder_ids * 2));
        c->forced.n = o->n_forced_decoder_ids;
    } else if (!strcmp(m->spec->model_type, "whisper") && !am__config_is_null(m->config, "forced_decoder_ids")) /* WhisperForConditionalGeneration: the model config's first (legacy) */
        TRY(json_list(am__config_value(m->config, "forced_decoder_ids"), "forced_decoder_ids", true, &c->forced));
    else TRY(json_list(gen_value(m, "forced_decoder_ids"), "forced_decoder_ids", true, &c->forced));
    TRY(whisper_rules(m, o, V, c));
    if (o->n_bad_words) {
        size_t tot = 0;
        for (size_t i = 0; i < o->n_bad_words; i++) {
            if (!o->bad_words_lens || o->bad_words_lens[i] == 0)
                return am__error(AM_ERR_INVALID_ARGUMENT, "generate: `bad_words_ids` has to be a list of lists of positive integers (entry %zu is empty)", i);
            tot += o->bad_words_lens[i];
        }
        TRY(set_list(&c->bad_flat, o->bad_words_flat, tot));
        c->bad_lens = malloc(o->n_bad_words * sizeof(size_t));
        if (!c->bad_lens) return am__error(AM_ERR_NO_MEMORY, "out of memory");
        memcpy(c->bad_lens, o->bad_words_lens, o->n_bad_words * sizeof(size_t));
        c->n_bad = o->n_bad_words;
    } else {
        const cJSON *bw = gen_value(m, "bad_words_ids");
        if (bw && !cJSON_IsNull(bw)) {
            if (!cJSON_IsArray(bw)) return am__error(AM_ERR_FORMAT, "generation config: \"bad_words_ids\" must be a list of lists");
            size_t n = (size_t)cJSON_GetArraySize(bw), tot = 0;
            c->bad_lens = calloc(n + 1, sizeof(size_t));
            for (const cJSON *it = bw->child; it; it = it->next) tot += cJSON_IsArray(it) ? (size_t)cJSON_GetArraySize(it) : 0;
            c->bad_flat.v = malloc((tot + 1) * sizeof(int64_t));
            if (!c->bad_lens || !c->bad_flat.v) return am__error(AM_ERR_NO_MEMORY, "out of memory");
            for (const cJSON *it = bw->child; it; it = it->next) {
                if (!cJSON_IsArray(it) || !it->child)
                    return am__error(AM_ERR_FORMAT, "generation config: `bad_words_ids` has to be a list of lists of positive integers");
                for (const cJSON *t = it->child; t; t = t->next) {
                    if (!cJSON_IsNumber(t) || t->valuedouble < 0)
                        return am__error(AM_ERR_FORMAT, "generation config: `bad_words_ids` has to be a list of lists of positive integers");
                    c->bad_flat.v[c->bad_flat.n++] = (int64_t)t->valuedouble;
                }
                c->bad_lens[c->n_bad++] = (size_t)cJSON_GetArraySize(it);
            }
        }
    }
#undef TRY
    /* lengths: max_new_tokens overrides max_length; min_new_tokens is counted from the prompt */
    if (c->max_new_tokens != -1) {
        if (c->max_new_tokens <= 0) return am__error(AM_ERR_INVALID_ARGUMENT, "generate: max_new_tokens must be greater than 0, got %lld", (long long)c->max_new_tokens);
        c->max_length = c->max_new_tokens + T0;
    }
    if (c->max_length <= 0) return am__error(AM_ERR_INVALID_ARGUMENT, "generate: max_length must be positive, got %lld", (long long)c->max_length);
    if (T0 >= c->max_length)
        am__log(AM_LOG_WARNING, "Input length of input_ids is %lld, but `max_length` is set to %lld. This can lead to unexpected behavior. You should consider increasing `%s`.",
                (long long)T0, (long long)c->max_length, am__opt_name("max_new_tokens", "--max-new-tokens"));
    if (c->min_length < 0 || (c->min_new_tokens != -1 && c->min_new_tokens < 0))
        return am__error(AM_ERR_INVALID_ARGUMENT, "generate: min_length / min_new_tokens must not be negative");
    if (c->num_beams < 1) return am__error(AM_ERR_INVALID_ARGUMENT, "generate: num_beams must be a positive integer, got %lld", (long long)c->num_beams);
    if (c->nret < 1)
        return am__error(AM_ERR_INVALID_ARGUMENT, "generate: num_return_sequences must be a positive integer, got %lld", (long long)c->nret);
    if (c->num_beams > 1 && c->nret > c->num_beams)
        return am__error(AM_ERR_INVALID_ARGUMENT, "generate: `num_return_sequences` (%lld) has to be smaller or equal to `num_beams` (%lld).",
                         (long long)c->nret, (long long)c->num_beams);
    if (c->num_beams == 1 && !c->do_sample && c->nret > 1)
        return am__error(AM_ERR_INVALID_ARGUMENT, "generate: Greedy methods without beam search do not support `num_return_sequences` different than 1 (got %lld).",
                         (long long)c->nret);
    if (!(c->rep_penalty > 0))
        return am__error(AM_ERR_INVALID_ARGUMENT, "generate: `penalty` has to be a strictly positive float, but is %g (repetition_penalty)", c->rep_penalty);
    if (c->ngram < 0) return am__error(AM_ERR_INVALID_ARGUMENT, "generate: `no_repeat_ngram_size` has to be a positive integer, but is %lld", (long long)c->ngram);
    if (c->do_sample) {
        if (!(c->temperature > 0))
            return am__error(AM_ERR_INVALID_ARGUMENT, "generate: `temperature` has to be a strictly positive float, but is %g", c->temperature);
        if (c->top_k < 0) return am__error(AM_ERR_INVALID_ARGUMENT, "generate: `top_k` has to be a strictly positive integer, but is %lld", (long long)c->top_k);
        if (!(c->top_p >= 0 && c->top_p <= 1.0)) return am__error(AM_ERR_INVALID_ARGUMENT, "generate: `top_p` has to be a float > 0 and < 1, but is %g", c->top_p);
        if (!(c->typical_p > 0 && c->typical_p <= 1.0))
            return am__error(AM_ERR_INVALID_ARGUMENT, "generate: `typical_p` has to be a float > 0 and < 1, but is %g", c->typical_p);
    }
    for (size_t i = 0; i < c->eos.n; i++)
        if (c->eos.v[i] < 0 || c->eos.v[i] >= V)
            return am__error(AM_ERR_INVALID_ARGUMENT, "generate: eos_token_id %lld is outside the vocabulary [0, %lld)", (long long)c->eos.v[i], (long long)V);
    if (c->pad < 0 && c->eos.n) {
        am__log(AM_LOG_WARNING, "Setting `pad_token_id` to `eos_token_id`:%lld for open-end generation.", (long long)c->eos.v[0]);
        c->pad = c->eos.v[0];
    }
    int64_t checks[] = {c->pad, c->bos, c->forced_bos, c->forced_eos};
    for (size_t i = 0; i < 4; i++)
        if (checks[i] >= V) return am__error(AM_ERR_INVALID_ARGUMENT, "generate: special token id %lld is outside the vocabulary [0, %lld)", (long long)checks[i], (long long)V);
    idlist *lists[] = {&c->suppress, &c->begin_suppress, &c->bad_flat};
    for (size_t k = 0; k < 3; k++)
        for (size_t i = 0; i < lists[k]->n; i++)
            if (lists[k]->v[i] < 0 || lists[k]->v[i] >= V)
                return am__error(AM_ERR_INVALID_ARGUMENT, "generate: token id %lld (suppress_tokens / bad_words_ids) is outside the vocabulary [0, %lld)",
                                 (long long)lists[k]->v[i], (long long)V);
    for (size_t i = 0; i < c->forced.n; i++)
        if (!(c->forced_none_ok && c->forced.v[2 * i + 1] == -1) && (c->forced.v[2 * i + 1] < 0 || c->forced.v[2 * i + 1] >= V))
            return am__error(AM_ERR_INVALID_ARGUMENT, "generate: forced_decoder_ids token %lld is outside the vocabulary", (long long)c->forced.v[2 * i + 1]);
    /* bad words equal to [eos] are dropped (NoBadWordsLogitsProcessor) */
    if (c->n_bad && c->eos.n) {
        size_t w = 0, off = 0, woff = 0;
        for (size_t i = 0; i < c->n_bad; i++) {
            size_t len = c->bad_lens[i];
            bool is_eos = false;
            for (size_t e = 0; len == 1 && e < c->eos.n; e++) is_eos = is_eos || c->bad_flat.v[off] == c->eos.v[e];
            if (!is_eos) {
                memmove(c->bad_flat.v + woff, c->bad_flat.v + off, len * sizeof(int64_t));
                c->bad_lens[w++] = len;
                woff += len;
            }
            off += len;
        }
        c->n_bad = w;
        c->bad_flat.n = woff;
    }
    /* SuppressTokensAtBegin: the step where the sequence has the prompt (and forced tokens) */
    c->begin_index = T0 > 1 || c->forced_bos < 0 ? T0 : T0 + 1;
    if (c->forced.n) c->begin_index += c->forced.v[2 * (c->forced.n - 1)];
    return AM_OK;
}

static bool is_eos(const gen_cfg *c, int64_t t) {
    for (size_t i = 0; i < c->eos.n; i++)
        if (c->eos.v[i] == t) return true;
    return false;
}

/* ---- logits processors (one row: the sequence so far `seq` of cur_len tokens) ---- */

static void process_row(const gen_cfg *c, const int64_t *seq, int64_t cur_len, int64_t prompt_len, float *sc, int64_t V, uint8_t *seen) {
    if (c->rep_penalty != 1.0) {
        float p = (float)c->rep_penalty;
        memset(seen, 0, (size_t)V);
        for (int64_t i = 0; i < cur_len; i++) {
            int64_t t = seq[i];
            if (t < 0 || t >= V || seen[t]) continue;
            seen[t] = 1;
            sc[t] = sc[t] < 0 ? sc[t] * p : sc[t] / p;
        }
    }
    if (c->ngram > 0 && cur_len + 1 >= c->ngram) {
        int64_t n = c->ngram;
        const int64_t *tail = seq + cur_len - n + 1;
        for (int64_t i = 0; i + n <= cur_len; i++) {
            bool match = true;
            for (int64_t j = 0; j < n - 1 && match; j++) match = seq[i + j] == tail[j];
            if (match && seq[i + n - 1] >= 0 && seq[i + n - 1] < V) sc[seq[i + n - 1]] = -INFINITY;
        }
    }
    size_t off = 0;
    for (size_t w = 0; w < c->n_bad; w++) {
        int64_t len = (int64_t)c->bad_lens[w];
        const int64_t *bw = c->bad_flat.v + off;
        off += (size_t)len;
        bool match = len - 1 <= cur_len;
        for (int64_t j = 0; match && j < len - 1; j++) match = seq[cur_len - (len - 1) + j] == bw[j];
        if (match) sc[bw[len - 1]] = -INFINITY;
    }
    if (cur_len < c->min_length)
        for (size_t e = 0; e < c->eos.n; e++) sc[c->eos.v[e]] = -INFINITY;
    if (c->min_new_tokens > 0 && cur_len - prompt_len < c->min_new_tokens)
        for (size_t e = 0; e < c->eos.n; e++) sc[c->eos.v[e]] = -INFINITY;
    if (c->forced_bos >= 0 && cur_len == 1) {
        for (int64_t v = 0; v < V; v++) sc[v] = -INFINITY;
        sc[c->forced_bos] = 0;
    }
    if (c->forced_eos >= 0 && cur_len == c->max_length - 1) {
        for (int64_t v = 0; v < V; v++) sc[v] = -INFINITY;
        sc[c->forced_eos] = 0;
    }
    for (size_t i = 0; i < c->suppress.n; i++) sc[c->suppress.v[i]] = -INFINITY;
    if (cur_len == c->begin_index)
        for (size_t i = 0; i < c->begin_suppress.n; i++) sc[c->begin_suppress.v[i]] = -INFINITY;
    for (size_t i = 0; i < c->forced.n; i++)
        if (c->forced.v[2 * i] == cur_len && c->forced.v[2 * i + 1] >= 0) {
            for (int64_t v = 0; v < V; v++) sc[v] = -INFINITY;
            sc[c->forced.v[2 * i + 1]] = 0;
        }
    if (c->ts) timestamp_rules(c, seq, cur_len, sc, V);
}

/* ---- warpers (sampling) ---- */

typedef struct vi {
    float v;
    int64_t i;
} vi;
static int cmp_vi_asc(const void *a, const void *b) {
    float x = ((const vi *)a)->v, y = ((const vi *)b)->v;
    if (x < y) return -1;
    if (x > y) return 1;
    int64_t p = ((const vi *)a)->i, q = ((const vi *)b)->i;
    return p < q ? -1 : p > q;
}

static void softmax_d(const float *x, int64_t n, double *p) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += p[i] = isinf(x[i]) && x[i] < 0 ? 0.0 : exp((double)x[i] - mx);
    for (int64_t i = 0; i < n; i++) p[i] = s > 0 ? p[i] / s : 0;
}

static void warp_row(const gen_cfg *c, float *sc, int64_t V, int64_t min_keep, vi *tmp, double *p) {
    if (c->temperature != 1.0)
        for (int64_t v = 0; v < V; v++) sc[v] = sc[v] / (float)c->temperature;
    if (c->top_k > 0) {
        int64_t k = c->top_k > min_keep ? c->top_k : min_keep;
        if (k > V) k = V;
        for (int64_t v = 0; v < V; v++) tmp[v] = (vi){sc[v], v};
        qsort(tmp, (size_t)V, sizeof *tmp, cmp_vi_asc);
        float kth = tmp[V - k].v;
        for (int64_t v = 0; v < V; v++)
            if (sc[v] < kth) sc[v] = -INFINITY;
    }
    if (c->top_p < 1.0) {
        for (int64_t v = 0; v < V; v++) tmp[v] = (vi){sc[v], v};
        qsort(tmp, (size_t)V, sizeof *tmp, cmp_vi_asc);
        float *sorted = calloc((size_t)V, sizeof(float));
        if (sorted) {
            for (int64_t v = 0; v < V; v++) sorted[v] = tmp[v].v;
            softmax_d(sorted, V, p);
            double cum = 0;
            for (int64_t v = 0; v < V; v++) {
                cum += p[v];
                if (cum <= 1.0 - c->top_p && v < V - min_keep) sc[tmp[v].i] = -INFINITY;
            }
            free(sorted);
        }
    }
    if (c->typical_p < 1.0) {
        /* shifted = |-log p - entropy|; keep the smallest-shift tokens up to the mass */
        softmax_d(sc, V, p);
        double ent = 0;
        for (int64_t v = 0; v < V; v++)
            if (p[v] > 0) ent -= log(p[v]) * p[v];
        for (int64_t v = 0; v < V; v++) tmp[v] = (vi){p[v] > 0 ? (float)fabs(-log(p[v]) - ent) : INFINITY, v};
        qsort(tmp, (size_t)V, sizeof *tmp, cmp_vi_asc);
        double cum = 0;
        int64_t last = 0;
        for (int64_t v = 0; v < V; v++) {
            cum += p[tmp[v].i];
            if (cum < c->typical_p) last++;
        }
        if (last > V - 1) last = V - 1;
        float lim = tmp[last].v;
        for (int64_t v = 0; v < V; v++)
            if (tmp[v].v > lim && v >= min_keep) sc[tmp[v].i] = -INFINITY;
    }
}

static int64_t argmax_row(const float *sc, int64_t V) {
    int64_t best = 0;
    for (int64_t v = 1; v < V; v++)
        if (sc[v] > sc[best]) best = v;
    return best;
}

static int64_t sample_row(const float *sc, int64_t V, am__rng *rng, double *p) {
    softmax_d(sc, V, p);
    double u = am__rng_uniform(rng), cum = 0;
    int64_t last = -1;
    for (int64_t v = 0; v < V; v++) {
        if (p[v] <= 0) continue;
        cum += p[v];
        last = v;
        if (u < cum) return v;
    }
    return last >= 0 ? last : argmax_row(sc, V);
}

static void log_softmax_row(float *x, int64_t V) {
    float mx = -INFINITY;
    for (int64_t v = 0; v < V; v++) mx = x[v] > mx ? x[v] : mx;
    float s = 0;
    for (int64_t v = 0; v < V; v++) s += expf(x[v] - mx);
    float ls = logf(s);
    for (int64_t v = 0; v < V; v++) x[v] = x[v] - mx - ls;
}

/* ---- the state shared by the search loops ---- */

typedef struct gen_state {
    am_model *m;
    const am__gen_ops *ops;
    gen_cfg c;
    int64_t N, T0, V, cap, cur_len;
    int64_t *seq;     /* [N, cap] */
    uint8_t *mask;    /* [N, cap] */
    int64_t *ones;    /* attended positions per row (position ids) */
    am__kv_cache *cache;
    void *enc;        /* encoder-decoders: the encoder state from ops->encode, read by every step */
    float *logits;    /* [N, V] */
    float *scores;    /* [steps, N, V] when output_scores */
    int64_t steps;
    struct timespec t0;
    const am_generate_options *o;
} gen_state;

static double elapsed(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

/* prefill: the prompt of every row; positions cumsum(mask) - 1 with pads at 1 */
/* One model step; a kernel that ran out of memory (am__oom_note) fails it before its logits are used. */
static am_status model_step(gen_state *g, int64_t N, int64_t T, const int64_t *ids, const int64_t *pos) {
    unsigned long oom = am__oom_events();
    am_status s = g->ops->step(g->m, g->cache, g->enc, N, T, ids, pos, g->mask, g->cap, g->logits);
    if (s == AM_OK && am__oom_events() != oom) s = am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
    return s;
}

static am_status run_prefill(gen_state *g) {
    int64_t N = g->N, T = g->T0;
    int64_t *ids = malloc((size_t)(N * T) * sizeof(int64_t)), *pos = malloc((size_t)(N * T) * sizeof(int64_t));
    if (!ids || !pos) {
        free(ids);
        free(pos);
        return am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
    }
    for (int64_t r = 0; r < N; r++) {
        int64_t cnt = 0;
        for (int64_t t = 0; t < T; t++) {
            ids[r * T + t] = g->seq[r * g->cap + t];
            cnt += g->mask[r * g->cap + t];
            pos[r * T + t] = g->mask[r * g->cap + t] ? cnt - 1 : 1;
        }
        g->ones[r] = cnt;
    }
    am_status s = model_step(g, N, T, ids, pos);
    free(ids);
    free(pos);
    return s;
}

static void append_only(gen_state *g, const int64_t *tokens) {
    for (int64_t r = 0; r < g->N; r++) {
        g->seq[r * g->cap + g->cur_len] = tokens[r];
        g->mask[r * g->cap + g->cur_len] = 1;
    }
    g->cur_len++;
}

/* runs the model on the token each row got last (appended by append_only) */
static am_status run_last(gen_state *g) {
    int64_t N = g->N;
    int64_t *pos = malloc((size_t)N * sizeof(int64_t)), *tok = malloc((size_t)N * sizeof(int64_t));
    if (!pos || !tok) {
        free(pos);
        free(tok);
        return am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
    }
    for (int64_t r = 0; r < N; r++) {
        tok[r] = g->seq[r * g->cap + g->cur_len - 1];
        pos[r] = g->ones[r]++;
    }
    am_status s = model_step(g, N, 1, tok, pos);
    free(pos);
    free(tok);
    return s;
}

static am_status keep_scores(gen_state *g, const float *sc) {
    if (!g->c.output_scores) return AM_OK;
    float *n = realloc(g->scores, (size_t)((g->steps + 1) * g->N * g->V) * sizeof(float));
    if (!n) return am__error(AM_ERR_NO_MEMORY, "generate: out of memory for scores");
    g->scores = n;
    memcpy(g->scores + g->steps * g->N * g->V, sc, (size_t)(g->N * g->V) * sizeof(float));
    return AM_OK;
}

/* stop strings: the row's generated text contains one of them */
static bool hit_stop_string(gen_state *g, int64_t r) {
    const am_generate_options *o = g->o;
    if (!o->n_stop_strings || !o->decode) return false;
    const char *text = o->decode(o->decode_user, g->seq + r * g->cap + g->T0, (size_t)(g->cur_len - g->T0));
    for (size_t i = 0; text && i < o->n_stop_strings; i++)
        if (o->stop_strings[i] && *o->stop_strings[i] && strstr(text, o->stop_strings[i])) return true;
    return false;
}

/* greedy search and multinomial sampling */
static am_status search_simple(gen_state *g) {
    int64_t N = g->N, V = g->V;
    const gen_cfg *c = &g->c;
    uint8_t *unfinished = malloc((size_t)N), *seen = malloc((size_t)V);
    int64_t *next = malloc((size_t)N * sizeof(int64_t));
    vi *tmp = malloc((size_t)V * sizeof(vi));
    double *p = malloc((size_t)V * sizeof(double));
    am_status s = unfinished && seen && next && tmp && p ? AM_OK : am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
    am__rng rng;
    am__rng_seed(&rng, g->o->seed);
    if (s == AM_OK) memset(unfinished, 1, (size_t)N);
    if (s == AM_OK) s = run_prefill(g);
    while (s == AM_OK) {
        for (int64_t r = 0; r < N; r++) {
            float *sc = g->logits + r * V;
            process_row(c, g->seq + r * g->cap, g->cur_len, g->T0, sc, V, seen);
            if (c->do_sample) warp_row(c, sc, V, 1, tmp, p);
        }
        if ((s = keep_scores(g, g->logits)) != AM_OK) break;
        g->steps++;
        bool any = false;
        for (int64_t r = 0; r < N; r++) {
            float *sc = g->logits + r * V;
            int64_t t = c->do_sample ? sample_row(sc, V, &rng, p) : argmax_row(sc, V);
            if (!unfinished[r]) t = c->pad >= 0 ? c->pad : t;
            next[r] = t;
        }
        append_only(g, next);
        for (int64_t r = 0; r < N; r++) {
            if (unfinished[r] && (is_eos(c, next[r]) || hit_stop_string(g, r))) unfinished[r] = 0;
            any = any || unfinished[r];
        }
        bool done = !any || g->cur_len >= c->max_length;
        if (g->o->on_token && g->o->on_token(g->o->on_token_user, (size_t)(g->steps - 1), next, (size_t)N)) done = true;
        if (c->max_time > 0 && elapsed(&g->t0) > c->max_time) done = true;
        if (done) break;
        s = run_last(g);
    }
    free(unfinished);
    free(seen);
    free(next);
    free(tmp);
    free(p);
    return s;
}

/* ---- beam search (BeamSearchScorer / BeamHypotheses of 4.32) ---- */

typedef struct hyp {
    double score;
    int64_t *tokens;
    int64_t len;
} hyp;

typedef struct beam_hyps {
    hyp *h;
    int64_t n;
    double worst;
    bool done;
} beam_hyps;

static am_status hyps_add(beam_hyps *bh, int64_t K, double lp, const int64_t *tokens, int64_t len, double sum_logprobs) {
    double score = sum_logprobs / pow((double)len, lp);
    if (bh->n < K || score > bh->worst) {
        int64_t *copy = malloc((size_t)(len ? len : 1) * sizeof(int64_t));
        if (!copy) return am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
        memcpy(copy, tokens, (size_t)len * sizeof(int64_t));
        bh->h[bh->n++] = (hyp){score, copy, len};
        if (bh->n > K) {
            /* drop the worst (the first of equals, as Python's sorted keeps order), then the new worst */
            int64_t wi = 0;
            for (int64_t i = 1; i < bh->n; i++)
                if (bh->h[i].score < bh->h[wi].score) wi = i;
            free(bh->h[wi].tokens);
            memmove(bh->h + wi, bh->h + wi + 1, (size_t)(bh->n - wi - 1) * sizeof(hyp));
            bh->n--;
            double w = INFINITY;
            for (int64_t i = 0; i < bh->n; i++) w = bh->h[i].score < w ? bh->h[i].score : w;
            bh->worst = w;
        } else bh->worst = score < bh->worst ? score : bh->worst;
    }
    return AM_OK;
}

static bool hyps_is_done(const beam_hyps *bh, int64_t K, const gen_cfg *c, double best_sum, int64_t cur_len) {
    if (bh->n < K) return false;
    if (c->early_stopping == 1) return true;
    double denom = c->early_stopping == 2 && c->length_penalty > 0 ? (double)c->max_length : (double)cur_len;
    return bh->worst >= best_sum / pow(denom, c->length_penalty);
}

typedef struct cand {
    float score;
    int64_t token, beam;
} cand;

static am_status search_beam(gen_state *g, am_tensors *out) {
    const gen_cfg *c = &g->c;
    int64_t K = c->num_beams, N = g->N, B = N / K, V = g->V;
    float *bscore = malloc((size_t)N * sizeof(float));
    beam_hyps *bh = calloc((size_t)B, sizeof *bh);
    uint8_t *seen = malloc((size_t)V);
    cand *cands = malloc((size_t)(2 * K) * sizeof(cand));
    int64_t *next_tok = malloc((size_t)N * sizeof(int64_t)), *next_src = malloc((size_t)N * sizeof(int64_t));
    float *next_sc = malloc((size_t)N * sizeof(float));
    int64_t *seq2 = malloc((size_t)(N * g->cap) * sizeof(int64_t));
    float *flat = malloc((size_t)(K * V) * sizeof(float));
    vi *tmp = malloc((size_t)(K * V > V ? K * V : V) * sizeof(vi));
    double *p = malloc((size_t)(K * V) * sizeof(double));
    am__rng rng;
    am__rng_seed(&rng, g->o->seed);
    am_status s = bscore && bh && seen && cands && next_tok && next_src && next_sc && seq2 && flat && tmp && p
                      ? AM_OK
                      : am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
    for (int64_t b = 0; s == AM_OK && b < B; b++) {
        bh[b].h = calloc((size_t)(K + 1), sizeof(hyp));
        bh[b].worst = 1e9;
        if (!bh[b].h) s = am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
    }
    for (int64_t r = 0; s == AM_OK && r < N; r++) bscore[r] = r % K == 0 ? 0.0f : -1e9f;
    if (s == AM_OK) s = run_prefill(g);
    bool stop = false;
    while (s == AM_OK && !stop) {
        for (int64_t r = 0; r < N; r++) {
            float *sc = g->logits + r * V;
            log_softmax_row(sc, V);
            process_row(c, g->seq + r * g->cap, g->cur_len, g->T0, sc, V, seen);
        }
        if ((s = keep_scores(g, g->logits)) != AM_OK) break;
        g->steps++;
        int64_t cur_len = g->cur_len + 1;
        for (int64_t b = 0; b < B; b++) {
            /* 2K best of the K x V candidates: processed log-prob + beam score (warped when sampling) */
            for (int64_t j = 0; j < K; j++)
                for (int64_t v = 0; v < V; v++) flat[j * V + v] = g->logits[(b * K + j) * V + v] + bscore[b * K + j];
            int64_t nc = 2 * K;
            if (c->do_sample) {
                for (int64_t j = 0; j < K; j++) warp_row(c, flat + j * V, V, 2, tmp, p);
                /* multinomial without replacement over the K*V probabilities, then sorted by score */
                softmax_d(flat, K * V, p);
                for (int64_t i = 0; i < nc; i++) {
                    double tot = 0;
                    for (int64_t x = 0; x < K * V; x++) tot += p[x];
                    double u = am__rng_uniform(&rng) * tot, cum = 0;
                    int64_t pick = -1;
                    for (int64_t x = 0; x < K * V; x++) {
                        if (p[x] <= 0) continue;
                        cum += p[x];
                        pick = x;
                        if (u < cum) break;
                    }
                    if (pick < 0) {
                        nc = i;
                        break;
                    }
                    p[pick] = 0;
                    cands[i] = (cand){flat[pick], pick % V, pick / V};
                }
                for (int64_t i = 1; i < nc; i++)
                    for (int64_t j = i; j > 0 && cands[j].score > cands[j - 1].score; j--) {
                        cand t = cands[j];
                        cands[j] = cands[j - 1];
                        cands[j - 1] = t;
                    }
            } else {
                /* topk(2K), largest first; equal scores keep the lower index first */
                for (int64_t i = 0; i < nc; i++) cands[i] = (cand){-INFINITY, -1, -1};
                for (int64_t x = 0; x < K * V; x++) {
                    float v = flat[x];
                    if (!(v > cands[nc - 1].score) && cands[nc - 1].token >= 0) continue;
                    int64_t at = nc - 1;
                    while (at > 0 && (v > cands[at - 1].score || cands[at - 1].token < 0)) {
                        cands[at] = cands[at - 1];
                        at--;
                    }
                    cands[at] = (cand){v, x % V, x / V};
                }
            }
            if (bh[b].done) {
                for (int64_t j = 0; j < K; j++) {
                    next_sc[b * K + j] = 0;
                    next_tok[b * K + j] = c->pad >= 0 ? c->pad : 0;
                    next_src[b * K + j] = 0;
                }
                continue;
            }
            int64_t bi = 0;
            for (int64_t rank = 0; rank < nc && bi < K; rank++) {
                cand cd = cands[rank];
                if (cd.token < 0) break;
                int64_t src = b * K + cd.beam;
                if (is_eos(c, cd.token)) {
                    if (rank >= K) continue;
                    if ((s = hyps_add(&bh[b], K, c->length_penalty, g->seq + src * g->cap, g->cur_len, cd.score)) != AM_OK) break;
                } else {
                    next_sc[b * K + bi] = cd.score;
                    next_tok[b * K + bi] = cd.token;
                    next_src[b * K + bi] = src;
                    bi++;
                }
            }
            if (s != AM_OK) break;
            if (bi < K) {
                s = am__error(AM_ERR_INTERNAL, "generate: beam search found only %lld continuations for input %lld (need %lld)", (long long)bi, (long long)b,
                              (long long)K);
                break;
            }
            float best = -INFINITY;
            for (int64_t i = 0; i < nc; i++) best = cands[i].score > best ? cands[i].score : best;
            bh[b].done = bh[b].done || hyps_is_done(&bh[b], K, c, best, cur_len);
        }
        if (s != AM_OK) break;
        /* reorder rows (sequences and cache) by their source beam, then append */
        memcpy(seq2, g->seq, (size_t)(N * g->cap) * sizeof(int64_t));
        for (int64_t r = 0; r < N; r++) memcpy(g->seq + r * g->cap, seq2 + next_src[r] * g->cap, (size_t)g->cur_len * sizeof(int64_t));
        memcpy(bscore, next_sc, (size_t)N * sizeof(float));
        bool all_done = true;
        for (int64_t b = 0; b < B; b++) all_done = all_done && bh[b].done;
        stop = all_done || cur_len >= c->max_length || (c->max_time > 0 && elapsed(&g->t0) > c->max_time);
        append_only(g, next_tok);
        if (!stop && (s = am__kv_reorder(g->cache, next_src)) == AM_OK) s = run_last(g);
    }
    /* finalize: running beams of unfinished inputs become hypotheses; best first */
    int64_t R = c->nret, rows = B * R, maxlen = 0;
    hyp **best = calloc((size_t)(rows ? rows : 1), sizeof *best);
    if (s == AM_OK && !best) s = am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
    for (int64_t b = 0; s == AM_OK && b < B; b++) {
        if (!bh[b].done)
            for (int64_t j = 0; j < K && s == AM_OK; j++)
                s = hyps_add(&bh[b], K, c->length_penalty, g->seq + (b * K + j) * g->cap, g->cur_len, bscore[b * K + j]);
        /* sorted ascending (stable), popped from the end */
        bool *used = calloc((size_t)bh[b].n + 1, 1);
        if (!used && s == AM_OK) s = am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
        for (int64_t j = 0; s == AM_OK && j < R; j++) {
            int64_t pick = -1;
            for (int64_t i = 0; i < bh[b].n; i++)
                if (!used[i] && (pick < 0 || bh[b].h[i].score >= bh[b].h[pick].score)) pick = i;
            if (pick < 0) {
                s = am__error(AM_ERR_INTERNAL, "generate: beam search kept fewer hypotheses than num_return_sequences");
                break;
            }
            used[pick] = true;
            best[b * R + j] = &bh[b].h[pick];
            if (bh[b].h[pick].len > maxlen) maxlen = bh[b].h[pick].len;
        }
        free(used);
    }
    if (s == AM_OK) {
        int64_t L = maxlen + 1 < c->max_length ? maxlen + 1 : c->max_length;
        int64_t minlen = maxlen;
        for (int64_t i = 0; i < rows; i++) minlen = best[i]->len < minlen ? best[i]->len : minlen;
        int64_t shape[2] = {rows, L};
        am_tensor *seqs = am_tensor_new(AM_I64, 2, shape);
        int64_t sshape[1] = {rows};
        am_tensor *ss = am_tensor_new(AM_F32, 1, sshape);
        if (!seqs || !ss) s = am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
        else {
            int64_t *d = am_tensor_data(seqs);
            float *sv = am_tensor_data(ss);
            for (int64_t i = 0; i < rows; i++) {
                int64_t len = best[i]->len < L ? best[i]->len : L;
                for (int64_t t = 0; t < L; t++) d[i * L + t] = t < len ? best[i]->tokens[t] : (minlen != maxlen ? c->pad : 0);
                if (len < L) d[i * L + len] = c->eos.n ? c->eos.v[0] : c->pad;
                sv[i] = (float)best[i]->score;
            }
            s = am_tensors_set(out, "sequences", seqs);
            if (s == AM_OK) s = am_tensors_set(out, "sequences_scores", ss);
        }
        am_tensor_free(seqs);
        am_tensor_free(ss);
    }
    free(best);
    for (int64_t b = 0; bh && b < B; b++) {
        for (int64_t i = 0; bh[b].h && i < bh[b].n; i++) free(bh[b].h[i].tokens);
        free(bh[b].h);
    }
    free(bh);
    free(bscore);
    free(seen);
    free(cands);
    free(next_tok);
    free(next_src);
    free(next_sc);
    free(seq2);
    free(flat);
    free(tmp);
    free(p);
    return s;
}

/* ---- entry point ---- */

/* Encoder-decoders (_prepare_decoder_input_ids_for_generation): the decoder prompt is
 * decoder_input_ids, with decoder_start_token_id prepended (and a 1 to decoder_attention_mask) when
 * no row starts with it, or decoder_start_token_id alone. The start id is decoder_start_token_id,
 * else bos_token_id (_get_decoder_start_token_id). Owned int64 tensors; *mask may be NULL. */
static am_status seq2seq_prompt(const am_model *m, const am_generate_options *o, const am_tensors *in, int64_t B, am_tensor **ids, am_tensor **mask) {
    *ids = *mask = NULL;
    int64_t start = -1, bos = -1, Bd = B, Td = -1;
    am_status s = get_int(m, "decoder_start_token_id", o->decoder_start_token_id, -1, true, &start);
    if (s == AM_OK) s = get_int(m, "bos_token_id", o->bos_token_id, -1, true, &bos);
    if (s != AM_OK) return s;
    if (start < 0) start = bos;
    if (start < 0)
        return am__error(AM_ERR_INVALID_ARGUMENT,
                         "generate: `decoder_start_token_id` or `bos_token_id` has to be defined for encoder-decoder generation (%s's generation config has "
                         "neither)",
                         m->spec->class_name);
    am_tensor *given = NULL, *gmask = NULL;
    const am_tensor *raw = am_tensors_get(in, "decoder_input_ids");
    if (raw) {
        if (am_tensor_ndim(raw) == 2) Td = am_tensor_dim(raw, 1);
        if (!(given = am__input_ids(in, "decoder_input_ids", &Bd, &Td, true))) return AM_ERR_SHAPE;
        if (Td == 0) {
            am_tensor_free(given);
            return am__error(AM_ERR_INVALID_ARGUMENT, "generate: decoder_input_ids is empty; leave it out to start from decoder_start_token_id");
        }
    }
    if (am_tensors_get(in, "decoder_attention_mask")) {
        if (!given) return am__error(AM_ERR_INVALID_ARGUMENT, "generate: decoder_attention_mask given without decoder_input_ids");
        if (!(gmask = am__input_ids(in, "decoder_attention_mask", &Bd, &Td, false))) {
            am_tensor_free(given);
            return AM_ERR_SHAPE;
        }
    }
    bool prepend = true;
    for (int64_t b = 0; given && b < B; b++) prepend = prepend && ((const int64_t *)given->data)[b * Td] != start;
    int64_t T = (given ? Td : 0) + prepend, shape[2] = {B, T};
    *ids = am_tensor_new(AM_I64, 2, shape);
    *mask = gmask ? am_tensor_new(AM_I64, 2, shape) : NULL;
    if (!*ids || (gmask && !*mask)) s = am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
    for (int64_t b = 0; s == AM_OK && b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            bool first = prepend && t == 0;
            ((int64_t *)(*ids)->data)[b * T + t] = first ? start : ((const int64_t *)given->data)[b * Td + t - prepend];
            if (gmask) ((int64_t *)(*mask)->data)[b * T + t] = first ? 1 : ((const int64_t *)gmask->data)[b * Td + t - prepend];
        }
    am_tensor_free(given);
    am_tensor_free(gmask);
    if (s != AM_OK) {
        am_tensor_free(*ids);
        am_tensor_free(*mask);
        *ids = *mask = NULL;
    }
    return s;
}

/* The encoder's inputs: input_ids and attention_mask, the mask made as
 * _prepare_attention_mask_for_generation does when absent (pad ids masked when pad != eos), and
 * run once for N = B x rep rows. */
static am_status seq2seq_encode(gen_state *g, const am_tensor *enc_ids, const am_tensor *enc_mask, const am_tensor *pixels, const char *feat, int64_t rep) {
    const gen_cfg *c = &g->c;
    am_tensors *t = am_tensors_new();
    am_tensor *made = NULL;
    if (pixels) { /* an image or audio encoder (main input pixel_values / input_features): the batch as given */
        am_status s = t ? am_tensors_set(t, feat, (am_tensor *)pixels) : am__error(AM_ERR_NO_MEMORY, "out of memory");
        if (s == AM_OK) s = g->ops->encode(g->m, t, rep, &g->enc);
        am_tensors_free(t);
        return s;
    }
    am_status s = t ? am_tensors_set(t, "input_ids", (am_tensor *)enc_ids) : am__error(AM_ERR_NO_MEMORY, "out of memory");
    int64_t n = am_tensor_numel(enc_ids);
    const int64_t *iv = enc_ids->data;
    bool pad_in = false;
    for (int64_t i = 0; c->pad >= 0 && i < n; i++) pad_in = pad_in || iv[i] == c->pad;
    if (s == AM_OK && enc_mask) s = am_tensors_set(t, "attention_mask", (am_tensor *)enc_mask);
    else if (s == AM_OK && pad_in && !is_eos(c, c->pad)) {
        made = am_tensor_new(AM_I64, 2, am_tensor_shape(enc_ids));
        if (!made) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        for (int64_t i = 0; s == AM_OK && i < n; i++) ((int64_t *)made->data)[i] = iv[i] != c->pad;
        if (s == AM_OK) s = am_tensors_set(t, "attention_mask", made);
    }
    if (s == AM_OK) s = g->ops->encode(g->m, t, rep, &g->enc);
    am_tensor_free(made);
    am_tensors_free(t);
    return s;
}

am_tensors *am_model_generate(am_model *m, const am_tensors *inputs, const am_generate_options *opts) {
    if (!m || !inputs) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_model_generate: NULL argument");
        return NULL;
    }
    am_generate_options o = am_generate_options_default();
    if (AM__OPTS_IN(o, opts, "am_generate_options")) return NULL;
    unsigned long oom = am__oom_events(); /* the encoder and every step (see model_step) */
    if (!am_model_can_generate(m)) {
        am__error(AM_ERR_UNSUPPORTED,
                  "generate: the current model class (%s) is not compatible with `.generate()`, as it doesn't have a language model head",
                  m->spec->class_name);
        return NULL;
    }
    const am__gen_ops *ops = m->gen;
    bool ed = ops->encoder_decoder;
    /* an encoder-decoder whose encoder reads images (VisionEncoderDecoderModel: pixel_values) or
     * log-mel features (Whisper: input_features) instead of input_ids / attention_mask */
    const char *feat = NULL;
    for (const char *const *p = m->input_names; ed && p && *p; p++)
        if (!strcmp(*p, "pixel_values") || !strcmp(*p, "input_features")) feat = *p;
    bool vision = feat != NULL;
    int feat_ndim = feat && !strcmp(feat, "pixel_values") ? 4 : 3;
    for (size_t i = 0; i < am_tensors_count(inputs); i++) {
        const char *n = am_tensors_name(inputs, i);
        /* Whisper's attention_mask (the feature extractor's) is accepted and unused, as in its forward */
        bool enc_in = vision ? !strcmp(n, feat) || (feat_ndim == 3 && !strcmp(n, "attention_mask")) : !strcmp(n, "input_ids") || !strcmp(n, "attention_mask");
        if (!enc_in && !(ed && (!strcmp(n, "decoder_input_ids") || !strcmp(n, "decoder_attention_mask")))) {
            am__error(AM_ERR_INVALID_ARGUMENT, "generate: The following `model_kwargs` are not used by the model: ['%s']", n);
            return NULL;
        }
    }
    int64_t B = -1, T0 = -1;
    am_tensor *ids = NULL, *mask = NULL, *pixels = vision ? am_tensors_get(inputs, feat) : NULL;
    if (vision) {
        if (!pixels || am_tensor_ndim(pixels) != feat_ndim) {
            am__error(AM_ERR_INVALID_ARGUMENT, "generate: %s needs %s for its encoder", m->spec->class_name,
                      feat_ndim == 4 ? "pixel_values [batch, channels, height, width]" : "input_features [batch, mel bins, frames]");
            return NULL;
        }
        B = am_tensor_dim(pixels, 0);
        /* the decoder prompt (decoder_start_token_id, or decoder_input_ids) */
        if (B == 0 || seq2seq_prompt(m, &o, inputs, B, &ids, &mask) != AM_OK) {
            if (B == 0) am__error(AM_ERR_INVALID_ARGUMENT, "generate: %s is empty", feat);
            return NULL;
        }
        T0 = am_tensor_dim(ids, 1);
    } else {
        ids = am__input_ids(inputs, "input_ids", &B, &T0, true);
        if (!ids) return NULL;
        mask = am__input_ids(inputs, "attention_mask", &B, &T0, false);
        if (!mask && am_tensors_get(inputs, "attention_mask")) {
            am_tensor_free(ids);
            return NULL;
        }
    }
    /* encoder-decoders: ids/mask become the decoder prompt, the encoder's are kept for encode */
    am_tensor *enc_ids = NULL, *enc_mask = NULL;
    int64_t S = T0;
    if (ed && !vision) {
        enc_ids = ids;
        enc_mask = mask;
        if (B == 0 || S == 0 || seq2seq_prompt(m, &o, inputs, B, &ids, &mask) != AM_OK) {
            if (B == 0 || S == 0)
                am__error(AM_ERR_INVALID_ARGUMENT, "generate: the encoder input is empty (input_ids has shape [%lld, %lld])", (long long)B, (long long)S);
            am_tensor_free(enc_ids);
            am_tensor_free(enc_mask);
            return NULL;
        }
        T0 = am_tensor_dim(ids, 1);
    }
    gen_state g;
    memset(&g, 0, sizeof g);
    g.m = m;
    g.ops = ops;
    g.o = &o;
    g.V = ops->vocab_size(m);
    g.T0 = T0;
    clock_gettime(CLOCK_MONOTONIC, &g.t0);
    /* per-call state: the model stays read-only (training-mode dropout draws one stream per call) */
    am__call call;
    am__call_begin(&call, m, 0);
    am_tensors *out = NULL;
    am_status s = AM_OK;
    if (B == 0 || T0 == 0) s = am__error(AM_ERR_INVALID_ARGUMENT, "generate: the prompt is empty (input_ids has shape [%lld, %lld])", (long long)B, (long long)T0);
    const int64_t *idv = ids->data;
    for (int64_t i = 0; s == AM_OK && i < B * T0; i++)
        if (idv[i] < 0 || idv[i] >= g.V)
            s = am__error(AM_ERR_INVALID_ARGUMENT, "generate: input_ids contains %lld, outside the vocabulary [0, %lld)", (long long)idv[i], (long long)g.V);
    int64_t maxpos = ops->max_positions(m);
    if (s == AM_OK && maxpos > 0 && T0 > maxpos)
        s = am__error(AM_ERR_INVALID_ARGUMENT, "generate: the prompt has %lld tokens, more than the model's %lld positions (max_position_embeddings)",
                      (long long)T0, (long long)maxpos);
    if (s == AM_OK) s = resolve(m, &o, T0, g.V, &g.c);
    gen_cfg *c = &g.c;
    int64_t total = c->max_length > T0 ? c->max_length : T0 + 1;
    if (s == AM_OK && maxpos > 0 && total > maxpos)
        s = am__error(AM_ERR_INVALID_ARGUMENT,
                      "generate: max_length %lld (prompt %lld + new tokens) exceeds the model's %lld positions (max_position_embeddings); lower max_new_tokens",
                      (long long)total, (long long)T0, (long long)maxpos);
    if (s == AM_OK && o.on_token && c->num_beams > 1)
        s = am__error(AM_ERR_INVALID_ARGUMENT, "generate: `streamer` cannot be used with beam search (yet!). Make sure that `num_beams` is set to 1.");
    if (s == AM_OK && o.n_stop_strings && !o.decode)
        s = am__error(AM_ERR_INVALID_ARGUMENT, "generate: stop_strings need a decode callback (the tokenizer) to turn tokens into text");
    /* rows: each input repeated num_beams (beam search) or num_return_sequences (sampling) times */
    int64_t rep = c->num_beams > 1 ? c->num_beams : (c->do_sample ? c->nret : 1);
    g.N = B * rep;
    g.cap = total;
    if (s == AM_OK) {
        g.seq = malloc((size_t)(g.N * g.cap) * sizeof(int64_t));
        g.mask = calloc((size_t)(g.N * g.cap), 1);
        g.ones = calloc((size_t)g.N, sizeof(int64_t));
        g.logits = malloc((size_t)(g.N * g.V) * sizeof(float));
        if (!g.seq || !g.mask || !g.ones || !g.logits) s = am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
    }
    if (s == AM_OK) {
        bool pad_in = false;
        for (int64_t i = 0; c->pad >= 0 && i < B * T0; i++) pad_in = pad_in || idv[i] == c->pad;
        bool pad_is_eos = is_eos(c, c->pad);
        for (int64_t r = 0; r < g.N; r++) {
            int64_t b = r / rep;
            for (int64_t t = 0; t < T0; t++) {
                int64_t id = idv[b * T0 + t];
                g.seq[r * g.cap + t] = id;
                /* _prepare_attention_mask_for_generation */
                /* (an encoder-decoder's decoder prompt has no such rule: all ones unless given) */
                g.mask[r * g.cap + t] = mask ? ((const int64_t *)mask->data)[b * T0 + t] != 0 : ed || !(pad_in && !pad_is_eos && id == c->pad);
            }
        }
        g.cur_len = T0;
        if (ed) s = seq2seq_encode(&g, enc_ids, enc_mask, pixels, feat, rep);
        if (s == AM_OK) s = ops->cache_new(m, g.N, g.cap, &g.cache);
    }
    if (s == AM_OK) {
        out = am_tensors_new();
        if (!out) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    if (s == AM_OK) {
        if (c->num_beams > 1) s = search_beam(&g, out);
        else {
            s = search_simple(&g);
            if (s == AM_OK) {
                am_tensor *seqs = am_tensor_new(AM_I64, 2, (int64_t[]){g.N, g.cur_len});
                if (!seqs) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
                for (int64_t r = 0; s == AM_OK && r < g.N; r++)
                    memcpy((int64_t *)am_tensor_data(seqs) + r * g.cur_len, g.seq + r * g.cap, (size_t)g.cur_len * sizeof(int64_t));
                if (s == AM_OK) s = am_tensors_set(out, "sequences", seqs);
                am_tensor_free(seqs);
            }
        }
    }
    if (s == AM_OK && c->output_scores) {
        am_tensor *sc = am_tensor_from_data(AM_F32, 3, (int64_t[]){g.steps, g.N, g.V}, g.scores);
        if (!sc) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        else s = am_tensors_set(out, "scores", sc);
        am_tensor_free(sc);
    }
    if (s == AM_OK && am__oom_events() != oom) s = am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
    if (s != AM_OK) {
        am_tensors_free(out);
        out = NULL;
    }
    am__call_end(&call);
    am__kv_free(g.cache);
    if (g.enc) ops->enc_free(g.enc);
    am_tensor_free(enc_ids);
    am_tensor_free(enc_mask);
    free(g.seq);
    free(g.mask);
    free(g.ones);
    free(g.logits);
    free(g.scores);
    cfg_free(&g.c);
    am_tensor_free(ids);
    am_tensor_free(mask);
    return out;
}
