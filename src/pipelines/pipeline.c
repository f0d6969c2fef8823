/* pipelines/pipeline.c — the pipeline object (model + tokenizer + what transformers' pipeline
 * reads from the tokenizer files), results and their JSON, and the batched runner shared by every
 * task: encode, truncate with a warning, sort by length, pad, forward, hand rows to the task. */
#include "pipelines/pipeline.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "models/model.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

am_pipeline_options am_pipeline_options_default(void) {
    am_pipeline_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.max_answer_len = 15;
    o.batch_size = 32;
    return o;
}

/* ---- results ---- */

am_pipeline_result *am__pl_result_new(am__pl_kind kind) {
    am_pipeline_result *r = calloc(1, sizeof *r);
    if (!r) {
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    r->kind = kind;
    return r;
}

am_pipeline_result *am__pl_result_error(am__pl_kind kind, const char *fmt, ...) {
    am_pipeline_result *r = am__pl_result_new(kind);
    if (!r) return NULL;
    va_list ap;
    va_start(ap, fmt);
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->error = am__strdup(buf);
    if (!r->error) {
        free(r);
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    return r;
}

char *am__pl_result_own(am_pipeline_result *r, char *s) {
    if (!s) return NULL;
    if (r->n_strs == r->cap_strs) {
        size_t nc = r->cap_strs ? r->cap_strs * 2 : 8;
        char **v = realloc(r->strs, nc * sizeof *v);
        if (!v) {
            free(s);
            return NULL;
        }
        r->strs = v;
        r->cap_strs = nc;
    }
    r->strs[r->n_strs++] = s;
    return s;
}

void *am__pl_result_push(am_pipeline_result *r) {
    size_t sz = r->kind == AM__PL_LABELS       ? sizeof(am_label_score)
                : r->kind == AM__PL_ENTITIES   ? sizeof(am_entity)
                : r->kind == AM__PL_ANSWERS    ? sizeof(am_answer)
                : r->kind == AM__PL_DETECTIONS ? sizeof(am_detection)
                : r->kind == AM__PL_SEGMENTS   ? sizeof(am_segment)
                : r->kind == AM__PL_TEXTS      ? sizeof(am_generated_text)
                : r->kind == AM__PL_TRANSCRIPT ? sizeof(am_transcript_chunk)
                                               : sizeof(am_mask_fill);
    void **arr = r->kind == AM__PL_LABELS       ? (void **)&r->labels
                 : r->kind == AM__PL_ENTITIES   ? (void **)&r->entities
                 : r->kind == AM__PL_ANSWERS    ? (void **)&r->answers
                 : r->kind == AM__PL_DETECTIONS ? (void **)&r->dets
                 : r->kind == AM__PL_SEGMENTS   ? (void **)&r->segs
                 : r->kind == AM__PL_TEXTS      ? (void **)&r->texts
                 : r->kind == AM__PL_TRANSCRIPT ? (void **)&r->chunks
                                                : (void **)&r->fills;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 8;
        void *v = realloc(*arr, nc * sz);
        if (!v) return NULL;
        *arr = v;
        r->cap = nc;
    }
    char *item = (char *)*arr + r->n * sz;
    memset(item, 0, sz);
    r->n++;
    return item;
}

void am_pipeline_result_free(am_pipeline_result *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_strs; i++) free(r->strs[i]);
    free(r->strs);
    free(r->labels);
    free(r->entities);
    free(r->answers);
    free(r->fills);
    free(r->dets);
    free(r->segs);
    free(r->texts);
    free(r->chunks);
    free(r->error);
    free(r);
}

const char *am_pipeline_result_error(const am_pipeline_result *r) { return r ? r->error : NULL; }
bool am_pipeline_result_truncated(const am_pipeline_result *r) { return r && r->truncated; }
size_t am_pipeline_result_count(const am_pipeline_result *r) { return r && !r->error ? r->n : 0; }
const am_label_score *am_pipeline_result_labels(const am_pipeline_result *r) { return r && r->kind == AM__PL_LABELS ? r->labels : NULL; }
const am_entity *am_pipeline_result_entities(const am_pipeline_result *r) { return r && r->kind == AM__PL_ENTITIES ? r->entities : NULL; }
const am_answer *am_pipeline_result_answers(const am_pipeline_result *r) { return r && r->kind == AM__PL_ANSWERS ? r->answers : NULL; }
const am_mask_fill *am_pipeline_result_fills(const am_pipeline_result *r) { return r && r->kind == AM__PL_FILLS ? r->fills : NULL; }
size_t am_pipeline_result_num_masks(const am_pipeline_result *r) { return r && r->kind == AM__PL_FILLS ? r->n_masks : 0; }
const am_detection *am_pipeline_result_detections(const am_pipeline_result *r) { return r && r->kind == AM__PL_DETECTIONS ? r->dets : NULL; }
const am_segment *am_pipeline_result_segments(const am_pipeline_result *r) { return r && r->kind == AM__PL_SEGMENTS ? r->segs : NULL; }
const am_generated_text *am_pipeline_result_generated(const am_pipeline_result *r) { return r && r->kind == AM__PL_TEXTS ? r->texts : NULL; }
const char *am_pipeline_result_text(const am_pipeline_result *r) { return r && r->kind == AM__PL_TRANSCRIPT && !r->error ? r->text : NULL; }
const am_transcript_chunk *am_pipeline_result_chunks(const am_pipeline_result *r) {
    return r && r->kind == AM__PL_TRANSCRIPT && !r->error && r->chunk_style ? r->chunks : NULL;
}

static void json_str(am__buf *b, const char *s) {
    am__buf_puts(b, "\"");
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char t[3] = {'\\', (char)c, 0};
            am__buf_puts(b, t);
        } else if (c == '\n') am__buf_puts(b, "\\n");
        else if (c == '\r') am__buf_puts(b, "\\r");
        else if (c == '\t') am__buf_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7f) am__buf_printf(b, "\\u%04x", c);
        else am__buf_put(b, &c, 1);
    }
    am__buf_puts(b, "\"");
}

static void json_num(am__buf *b, double v) {
    char t[64];
    am__format_py_float(v, t, sizeof t);
    am__buf_puts(b, t);
}

static void json_fill(am__buf *b, const am_mask_fill *f) {
    am__buf_puts(b, "{\"score\": ");
    json_num(b, f->score);
    am__buf_printf(b, ", \"token\": %d, \"token_str\": ", (int)f->token);
    json_str(b, f->token_str);
    am__buf_puts(b, ", \"sequence\": ");
    json_str(b, f->sequence);
    am__buf_puts(b, "}");
}

static void json_answer(am__buf *b, const am_answer *a) {
    am__buf_puts(b, "{\"score\": ");
    json_num(b, a->score);
    am__buf_printf(b, ", \"start\": %lld, \"end\": %lld, \"answer\": ", (long long)a->start, (long long)a->end);
    json_str(b, a->answer);
    am__buf_puts(b, "}");
}

char *am_pipeline_result_json(const am_pipeline_result *r) {
    if (!r) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_pipeline_result_json: NULL result");
        return NULL;
    }
    am__buf b = {0};
    if (r->error) {
        am__buf_puts(&b, "{\"error\": ");
        json_str(&b, r->error);
        am__buf_puts(&b, "}");
    } else if (r->kind == AM__PL_LABELS && r->score_first) {
        am__buf_puts(&b, "[");
        for (size_t i = 0; i < r->n; i++) {
            am__buf_puts(&b, i ? ", {\"score\": " : "{\"score\": ");
            json_num(&b, r->labels[i].score);
            am__buf_puts(&b, ", \"label\": ");
            json_str(&b, r->labels[i].label);
            am__buf_puts(&b, "}");
        }
        am__buf_puts(&b, "]");
    } else if (r->kind == AM__PL_DETECTIONS) {
        am__buf_puts(&b, "[");
        for (size_t i = 0; i < r->n; i++) {
            const am_detection *d = &r->dets[i];
            am__buf_puts(&b, i ? ", {\"score\": " : "{\"score\": ");
            json_num(&b, d->score);
            am__buf_puts(&b, ", \"label\": ");
            json_str(&b, d->label);
            am__buf_printf(&b, ", \"box\": {\"xmin\": %lld, \"ymin\": %lld, \"xmax\": %lld, \"ymax\": %lld}}", (long long)d->xmin,
                           (long long)d->ymin, (long long)d->xmax, (long long)d->ymax);
        }
        am__buf_puts(&b, "]");
    } else if (r->kind == AM__PL_SEGMENTS) {
        am__buf_puts(&b, "[");
        for (size_t i = 0; i < r->n; i++) {
            am__buf_puts(&b, i ? ", {\"score\": null, \"label\": " : "{\"score\": null, \"label\": ");
            json_str(&b, r->segs[i].label);
            am__buf_puts(&b, ", \"mask\": ");
            json_str(&b, r->segs[i].mask_path);
            am__buf_puts(&b, "}");
        }
        am__buf_puts(&b, "]");
    } else if (r->kind == AM__PL_TRANSCRIPT) {
        am__buf_puts(&b, "{\"text\": ");
        json_str(&b, r->text);
        if (r->chunk_style) {
            am__buf_puts(&b, ", \"chunks\": [");
            for (size_t i = 0; i < r->n; i++) {
                const am_transcript_chunk *c = &r->chunks[i];
                am__buf_puts(&b, i ? ", {" : "{");
                if (r->chunk_style == 1) {
                    am__buf_puts(&b, "\"text\": ");
                    json_str(&b, c->text);
                    am__buf_puts(&b, ", ");
                }
                if (r->chunk_style >= 3) {
                    am__buf_puts(&b, "\"language\": ");
                    if (c->language) json_str(&b, c->language);
                    else am__buf_puts(&b, "null");
                    am__buf_puts(&b, ", ");
                }
                if (r->chunk_style <= 3) {
                    am__buf_puts(&b, "\"timestamp\": [");
                    for (int k = 0; k < 2; k++) {
                        double v = k ? c->end : c->start;
                        if (k) am__buf_puts(&b, ", ");
                        if (isnan(v)) am__buf_puts(&b, "null");
                        else json_num(&b, v);
                    }
                    am__buf_puts(&b, r->chunk_style == 1 ? "]" : "], ");
                }
                if (r->chunk_style != 1) {
                    am__buf_puts(&b, "\"text\": ");
                    json_str(&b, c->text);
                }
                am__buf_puts(&b, "}");
            }
            am__buf_puts(&b, "]");
        }
        am__buf_puts(&b, "}");
    } else if (r->kind == AM__PL_TEXTS) {
        am__buf_puts(&b, "[");
        for (size_t i = 0; i < r->n; i++) {
            am__buf_puts(&b, i ? ", {\"generated_text\": " : "{\"generated_text\": ");
            json_str(&b, r->texts[i].generated_text);
            am__buf_puts(&b, "}");
        }
        am__buf_puts(&b, "]");
    } else if (r->kind == AM__PL_LABELS) {
        am__buf_puts(&b, "[");
        for (size_t i = 0; i < r->n; i++) {
            am__buf_puts(&b, i ? ", {\"label\": " : "{\"label\": ");
            json_str(&b, r->labels[i].label);
            am__buf_puts(&b, ", \"score\": ");
            json_num(&b, r->labels[i].score);
            am__buf_puts(&b, "}");
        }
        am__buf_puts(&b, "]");
    } else if (r->kind == AM__PL_ENTITIES) {
        am__buf_puts(&b, "[");
        for (size_t i = 0; i < r->n; i++) {
            const am_entity *e = &r->entities[i];
            am__buf_puts(&b, i ? ", {" : "{");
            am__buf_puts(&b, r->grouped ? "\"entity_group\": " : "\"entity\": ");
            json_str(&b, e->entity);
            am__buf_puts(&b, ", \"score\": ");
            json_num(&b, e->score);
            if (!r->grouped) am__buf_printf(&b, ", \"index\": %lld", (long long)e->index);
            am__buf_puts(&b, ", \"word\": ");
            json_str(&b, e->word);
            am__buf_printf(&b, ", \"start\": %lld, \"end\": %lld}", (long long)e->start, (long long)e->end);
        }
        am__buf_puts(&b, "]");
    } else if (r->kind == AM__PL_ANSWERS) {
        /* transformers returns the answer itself when there is one, else the list */
        if (r->n == 1) json_answer(&b, &r->answers[0]);
        else {
            am__buf_puts(&b, "[");
            for (size_t i = 0; i < r->n; i++) {
                if (i) am__buf_puts(&b, ", ");
                json_answer(&b, &r->answers[i]);
            }
            am__buf_puts(&b, "]");
        }
    } else {
        size_t k = r->n_masks ? r->n / r->n_masks : 0;
        if (r->n_masks > 1) am__buf_puts(&b, "[");
        for (size_t m = 0; m < r->n_masks; m++) {
            am__buf_puts(&b, m ? ", [" : "[");
            for (size_t i = 0; i < k; i++) {
                if (i) am__buf_puts(&b, ", ");
                json_fill(&b, &r->fills[m * k + i]);
            }
            am__buf_puts(&b, "]");
        }
        if (r->n_masks > 1) am__buf_puts(&b, "]");
    }
    if (b.failed) {
        am__buf_free(&b);
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    return am__buf_take(&b);
}

char *am_pipeline_results_json(const am_pipeline_result *const *r, size_t n) {
    if (n && !r) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_pipeline_results_json: NULL results");
        return NULL;
    }
    am__buf b = {0};
    am__buf_puts(&b, "[");
    for (size_t i = 0; i < n; i++) {
        char *one = am_pipeline_result_json(r[i]);
        if (!one) {
            am__buf_free(&b);
            return NULL;
        }
        size_t len = strlen(one);
        bool unwrap = r[i]->kind == AM__PL_LABELS && !r[i]->error && !r[i]->list_shape && r[i]->n == 1 && len >= 2;
        if (i) am__buf_puts(&b, ", ");
        if (unwrap) am__buf_put(&b, one + 1, len - 2);
        else am__buf_puts(&b, one);
        free(one);
    }
    am__buf_puts(&b, "]");
    if (b.failed) {
        am__buf_free(&b);
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    return am__buf_take(&b);
}

/* ---- text helpers ---- */

size_t am__pl_cp_len(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

/* Byte offset of code point `cp` (len when past the end). */
static size_t cp_to_byte(const char *s, size_t len, size_t cp) {
    size_t c = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (c == cp) return i;
            c++;
        }
    }
    return len;
}

char *am__pl_substr_cp(const char *text, size_t len, size_t start, size_t end) {
    size_t a = cp_to_byte(text, len, start), b = end > start ? cp_to_byte(text, len, end) : a;
    if (b < a) b = a;
    char *s = malloc(b - a + 1);
    if (!s) return NULL;
    memcpy(s, text + a, b - a);
    s[b - a] = 0;
    return s;
}

static bool starts_with(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

/* The Rust WordPiece decoder's cleanup of one token (" do not" -> " don't", unlike transformers). */
static char *wp_cleanup(char *s) {
    static const char *const from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " do not", " 's", " 've", " 're"};
    static const char *const to[] = {".", "?", "!", ",", "'", "n't", "'m", " don't", "'s", "'ve", "'re"};
    for (size_t k = 0; k < sizeof from / sizeof from[0]; k++) {
        size_t fl = strlen(from[k]), tl = strlen(to[k]);
        char *w = s, *r = s;
        while (*r) {
            if (!strncmp(r, from[k], fl)) {
                memmove(w, to[k], tl); /* tl <= fl: writing never passes reading */
                w += tl;
                r += fl;
            } else *w++ = *r++;
        }
        *w = 0;
    }
    return s;
}

char *am__pl_tokens_to_string(const am_pipeline *p, const char *const *tokens, const int32_t *ids, size_t n) {
    if (p->ti.wp_prefix) { /* the Rust WordPiece decoder: prefix stripped or a space added, cleanup per token */
        am__buf b = {0};
        size_t pl = strlen(p->ti.wp_prefix);
        am__buf_puts(&b, "");
        for (size_t i = 0; i < n; i++) {
            am__buf t = {0};
            if (i && starts_with(tokens[i], p->ti.wp_prefix)) am__buf_puts(&t, tokens[i] + pl);
            else {
                if (i) am__buf_puts(&t, " ");
                am__buf_puts(&t, tokens[i]);
            }
            char *ts = am__buf_take(&t);
            if (ts) am__buf_puts(&b, p->ti.wp_cleanup ? wp_cleanup(ts) : ts);
            else b.failed = true;
            free(ts);
        }
        if (b.failed) {
            am__buf_free(&b);
            return NULL;
        }
        return am__buf_take(&b);
    }
    am_decode_options d = am_decode_options_default();
    d.clean_up_tokenization_spaces = 0;
    return am_tokenizer_decode(p->tok, ids, n, &d);
}

void am__pl_softmax(const float *x, size_t n, float *out) {
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (x[i] > mx) mx = x[i];
    float sum = 0;
    for (size_t i = 0; i < n; i++) sum += out[i] = expf(x[i] - mx);
    for (size_t i = 0; i < n; i++) out[i] /= sum;
}

/* ---- tokenizer facts ---- */

static const char *tok_string(const cJSON *v) {
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsObject(v)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (cJSON_IsString(c)) return c->valuestring;
    }
    return NULL;
}

static cJSON *read_json(const char *dir, const char *name) {
    char *path = am__path_join(dir, name);
    char *text = NULL;
    size_t len;
    cJSON *j = NULL;
    if (path && am__is_file(path) && am__read_file(path, &text, &len) == AM_OK && am__json_parse(text, len, path, &j) != AM_OK) j = NULL;
    free(text);
    free(path);
    return j;
}

/* special token `key` from tokenizer_config.json (wins) or special_tokens_map.json */
static const char *cfg_token(const cJSON *cfg, const cJSON *stm, const char *key) {
    const char *s = tok_string(cJSON_GetObjectItemCaseSensitive(cfg, key));
    return s ? s : tok_string(cJSON_GetObjectItemCaseSensitive(stm, key));
}

static int32_t first_known(const am_tokenizer *t, const char *given, const char *a, const char *b, const char **which) {
    const char *c[3] = {given, a, b};
    for (int k = 0; k < 3; k++)
        if (c[k]) {
            int32_t id = am_tokenizer_token_to_id(t, c[k]);
            if (id >= 0 || (given && k == 0)) {
                if (which) *which = c[k];
                return id;
            }
        }
    return -1;
}

static am_status load_tokinfo(am_pipeline *p, const char *dir) {
    am__pl_tokinfo *ti = &p->ti;
    cJSON *tj = read_json(dir, "tokenizer.json"), *cfg = read_json(dir, "tokenizer_config.json"),
          *stm = read_json(dir, "special_tokens_map.json");
    const char *unk = NULL;
    if (tj) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(tj, "model");
        const cJSON *csp = cJSON_GetObjectItemCaseSensitive(m, "continuing_subword_prefix");
        ti->subword_prefix = cJSON_IsString(csp) && csp->valuestring[0];
        unk = tok_string(cJSON_GetObjectItemCaseSensitive(m, "unk_token"));
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(tj, "decoder");
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(d, "type");
        if (cJSON_IsString(ty) && !strcmp(ty->valuestring, "WordPiece")) {
            const cJSON *pre = cJSON_GetObjectItemCaseSensitive(d, "prefix"), *cl = cJSON_GetObjectItemCaseSensitive(d, "cleanup");
            ti->wp_prefix = am__strdup(cJSON_IsString(pre) ? pre->valuestring : "##");
            ti->wp_cleanup = cl ? cJSON_IsTrue(cl) : true;
        }
    } else {
        char *vt = am__path_join(dir, "vocab.txt");
        if (vt && am__is_file(vt)) { /* BertTokenizerFast converted from vocab.txt */
            ti->subword_prefix = true;
            ti->wp_prefix = am__strdup("##");
            ti->wp_cleanup = true;
        }
        free(vt);
    }
    const char *given_unk = cfg_token(cfg, stm, "unk_token");
    ti->unk_id = first_known(p->tok, given_unk ? given_unk : unk, "[UNK]", "<unk>", NULL);
    ti->cls_id = first_known(p->tok, cfg_token(cfg, stm, "cls_token"), "[CLS]", "<s>", NULL);
    const char *mask = NULL;
    ti->mask_id = first_known(p->tok, cfg_token(cfg, stm, "mask_token"), "[MASK]", "<mask>", &mask);
    ti->mask_token = mask && ti->mask_id >= 0 ? am__strdup(mask) : NULL;
    const char *pad = am_tokenizer_pad_token(p->tok);
    ti->pad_id = pad ? am_tokenizer_token_to_id(p->tok, pad) : -1;
    if (ti->pad_id < 0) ti->pad_id = first_known(p->tok, NULL, "[PAD]", "<pad>", NULL);
    cJSON_Delete(tj);
    cJSON_Delete(cfg);
    cJSON_Delete(stm);
    return AM_OK;
}

/* ---- the pipeline ---- */

static const char *pipeline_name(am_task t) {
    switch (t) {
    case AM_TASK_SEQUENCE_CLASSIFICATION: return "text-classification (classify)";
    case AM_TASK_TOKEN_CLASSIFICATION: return "token-classification (ner)";
    case AM_TASK_QUESTION_ANSWERING: return "question-answering (qa)";
    case AM_TASK_MASKED_LM: return "fill-mask";
    case AM_TASK_IMAGE_CLASSIFICATION: return "image-classification";
    case AM_TASK_OBJECT_DETECTION: return "object-detection";
    case AM_TASK_IMAGE_SEGMENTATION: return "image-segmentation";
    case AM_TASK_VISION2SEQ: return "image-to-text";
    case AM_TASK_AUDIO_CLASSIFICATION: return "audio-classification";
    case AM_TASK_SPEECH_SEQ2SEQ: return "automatic-speech-recognition";
    default: return NULL;
    }
}

void am_pipeline_free(am_pipeline *p) {
    if (!p) return;
    am_model_free(p->model);
    am_tokenizer_free(p->tok);
    for (size_t i = 0; i < p->n_ignore; i++) free(p->ignore[i]);
    free(p->ignore);
    free(p->ti.mask_token);
    free(p->ti.wp_prefix);
    free(p->path);
    am_image_processor_free(p->proc);
    am_feature_extractor_free(p->fe);
    free(p->output_dir);
    free(p->generate_kwargs);
    free(p);
}

am_pipeline *am_pipeline_new(am_task task, const char *path, const am_pipeline_options *opts) {
    if (!path) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_pipeline_new: path is required");
        return NULL;
    }
    if (!pipeline_name(task)) {
        am__error(AM_ERR_UNSUPPORTED, "am_pipeline_new: no pipeline for task '%s' (supported: sequence-classification, "
                  "token-classification, question-answering, masked-lm, image-classification, object-detection, "
                  "image-segmentation, vision2seq, audio-classification, speech-seq2seq)", am_task_name(task));
        return NULL;
    }
    am_pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    p->task = task;
    p->o = am_pipeline_options_default();
    if (AM__OPTS_IN(p->o, opts, "am_pipeline_options")) {
        free(p);
        return NULL;
    }
    if (!p->o.batch_size) p->o.batch_size = 32;
    if (p->o.max_answer_len <= 0) p->o.max_answer_len = 15;
    p->path = am__strdup(path);
    am_load_options lo = am_load_options_default();
    if (AM__OPTS_IN(lo, p->o.load, "am_load_options")) goto fail;
    p->o.load = NULL;
    p->model = am_model_from_pretrained(p->o.model_task, path, &lo);
    if (!p->model) goto fail;
    am_task has = am_model_task(p->model);
    /* automatic-speech-recognition takes a CTC model or a speech seq2seq one */
    bool asr_ctc = task == AM_TASK_SPEECH_SEQ2SEQ && has != task && !strcmp(am_task_name(has), "ctc");
    if (has != task && !asr_ctc && !(task == AM_TASK_IMAGE_SEGMENTATION && has == AM_TASK_SEMANTIC_SEGMENTATION)) {
        am__error(AM_ERR_INVALID_ARGUMENT, "%s: the model is a %s (task %s); the %s pipeline needs a %s model (pass --task %s to load it "
                  "with a new, untrained head)", path, am_model_class_name(p->model), am_task_name(has), pipeline_name(task),
                  am_task_name(task), am_task_name(task));
        goto fail;
    }
    p->threshold = 0.9;
    if (am__pl_is_audio_task(task)) {
        p->ctc = asr_ctc;
        if (am__pl_audio_init(p, &lo)) goto fail;
        p->o.tokenizer = NULL;
        p->o.ignore_labels = NULL;
        p->num_labels = am_config_num_labels(am_model_config(p->model));
        return p;
    }
    if (am__pl_is_image_task(task)) {
        if (am__pl_vision_init(p, &lo)) goto fail;
        p->o.tokenizer = NULL;
        p->o.ignore_labels = NULL;
        p->num_labels = am_config_num_labels(am_model_config(p->model));
        return p;
    }
    const char *tdir = p->o.tokenizer ? p->o.tokenizer : path;
    p->o.tokenizer = NULL;
    p->tok = am_tokenizer_from_pretrained(tdir);
    if (!p->tok) {
        am__error_prefix("%s: loading the tokenizer", tdir);
        goto fail;
    }
    /* a hub id: the tokenizer files are in the cache now; read them from the snapshot */
    char *snap = NULL;
    if (!am__is_dir(tdir)) {
        static const char *const files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", NULL};
        am_download_options d = am_download_options_default();
        d.revision = lo.revision;
        d.cache_dir = lo.cache_dir;
        d.token = lo.token;
        d.local_files_only = lo.local_files_only;
        d.include = files;
        if (am_hub_download(tdir, &d, &snap) != AM_OK) snap = NULL; /* then the usual token names are guessed */
    }
    am_status ts = load_tokinfo(p, snap ? snap : tdir);
    am_free(snap);
    if (ts) goto fail;
    if (task == AM_TASK_TOKEN_CLASSIFICATION && !p->ti.subword_prefix && p->o.aggregation >= AM_AGGREGATION_FIRST)
        am__log(AM_LOG_WARNING, "Tokenizer does not support real words, using fallback heuristic");
    const am_config *cfg = am_model_config(p->model);
    p->num_labels = am_config_num_labels(cfg);
    for (const char *const *n = p->model->input_names; n && *n; n++)
        if (!strcmp(*n, "token_type_ids")) p->type_ids = true;
    /* the usable positions: RoBERTa-style tables start after padding_idx + 1 */
    int64_t maxpos = 0, mml = am_tokenizer_model_max_length(p->tok);
    if (am_config_get_int(cfg, "max_position_embeddings", &maxpos) == AM_OK) {
        const char *mt = am_config_model_type(cfg);
        if (mt && (!strcmp(mt, "roberta") || !strcmp(mt, "xlm-roberta") || !strcmp(mt, "camembert"))) maxpos -= 2;
    } else if (am_config_get_int(cfg, "n_positions", &maxpos) != AM_OK)
        maxpos = 0;
    size_t lim = mml > 0 && mml < (int64_t)1 << 40 ? (size_t)mml : 0;
    if (maxpos > 0 && (!lim || (size_t)maxpos < lim)) lim = (size_t)maxpos;
    p->max_len = lim ? lim : 512;
    if (p->o.ignore_labels) {
        p->ignore = calloc(p->o.n_ignore_labels ? p->o.n_ignore_labels : 1, sizeof *p->ignore);
        if (!p->ignore) goto oom;
        for (size_t i = 0; i < p->o.n_ignore_labels; i++)
            if (!(p->ignore[p->n_ignore++] = am__strdup(p->o.ignore_labels[i]))) goto oom;
    } else {
        p->ignore = calloc(1, sizeof *p->ignore);
        if (!p->ignore || !(p->ignore[0] = am__strdup("O"))) goto oom;
        p->n_ignore = 1;
    }
    p->o.ignore_labels = NULL;
    return p;
oom:
    am__error(AM_ERR_NO_MEMORY, "out of memory");
fail:
    am_pipeline_free(p);
    return NULL;
}

am_task am_pipeline_task(const am_pipeline *p) { return p ? p->task : AM_TASK_AUTO; }
am_model *am_pipeline_model(const am_pipeline *p) { return p ? p->model : NULL; }
const am_tokenizer *am_pipeline_tokenizer(const am_pipeline *p) { return p ? p->tok : NULL; }
size_t am_pipeline_max_length(const am_pipeline *p) { return p ? p->max_len : 0; }
