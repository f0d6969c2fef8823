/* tokenizers/tokenizer.c — the tokenizer: loading tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json and legacy vocab files; encoding (added tokens -> normalizer ->
 * pre-tokenizer -> model -> offsets -> truncation -> post-processor -> padding), batches,
 * tensors and decoding, as the Rust library and transformers' fast tokenizers do. */
#include "core/error.h"
#include "core/json.h"
#include "core/tensor.h"
#include "core/util.h"
#include "hub/hub.h"
#include "tokenizers/asr.h"
#include "tokenizers/tk.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* loading                                                                                     */
/* ------------------------------------------------------------------------------------------ */

void am_tokenizer_free(am_tokenizer *t) {
    if (!t) return;
    free(t->origin);
    tk_norm_free(t->normalizer);
    tk_pretok_free(t->pretok);
    tk_model_free(t->model);
    tk_pp_free(t->post);
    tk_dec_free(t->decoder);
    tk_added_free(&t->added);
    free(t->pad_token);
    free(t->bos_token);
    free(t->eos_token);
    free(t->unk_token);
    free(t->json_pad_token);
    free(t->word_delim);
    free(t->word_repl);
    free(t);
}

/* An allocation failure in set_str is sticky for the load running on this thread: the public
 * constructors clear it first and fail at the end when it is set. */
static _Thread_local bool g_set_str_failed;

static am_tokenizer *tok_new(const char *origin) {
    am_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->origin = strdup(origin ? origin : "tokenizer.json");
    t->model_max_length = INT64_MAX;
    t->clean_up_spaces = true;
    return t;
}

static am_status parse_json_text(const char *json, size_t len, const char *origin, cJSON **out) {
    return am__json_parse(json, len, origin, out); /* UTF-8, NUL, syntax, trailing data */
}

static am_status load_tokenizer_json(am_tokenizer *t, const char *json, size_t len) {
    const char *origin = t->origin;
    cJSON *root;
    am_status s = parse_json_text(json, len, origin, &root);
    if (s) return s;
    if (!cJSON_IsObject(root)) {
        s = am__error(AM_ERR_FORMAT, "%s: the top level must be an object, not %s", origin, tk_json_type_name(root));
        goto done;
    }
    const cJSON *j;
    if ((s = tk_json_get(root, "model", TK_JOBJ, true, &j, origin, "tokenizer"))) goto done;
    if ((s = tk_model_parse(j, origin, &t->model))) goto done;
    if ((s = tk_json_get(root, "normalizer", TK_JOBJ, false, &j, origin, "tokenizer"))) goto done;
    if (j && (s = tk_norm_parse(j, origin, &t->normalizer))) goto done;
    if ((s = tk_json_get(root, "pre_tokenizer", TK_JOBJ, false, &j, origin, "tokenizer"))) goto done;
    if (j && (s = tk_pretok_parse(j, origin, &t->pretok))) goto done;
    if ((s = tk_json_get(root, "post_processor", TK_JOBJ, false, &j, origin, "tokenizer"))) goto done;
    if (j && (s = tk_pp_parse(j, origin, &t->post))) goto done;
    if ((s = tk_json_get(root, "decoder", TK_JOBJ, false, &j, origin, "tokenizer"))) goto done;
    if (j && (s = tk_dec_parse(j, origin, &t->decoder))) goto done;
    if ((s = tk_json_get(root, "padding", TK_JOBJ, false, &j, origin, "tokenizer"))) goto done;
    if (j && (s = tk_json_str(j, "pad_token", false, NULL, &t->json_pad_token, origin, "padding"))) goto done;
    if ((s = tk_json_get(root, "truncation", TK_JOBJ, false, &j, origin, "tokenizer"))) goto done;
    if ((s = tk_json_get(root, "added_tokens", TK_JARR, false, &j, origin, "tokenizer"))) goto done;
    if (j) {
        const cJSON *it;
        size_t k = 0;
        cJSON_ArrayForEach(it, j) {
            char what[64];
            snprintf(what, sizeof what, "added_tokens[%zu]", k++);
            if (!cJSON_IsObject(it)) {
                s = am__error(AM_ERR_FORMAT, "%s: %s must be an object, not %s", origin, what, tk_json_type_name(it));
                goto done;
            }
            const cJSON *content;
            int64_t id;
            bool special, sw, ls, rs, norm;
            if ((s = tk_json_get(it, "content", TK_JSTR, true, &content, origin, what))) goto done;
            if ((s = tk_json_int(it, "id", -1, &id, origin, what))) goto done;
            if (id < 0 || id >= (1 << 26)) {
                s = am__error(AM_ERR_FORMAT, "%s: %s: 'id' must be a non-negative integer", origin, what);
                goto done;
            }
            if ((s = tk_json_bool(it, "special", false, &special, origin, what))) goto done;
            if ((s = tk_json_bool(it, "single_word", false, &sw, origin, what))) goto done;
            if ((s = tk_json_bool(it, "lstrip", false, &ls, origin, what))) goto done;
            if ((s = tk_json_bool(it, "rstrip", false, &rs, origin, what))) goto done;
            if ((s = tk_json_bool(it, "normalized", !special, &norm, origin, what))) goto done;
            if (!tk_added_add(t, content->valuestring, strlen(content->valuestring), (int32_t)id, special, sw, ls, rs, norm)) {
                s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
                goto done;
            }
        }
    }
done:
    cJSON_Delete(root);
    return s;
}

am_tokenizer *am_tokenizer_from_json(const char *json, size_t len, const char *origin) {
    am_tokenizer *t = tok_new(origin);
    if (!t || !t->origin) {
        am_tokenizer_free(t);
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    g_set_str_failed = false;
    am_status ls = load_tokenizer_json(t, json, len);
    if (ls || !tk_added_build(t) || g_set_str_failed) {
        if (!ls) am__error(AM_ERR_NO_MEMORY, "%s: out of memory", t->origin);
        am_tokenizer_free(t);
        return NULL;
    }
    if (t->model->type == TK_M_WORDPIECE) t->has_type_ids = true;
    return t;
}

/* A token in a config: a string or {"content": ...}. */
static const char *cfg_token(const cJSON *v) {
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsObject(v)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (cJSON_IsString(c)) return c->valuestring;
    }
    return NULL;
}

static void set_str(char **dst, const char *v) {
    if (!v) return;
    char *n = strdup(v);
    if (!n) {
        g_set_str_failed = true;
        return;
    }
    free(*dst);
    *dst = n;
}

static am_status read_json_file(const char *path, cJSON **out) {
    *out = NULL;
    if (!am__is_file(path)) return AM_OK;
    char *buf;
    size_t len;
    am_status s = am__read_file(path, &buf, &len);
    if (s) return s;
    s = parse_json_text(buf, len, path, out);
    free(buf);
    if (!s && !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return am__error(AM_ERR_FORMAT, "%s: the top level must be an object", path);
    }
    return s;
}

static bool add_special_if_missing(am_tokenizer *t, const char *tok) {
    if (!tok || !tok[0]) return true;
    size_t l = strlen(tok);
    int32_t idx = tk_strmap_get(&t->added.by_content, tok, l);
    if (idx >= 0) {
        t->added.v[idx].special = true;
        return true;
    }
    int32_t id = tk_model_token_to_id(t->model, tok, l);
    if (id < 0) {
        int32_t mx = (int32_t)t->model->vocab.n - 1;
        for (size_t i = 0; i < t->model->nids; i++)
            if (t->model->id2tok[i] && (int32_t)i > mx) mx = (int32_t)i;
        for (size_t i = 0; i < t->added.n; i++)
            if (t->added.v[i].id > mx) mx = t->added.v[i].id;
        id = mx + 1;
    }
    return tk_added_add(t, tok, l, id, true, false, false, false, false);
}

static am_status rebuild_llama_template(am_tokenizer *t, bool add_bos, bool add_eos) {
    int32_t bos_id = t->bos_token ? am_tokenizer_token_to_id(t, t->bos_token) : -1;
    int32_t eos_id = t->eos_token ? am_tokenizer_token_to_id(t, t->eos_token) : -1;
    if ((add_bos && bos_id < 0) || (add_eos && eos_id < 0)) return AM_OK;
    cJSON *pp = cJSON_CreateObject();
    am__buf single = {0}, pair = {0};
    if (add_bos) am__buf_printf(&single, "%s:0 ", t->bos_token);
    am__buf_puts(&single, "$A:0");
    if (add_eos) am__buf_printf(&single, " %s:0", t->eos_token);
    am__buf_put(&pair, single.data, single.len);
    if (add_bos) am__buf_printf(&pair, " %s:1", t->bos_token);
    am__buf_puts(&pair, " $B:1");
    if (add_eos) am__buf_printf(&pair, " %s:1", t->eos_token);
    cJSON_AddStringToObject(pp, "type", "TemplateProcessing");
    cJSON_AddStringToObject(pp, "single", single.data);
    cJSON_AddStringToObject(pp, "pair", pair.data);
    cJSON *st = cJSON_AddObjectToObject(pp, "special_tokens");
    for (int k = 0; k < 2; k++) {
        bool on = k ? add_eos : add_bos;
        const char *tok = k ? t->eos_token : t->bos_token;
        int32_t id = k ? eos_id : bos_id;
        if (!on || cJSON_GetObjectItemCaseSensitive(st, tok)) continue;
        cJSON *o = cJSON_AddObjectToObject(st, tok);
        cJSON_AddStringToObject(o, "id", tok);
        cJSON *ids = cJSON_AddArrayToObject(o, "ids");
        cJSON_AddItemToArray(ids, cJSON_CreateNumber(id));
        cJSON *toks = cJSON_AddArrayToObject(o, "tokens");
        cJSON_AddItemToArray(toks, cJSON_CreateString(tok));
    }
    am__buf_free(&single);
    am__buf_free(&pair);
    tk_pp *np = NULL;
    am_status s = tk_pp_parse(pp, t->origin, &np);
    cJSON_Delete(pp);
    if (s) return s;
    tk_pp_free(t->post);
    t->post = np;
    return AM_OK;
}

/* tokenizer_config.json and special_tokens_map.json of `dir` (either may be absent). */
static am_status load_configs(am_tokenizer *t, const char *dir, cJSON **cfg_out) {
    char *p = am__path_join(dir, "tokenizer_config.json");
    char *q = am__path_join(dir, "special_tokens_map.json");
    cJSON *cfg = NULL, *stm = NULL;
    am_status s = p && q ? AM_OK : am__error(AM_ERR_NO_MEMORY, "out of memory");
    if (!s) s = read_json_file(p, &cfg);
    if (!s) s = read_json_file(q, &stm);
    const char *keys[] = {"pad_token", "bos_token", "eos_token", "unk_token"};
    char **dst[] = {&t->pad_token, &t->bos_token, &t->eos_token, &t->unk_token};
    for (int pass = 0; pass < 2 && !s; pass++) {
        cJSON *o = pass ? cfg : stm; /* tokenizer_config.json wins */
        if (!o) continue;
        for (int k = 0; k < 4; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[k]);
            if (v && !cJSON_IsNull(v) && !cfg_token(v)) {
                s = am__error(AM_ERR_FORMAT, "%s: '%s' must be a string or an object with 'content'", pass ? p : q, keys[k]);
                break;
            }
            set_str(dst[k], cfg_token(v));
        }
    }
    if (!s && cfg) {
        const cJSON *v = NULL;
        s = tk_json_get(cfg, "model_max_length", TK_JNUM, false, &v, p, "tokenizer config");
        if (v) t->model_max_length = v->valuedouble >= 9.2e18 ? INT64_MAX : v->valuedouble < 0 ? 0 : (int64_t)v->valuedouble;
        if (!s) s = tk_json_bool(cfg, "clean_up_tokenization_spaces", true, &t->clean_up_spaces, p, "tokenizer config");
        const char *sides[] = {"padding_side", "truncation_side"};
        int *sdst[] = {&t->padding_side, &t->truncation_side};
        for (int k = 0; k < 2 && !s; k++) {
            s = tk_json_get(cfg, sides[k], TK_JSTR, false, &v, p, "tokenizer config");
            if (!s && v) {
                if (!strcmp(v->valuestring, "left")) *sdst[k] = 1;
                else if (!strcmp(v->valuestring, "right")) *sdst[k] = 0;
                else s = am__error(AM_ERR_FORMAT, "%s: '%s' must be \"left\" or \"right\", not \"%s\"", p, sides[k], v->valuestring);
            }
        }
        /* tokens of added_tokens_decoder that tokenizer.json lacks */
        if (!s) s = tk_json_get(cfg, "added_tokens_decoder", TK_JOBJ, false, &v, p, "tokenizer config");
        if (!s && v) {
            const cJSON *it;
            cJSON_ArrayForEach(it, v) {
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
                char *end;
                long id = strtol(it->string, &end, 10);
                if (!cJSON_IsString(c) || *end || id < 0 || id >= (1 << 26)) {
                    s = am__error(AM_ERR_FORMAT, "%s: added_tokens_decoder['%s'] must map an id to {\"content\": ...}", p, it->string);
                    break;
                }
                if (tk_added_find(&t->added, c->valuestring, strlen(c->valuestring)) >= 0) continue;
                bool sp = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "special"));
                const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "normalized");
                if (!tk_added_add(t, c->valuestring, strlen(c->valuestring), (int32_t)id, sp,
                                  cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "single_word")),
                                  cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "lstrip")),
                                  cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "rstrip")), nm ? cJSON_IsTrue(nm) : !sp)) {
                    s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", p);
                    break;
                }
            }
        }
        if (!s) {
            const cJSON *names = cJSON_GetObjectItemCaseSensitive(cfg, "model_input_names");
            if (cJSON_IsArray(names)) {
                t->has_type_ids = false;
                const cJSON *it;
                cJSON_ArrayForEach(it, names) if (cJSON_IsString(it) && !strcmp(it->valuestring, "token_type_ids")) t->has_type_ids = true;
            }
        }
    }
    /* special tokens named by the configs are special added tokens */
    for (int pass = 0; pass < 2 && !s; pass++) {
        cJSON *o = pass ? cfg : stm;
        if (!o) continue;
        for (int k = 0; k < 4; k++)
            if (!add_special_if_missing(t, cfg_token(cJSON_GetObjectItemCaseSensitive(o, keys[k])))) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        const char *more[] = {"cls_token", "sep_token", "mask_token"};
        for (int k = 0; k < 3; k++)
            if (!add_special_if_missing(t, cfg_token(cJSON_GetObjectItemCaseSensitive(o, more[k])))) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        const cJSON *ast = cJSON_GetObjectItemCaseSensitive(o, "additional_special_tokens");
        const cJSON *it;
        if (cJSON_IsArray(ast)) cJSON_ArrayForEach(it, ast) if (!add_special_if_missing(t, cfg_token(it))) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    if (!s && cfg) {
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(cfg, "tokenizer_class");
        const cJSON *ab = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token");
        const cJSON *ae = cJSON_GetObjectItemCaseSensitive(cfg, "add_eos_token");
        if (cJSON_IsString(cls) && (cJSON_IsBool(ab) || cJSON_IsBool(ae)) &&
            (!strncmp(cls->valuestring, "Llama", 5) || !strncmp(cls->valuestring, "CodeLlama", 9) ||
             !strncmp(cls->valuestring, "Gemma", 5)))
            s = rebuild_llama_template(t, ab ? cJSON_IsTrue(ab) : true, ae ? cJSON_IsTrue(ae) : false);
    }
    free(p);
    free(q);
    cJSON_Delete(stm);
    if (cfg_out) *cfg_out = cfg;
    else cJSON_Delete(cfg);
    return s;
}

/* ---- legacy files ---- */
static am_status parse_component(const char *json, am_status (*fn)(const cJSON *, const char *, void **), const char *origin,
                                 void **out) {
    cJSON *j = cJSON_Parse(json);
    if (!j) return am__error(AM_ERR_INTERNAL, "%s: internal template does not parse", origin);
    am_status s = fn(j, origin, out);
    cJSON_Delete(j);
    return s;
}
#define PARSE_AS(fn) ((am_status(*)(const cJSON *, const char *, void **))(fn))

static am_status legacy_bert(am_tokenizer *t, const char *vocab_path, const cJSON *cfg) {
    char *buf;
    size_t len;
    am_status s = am__read_file(vocab_path, &buf, &len);
    if (s) return s;
    if (tk_utf8_invalid_at(buf, len) != SIZE_MAX) {
        free(buf);
        return am__error(AM_ERR_FORMAT, "%s: not valid UTF-8", vocab_path);
    }
    tk_model *m = calloc(1, sizeof *m);
    if (!m) {
        free(buf);
        return am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    t->model = m;
    m->type = TK_M_WORDPIECE;
    m->unk = strdup("[UNK]");
    m->csp = strdup("##");
    if (!m->unk || !m->csp) {
        free(buf);
        return am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    m->max_chars = 100;
    int32_t id = 0;
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        char *te = le;
        if (te > p && te[-1] == '\r') te--;
        /* transformers strips the line (trailing whitespace) */
        while (te > p && (te[-1] == ' ' || te[-1] == '\t')) te--;
        if (!tk_model_add_token(m, p, (size_t)(te - p), id)) {
            free(buf);
            return am__error(AM_ERR_NO_MEMORY, "out of memory");
        }
        id++;
        p = nl ? nl + 1 : end;
    }
    free(buf);
    if (!id) return am__error(AM_ERR_FORMAT, "%s: empty vocabulary", vocab_path);
    m->unk_id = tk_strmap_get(&m->vocab, "[UNK]", 5);
    bool lower = true, chinese = true;
    const cJSON *sa = NULL;
    if (cfg) {
        tk_json_bool(cfg, "do_lower_case", true, &lower, vocab_path, "config");
        tk_json_bool(cfg, "tokenize_chinese_chars", true, &chinese, vocab_path, "config");
        sa = cJSON_GetObjectItemCaseSensitive(cfg, "strip_accents");
    }
    char nj[256];
    snprintf(nj, sizeof nj,
             "{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":%s,\"strip_accents\":%s,\"lowercase\":%s}",
             chinese ? "true" : "false", cJSON_IsBool(sa) ? (cJSON_IsTrue(sa) ? "true" : "false") : "null", lower ? "true" : "false");
    const char *origin = t->origin;
    if ((s = parse_component(nj, PARSE_AS(tk_norm_parse), origin, (void **)&t->normalizer))) return s;
    if ((s = parse_component("{\"type\":\"BertPreTokenizer\"}", PARSE_AS(tk_pretok_parse), origin, (void **)&t->pretok))) return s;
    if ((s = parse_component("{\"type\":\"WordPiece\",\"prefix\":\"##\",\"cleanup\":true}", PARSE_AS(tk_dec_parse), origin,
                             (void **)&t->decoder)))
        return s;
    const char *specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (int k = 0; k < 5; k++) {
        int32_t sid = tk_strmap_get(&m->vocab, specials[k], strlen(specials[k]));
        if (sid >= 0 && !tk_added_add(t, specials[k], strlen(specials[k]), sid, true, false, false, false, false))
            return am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    int32_t cls = tk_strmap_get(&m->vocab, "[CLS]", 5), sep = tk_strmap_get(&m->vocab, "[SEP]", 5);
    if (cls < 0 || sep < 0) return am__error(AM_ERR_FORMAT, "%s: [CLS] and [SEP] must be in the vocabulary", vocab_path);
    char pj[1024];
    snprintf(pj, sizeof pj,
             "{\"type\":\"TemplateProcessing\",\"single\":\"[CLS]:0 $A:0 [SEP]:0\",\"pair\":\"[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1\","
             "\"special_tokens\":{\"[CLS]\":{\"id\":\"[CLS]\",\"ids\":[%d],\"tokens\":[\"[CLS]\"]},"
             "\"[SEP]\":{\"id\":\"[SEP]\",\"ids\":[%d],\"tokens\":[\"[SEP]\"]}}}",
             (int)cls, (int)sep);
    if ((s = parse_component(pj, PARSE_AS(tk_pp_parse), origin, (void **)&t->post))) return s;
    t->has_type_ids = true;
    set_str(&t->pad_token, "[PAD]");
    set_str(&t->unk_token, "[UNK]");
    return AM_OK;
}

static am_status legacy_bpe(am_tokenizer *t, const char *vocab_path, const char *merges_path, const cJSON *cfg) {
    char *buf;
    size_t len;
    am_status s = am__read_file(vocab_path, &buf, &len);
    if (s) return s;
    cJSON *v;
    s = parse_json_text(buf, len, vocab_path, &v);
    free(buf);
    if (s) return s;
    tk_model *m = calloc(1, sizeof *m);
    if (!m) {
        cJSON_Delete(v);
        return am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    t->model = m;
    m->type = TK_M_BPE;
    m->unk_id = -1;
    if (!cJSON_IsObject(v)) s = am__error(AM_ERR_FORMAT, "%s: must be an object of token -> id", vocab_path);
    const cJSON *it;
    if (!s) cJSON_ArrayForEach(it, v) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= (1 << 26) || it->valuedouble != (double)(int64_t)it->valuedouble) {
            s = am__error(AM_ERR_FORMAT, "%s: the id of '%s' must be a non-negative integer", vocab_path, it->string);
            break;
        }
        if (!tk_model_add_token(m, it->string, strlen(it->string), (int32_t)it->valuedouble)) {
            s = am__error(AM_ERR_NO_MEMORY, "out of memory");
            break;
        }
    }
    cJSON_Delete(v);
    if (s) return s;
    if ((s = am__read_file(merges_path, &buf, &len))) return s;
    if (tk_utf8_invalid_at(buf, len) != SIZE_MAX) {
        free(buf);
        return am__error(AM_ERR_FORMAT, "%s: not valid UTF-8", merges_path);
    }
    char *p = buf, *end = buf + len;
    uint32_t rank = 0;
    size_t line = 0;
    while (p < end && !s) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        line++;
        char *te = le;
        if (te > p && te[-1] == '\r') te--;
        if (!(line == 1 && te - p >= 8 && !strncmp(p, "#version", 8)) && te > p) {
            char *sp = memchr(p, ' ', (size_t)(te - p));
            if (!sp || memchr(sp + 1, ' ', (size_t)(te - sp - 1)))
                s = am__error(AM_ERR_FORMAT, "%s: line %zu must be two tokens separated by one space", merges_path, line);
            else {
                char where[64];
                snprintf(where, sizeof where, "%s line %zu", "merges.txt", line);
                s = tk_bpe_add_merge(m, p, (size_t)(sp - p), sp + 1, (size_t)(te - sp - 1), rank, merges_path);
                rank++;
            }
        }
        p = nl ? nl + 1 : end;
    }
    free(buf);
    if (s) return s;
    if ((s = tk_model_finish_bpe(m, t->origin))) return s;
    bool roberta = false, aps = false;
    if (cfg) {
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(cfg, "tokenizer_class");
        roberta = cJSON_IsString(cls) && (!strncmp(cls->valuestring, "Roberta", 7) || !strncmp(cls->valuestring, "Bart", 4));
        tk_json_bool(cfg, "add_prefix_space", false, &aps, vocab_path, "config");
    }
    const char *origin = t->origin;
    char pj[256];
    snprintf(pj, sizeof pj, "{\"type\":\"ByteLevel\",\"add_prefix_space\":%s,\"trim_offsets\":true}", aps ? "true" : "false");
    if ((s = parse_component(pj, PARSE_AS(tk_pretok_parse), origin, (void **)&t->pretok))) return s;
    if ((s = parse_component("{\"type\":\"ByteLevel\"}", PARSE_AS(tk_dec_parse), origin, (void **)&t->decoder))) return s;
    if (roberta) {
        const char *sp[] = {"<s>", "<pad>", "</s>", "<unk>", "<mask>"};
        for (int k = 0; k < 5; k++) {
            int32_t id = tk_strmap_get(&m->vocab, sp[k], strlen(sp[k]));
            if (id >= 0 && !tk_added_add(t, sp[k], strlen(sp[k]), id, true, false, k == 4, false, false))
                return am__error(AM_ERR_NO_MEMORY, "out of memory");
        }
        int32_t cls = tk_strmap_get(&m->vocab, "<s>", 3), sep = tk_strmap_get(&m->vocab, "</s>", 4);
        if (cls < 0 || sep < 0) return am__error(AM_ERR_FORMAT, "%s: <s> and </s> must be in the vocabulary", vocab_path);
        char rj[256];
        snprintf(rj, sizeof rj, "{\"type\":\"RobertaProcessing\",\"sep\":[\"</s>\",%d],\"cls\":[\"<s>\",%d],\"trim_offsets\":true,\"add_prefix_space\":%s}",
                 (int)sep, (int)cls, aps ? "true" : "false");
        if ((s = parse_component(rj, PARSE_AS(tk_pp_parse), origin, (void **)&t->post))) return s;
        set_str(&t->pad_token, "<pad>");
        set_str(&t->bos_token, "<s>");
        set_str(&t->eos_token, "</s>");
    } else {
        if ((s = parse_component("{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":false}", PARSE_AS(tk_pp_parse), origin,
                                 (void **)&t->post)))
            return s;
        int32_t id = tk_strmap_get(&m->vocab, "<|endoftext|>", 13);
        if (id >= 0) {
            if (!tk_added_add(t, "<|endoftext|>", 13, id, true, false, false, false, true)) return am__error(AM_ERR_NO_MEMORY, "out of memory");
            set_str(&t->bos_token, "<|endoftext|>");
            set_str(&t->eos_token, "<|endoftext|>");
            set_str(&t->unk_token, "<|endoftext|>");
        }
    }
    return AM_OK;
}

/* tokenizer_config.json names Wav2Vec2CTCTokenizer (a slow-only class: AutoTokenizer loads it from
 * vocab.json even where a tokenizer.json exists). */
static bool is_ctc_class(const char *dir, am_status *s) {
    char *cp = am__path_join(dir, "tokenizer_config.json");
    cJSON *cfg = NULL;
    *s = cp ? read_json_file(cp, &cfg) : am__error(AM_ERR_NO_MEMORY, "out of memory");
    free(cp);
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(cfg, "tokenizer_class");
    bool yes = !*s && cJSON_IsString(cls) && !strcmp(cls->valuestring, "Wav2Vec2CTCTokenizer");
    cJSON_Delete(cfg);
    return yes || *s;
}

/* WhisperTokenizer from its slow files: build_inputs_with_special_tokens puts prefix_tokens
 * (<|startoftranscript|>, the language and task tokens when tokenizer_config.json sets them,
 * <|notimestamps|> unless predict_timestamps) before the text and <|endoftext|> after it. */
static am_status whisper_template(am_tokenizer *t, const cJSON *cfg, const char *cfg_path) {
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(cfg, "language"), *task = cJSON_GetObjectItemCaseSensitive(cfg, "task");
    bool ts = false;
    am_status s = tk_json_bool(cfg, "predict_timestamps", false, &ts, cfg_path, "tokenizer config");
    if (s) return s;
    const char *prefix[4];
    size_t np = 0;
    char lang_tok[40];
    prefix[np++] = "<|startoftranscript|>";
    if (lang && !cJSON_IsNull(lang)) {
        const char *code = cJSON_IsString(lang) ? tk_whisper_language_code(lang->valuestring) : NULL;
        if (!code) return am__error(AM_ERR_FORMAT, "%s: Unsupported language: %s", cfg_path, cJSON_IsString(lang) ? lang->valuestring : "(not a string)");
        snprintf(lang_tok, sizeof lang_tok, "<|%s|>", code);
        prefix[np++] = lang_tok;
    }
    if (task && !cJSON_IsNull(task)) {
        if (!cJSON_IsString(task) || (strcmp(task->valuestring, "transcribe") && strcmp(task->valuestring, "translate")))
            return am__error(AM_ERR_FORMAT, "%s: Unsupported task: %s. Task should be in: ['translate', 'transcribe']", cfg_path,
                             cJSON_IsString(task) ? task->valuestring : "(not a string)");
        prefix[np++] = !strcmp(task->valuestring, "transcribe") ? "<|transcribe|>" : "<|translate|>";
    }
    if (!ts) prefix[np++] = "<|notimestamps|>";
    const char *eos = "<|endoftext|>";
    for (size_t i = 0; i < np; i++)
        if (am_tokenizer_token_to_id(t, prefix[i]) < 0) return AM_OK; /* not Whisper's vocabulary: no template to build */
    if (am_tokenizer_token_to_id(t, eos) < 0) return AM_OK;
    cJSON *pp = cJSON_CreateObject(), *single = cJSON_AddArrayToObject(pp, "single"), *pair = cJSON_AddArrayToObject(pp, "pair");
    cJSON *sp = cJSON_AddObjectToObject(pp, "special_tokens");
    cJSON_AddStringToObject(pp, "type", "TemplateProcessing");
    for (int k = 0; k < 2; k++) {
        cJSON *arr = k ? pair : single;
        for (size_t i = 0; i < np; i++) {
            cJSON *o = cJSON_CreateObject(), *st = cJSON_AddObjectToObject(o, "SpecialToken");
            cJSON_AddStringToObject(st, "id", prefix[i]);
            cJSON_AddNumberToObject(st, "type_id", 0);
            cJSON_AddItemToArray(arr, o);
        }
        for (int q = 0; q <= k; q++) {
            cJSON *o = cJSON_CreateObject(), *sq = cJSON_AddObjectToObject(o, "Sequence");
            cJSON_AddStringToObject(sq, "id", q ? "B" : "A");
            cJSON_AddNumberToObject(sq, "type_id", q);
            cJSON_AddItemToArray(arr, o);
        }
        cJSON *o = cJSON_CreateObject(), *st = cJSON_AddObjectToObject(o, "SpecialToken");
        cJSON_AddStringToObject(st, "id", eos);
        cJSON_AddNumberToObject(st, "type_id", k);
        cJSON_AddItemToArray(arr, o);
    }
    for (size_t i = 0; i <= np; i++) {
        const char *tok = i < np ? prefix[i] : eos;
        cJSON *o = cJSON_AddObjectToObject(sp, tok);
        cJSON_AddStringToObject(o, "id", tok);
        cJSON *ids = cJSON_AddArrayToObject(o, "ids"), *toks = cJSON_AddArrayToObject(o, "tokens");
        cJSON_AddItemToArray(ids, cJSON_CreateNumber(am_tokenizer_token_to_id(t, tok)));
        cJSON_AddItemToArray(toks, cJSON_CreateString(tok));
    }
    tk_pp *np_ = NULL;
    s = pp && !cJSON_IsInvalid(pp) ? tk_pp_parse(pp, t->origin, &np_) : am__error(AM_ERR_NO_MEMORY, "out of memory");
    cJSON_Delete(pp);
    if (s) return s;
    tk_pp_free(t->post);
    t->post = np_;
    return AM_OK;
}

/* Wav2Vec2CTCTokenizer: vocab.json (+ tokenizer_config.json, special_tokens_map.json). */
static am_status legacy_ctc(am_tokenizer **out, const char *dir) {
    char *vj = am__path_join(dir, "vocab.json"), *cp = am__path_join(dir, "tokenizer_config.json");
    cJSON *cfg = NULL;
    char *json = NULL;
    am_tokenizer *t = NULL;
    am_status s = vj && cp ? AM_OK : am__error(AM_ERR_NO_MEMORY, "out of memory");
    if (!s && !am__is_file(vj)) s = am__error(AM_ERR_NOT_FOUND, "%s: Wav2Vec2CTCTokenizer needs vocab.json, which is missing", dir);
    if (!s) s = read_json_file(cp, &cfg);
    if (!s) s = tk_ctc_json(vj, cp, cfg, &json);
    if (!s && !(t = tok_new(vj))) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    if (!s) s = load_tokenizer_json(t, json, strlen(json));
    if (!s) {
        t->ctc = true;
        const char *defs[] = {"<pad>", "<s>", "</s>", "<unk>"};
        char **dst[] = {&t->pad_token, &t->bos_token, &t->eos_token, &t->unk_token};
        for (int k = 0; k < 4; k++) set_str(dst[k], defs[k]);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(cfg, "word_delimiter_token");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(cfg, "replace_word_delimiter_char");
        if (d && !cJSON_IsNull(d) && !cfg_token(d)) s = am__error(AM_ERR_FORMAT, "%s: 'word_delimiter_token' must be a string", cp);
        else if (r && !cJSON_IsNull(r) && !cJSON_IsString(r)) s = am__error(AM_ERR_FORMAT, "%s: 'replace_word_delimiter_char' must be a string", cp);
        else {
            set_str(&t->word_delim, cfg_token(d) ? cfg_token(d) : "|");
            set_str(&t->word_repl, cJSON_IsString(r) ? r->valuestring : " ");
        }
        if (!s) s = tk_json_bool(cfg, "do_lower_case", false, &t->ctc_lower, cp, "tokenizer config");
        /* the delimiter is a special-looking token of its own */
        if (!s) s = load_configs(t, dir, NULL);
    }
    free(vj);
    free(cp);
    free(json);
    cJSON_Delete(cfg);
    *out = t;
    return s;
}

/* added_tokens.json of a slow tokenizer's files ({"token": id}): added tokens, not special unless
 * the configs name them so. */
static am_status legacy_added_tokens(am_tokenizer *t, const char *dir) {
    char *p = am__path_join(dir, "added_tokens.json");
    cJSON *a = NULL;
    am_status s = p ? read_json_file(p, &a) : am__error(AM_ERR_NO_MEMORY, "out of memory");
    const cJSON *it;
    if (!s && a) cJSON_ArrayForEach(it, a) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= (1 << 26) ||
            it->valuedouble != (double)(int64_t)it->valuedouble) {
            s = am__error(AM_ERR_FORMAT, "%s: the id of '%s' must be a non-negative integer", p, it->string);
            break;
        }
        if (!it->string[0]) {
            s = am__error(AM_ERR_FORMAT, "%s: an added token is empty", p);
            break;
        }
        if (tk_added_find(&t->added, it->string, strlen(it->string)) >= 0) continue;
        if (!tk_added_add(t, it->string, strlen(it->string), (int32_t)it->valuedouble, false, false, false, false, true)) {
            s = am__error(AM_ERR_NO_MEMORY, "out of memory");
            break;
        }
    }
    cJSON_Delete(a);
    free(p);
    return s;
}

am_tokenizer *am_tokenizer_from_pretrained(const char *path) {
    if (!path) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_tokenizer_from_pretrained: path is NULL");
        return NULL;
    }
    char *dir = NULL, *json_path = NULL;
    if (am__is_dir(path)) {
        dir = strdup(path);
        json_path = am__path_join(path, "tokenizer.json");
    } else if (am__is_file(path)) {
        json_path = strdup(path);
        const char *slash = strrchr(path, '/');
        dir = slash ? strndup(path, (size_t)(slash - path) + 1) : strdup(".");
    } else { /* a hub id: fetch the tokenizer files into the cache */
        am__hub_opts ho = am__hub_opts_default();
        if (am__hub_resolve(path, &ho, AM__HUB_TOKENIZER, NULL, NULL, &dir) != AM_OK) return NULL;
        json_path = am__path_join(dir, "tokenizer.json");
    }
    am_tokenizer *t = NULL;
    cJSON *cfg = NULL;
    am_status s = AM_OK;
    g_set_str_failed = false;
    if (!dir || !json_path) {
        s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        goto fail;
    }
    if (is_ctc_class(dir, &s)) {
        if (s || (s = legacy_ctc(&t, dir))) goto fail;
    } else if (s) {
        goto fail;
    } else if (am__is_file(json_path)) {
        char *buf;
        size_t len;
        if ((s = am__read_file(json_path, &buf, &len))) goto fail;
        t = tok_new(json_path);
        if (!t || !t->origin) {
            free(buf);
            s = am__error(AM_ERR_NO_MEMORY, "out of memory");
            goto fail;
        }
        s = load_tokenizer_json(t, buf, len);
        free(buf);
        if (s) goto fail;
        if (t->model->type == TK_M_WORDPIECE) t->has_type_ids = true;
        if ((s = load_configs(t, dir, NULL))) goto fail;
    } else {
        char *vt = am__path_join(dir, "vocab.txt"), *vj = am__path_join(dir, "vocab.json"), *mt = am__path_join(dir, "merges.txt");
        char *cp = am__path_join(dir, "tokenizer_config.json");
        if (!vt || !vj || !mt || !cp) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        if (!s) s = read_json_file(cp, &cfg);
        if (!s) {
            if (am__is_file(vt)) {
                t = tok_new(vt);
                s = t && t->origin ? legacy_bert(t, vt, cfg) : am__error(AM_ERR_NO_MEMORY, "out of memory");
            } else if (am__is_file(vj) && am__is_file(mt)) {
                t = tok_new(vj);
                s = t && t->origin ? legacy_bpe(t, vj, mt, cfg) : am__error(AM_ERR_NO_MEMORY, "out of memory");
                if (!s) s = legacy_added_tokens(t, dir);
            } else {
                s = am__error(AM_ERR_NOT_FOUND, "%s: no tokenizer.json, vocab.txt or vocab.json + merges.txt", path);
            }
        }
        free(vt);
        free(vj);
        free(mt);
        free(cp);
        if (!s) s = load_configs(t, dir, NULL);
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(cfg, "tokenizer_class");
        if (!s && t->model->type == TK_M_BPE && cJSON_IsString(cls) && !strcmp(cls->valuestring, "WhisperTokenizer"))
            s = whisper_template(t, cfg, "tokenizer_config.json");
        if (s) goto fail;
    }
    if (!tk_added_build(t) || g_set_str_failed) {
        s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", t->origin);
        goto fail;
    }
    free(dir);
    free(json_path);
    cJSON_Delete(cfg);
    return t;
fail:
    (void)s;
    free(dir);
    free(json_path);
    cJSON_Delete(cfg);
    am_tokenizer_free(t);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* encoding                                                                                    */
/* ------------------------------------------------------------------------------------------ */

am_encode_options am_encode_options_default(void) {
    am_encode_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.add_special_tokens = true;
    o.pad_id = -1;
    return o;
}

am_decode_options am_decode_options_default(void) {
    am_decode_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.clean_up_tokenization_spaces = -1;
    return o;
}

/* One sequence through added tokens, normalizer, pre-tokenizer and model. */
static am_encoding *encode_seq(tk_ctx *c, const am_tokenizer *t, const char *text, size_t len, int32_t type_id) {
    unsigned long e0 = am__error_serial(); /* a failure without its own message is out of memory */
    am_encoding *e = tk_enc_new();
    if (!e) goto fail;
    if (!len) return e;
    tk_ns ns = tk_ns_from(c, text, (uint32_t)len, 0);
    tk_splitv *raw = &c->sv[1], *cur = &c->sv[0];
    raw->n = 0;
    cur->n = 0;
    if (!tk_added_split(c, &t->added, &t->added.raw, &ns, raw)) goto fail;
    for (size_t i = 0; i < raw->n; i++) {
        tk_split sp = raw->v[i];
        if (sp.added_id >= 0) {
            if (!tk_split_push(c, cur, &sp)) goto fail;
            continue;
        }
        if (t->normalizer && !tk_norm_apply(c, t->normalizer, &sp.ns)) goto fail;
        if (!sp.ns.len) continue;
        if (!tk_added_split(c, &t->added, &t->added.norm, &sp.ns, cur)) goto fail;
    }
    if (t->pretok && !tk_pretok_apply(c, t->pretok, &cur)) goto fail;
    c->tn = 0;
    for (size_t i = 0; i < cur->n; i++) {
        tk_split *sp = &cur->v[i];
        sp->tok0 = (uint32_t)c->tn;
        if (sp->added_id >= 0) {
            if (!tk_tok_push(c, sp->added_id, 0, sp->ns.len, sp->ns.s, sp->ns.len)) goto fail;
        } else if (!tk_model_tokenize(c, t->model, sp->ns.s, sp->ns.len))
            goto fail;
        sp->ntok = (uint32_t)(c->tn - sp->tok0);
    }
    /* byte -> char index of the input, for character offsets */
    uint32_t *cmap = tk_alloc(&c->arena, (len + 1) * sizeof *cmap);
    if (!cmap) goto fail;
    uint32_t ch = 0;
    for (size_t i = 0; i < len;) {
        uint8_t b = (uint8_t)text[i];
        int l = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
        for (int k = 0; k < l && i + (size_t)k < len; k++) cmap[i + (size_t)k] = ch;
        i += (size_t)l;
        ch++;
    }
    for (size_t i = 0; i < cur->n; i++) {
        tk_split *sp = &cur->v[i];
        for (uint32_t k = 0; k < sp->ntok; k++) {
            tk_tok *tk = &c->tv[sp->tok0 + k];
            uint32_t os, oe;
            tk_ns_convert(&sp->ns, tk->s, tk->e, &os, &oe);
            if (os < len) {
                uint32_t cs = cmap[os], ce;
                if (oe < len) ce = cmap[oe];
                else ce = (oe >= 1 && oe - 1 < len ? cmap[oe - 1] : cs + 1) + 1;
                os = cs;
                oe = ce;
            }
            const char *v = tk->v;
            uint32_t vl = tk->vlen;
            if (!tk_enc_push(e, tk->id, v, vl, os, oe, (int32_t)i, type_id, 0, 0, 1)) goto fail;
        }
    }
    if (c->oom) goto fail;
    return e;
fail:
    if (c->oom || am__error_serial() == e0) am__error(AM_ERR_NO_MEMORY, "%s: out of memory while encoding", t->origin);
    am_encoding_free(e);
    return NULL;
}

static am_status truncate_pair(am_encoding *e1, am_encoding *e2, size_t max_len, am_truncation strat, size_t stride, bool left) {
    if (max_len == 0) {
        tk_enc_truncate(e1, 0, left);
        if (e2) tk_enc_truncate(e2, 0, left);
        return AM_OK;
    }
    size_t total = e1->n + (e2 ? e2->n : 0);
    if (total <= max_len) return AM_OK;
    size_t to_remove = total - max_len;
    if (strat == AM_TRUNCATION_LONGEST_FIRST) {
        if (e2) {
            size_t n1 = e1->n, n2 = e2->n;
            bool swap = false;
            if (n1 > n2) {
                swap = true;
                size_t x = n1;
                n1 = n2;
                n2 = x;
            }
            if (n1 > max_len) n2 = n1;
            else n2 = n1 > max_len - n1 ? n1 : max_len - n1;
            if (n1 + n2 > max_len) {
                n1 = max_len / 2;
                n2 = n1 + max_len % 2;
            }
            if (swap) {
                size_t x = n1;
                n1 = n2;
                n2 = x;
            }
            if ((n1 < e1->n && stride >= n1) || (n2 < e2->n && stride >= n2))
                return am__error(AM_ERR_INVALID_ARGUMENT, "Truncation error: stride %zu must be less than the truncated length", stride);
            tk_enc_truncate(e1, n1, left);
            tk_enc_truncate(e2, n2, left);
        } else {
            if (stride >= total - to_remove)
                return am__error(AM_ERR_INVALID_ARGUMENT, "Truncation error: stride %zu must be less than max_length %zu", stride, max_len);
            tk_enc_truncate(e1, total - to_remove, left);
        }
        return AM_OK;
    }
    am_encoding *target = strat == AM_TRUNCATION_ONLY_FIRST ? e1 : e2;
    if (!target) return am__error(AM_ERR_INVALID_ARGUMENT, "Truncation error: Second sequence not provided");
    if (target->n > to_remove) {
        if (stride >= target->n - to_remove)
            return am__error(AM_ERR_INVALID_ARGUMENT, "Truncation error: stride %zu must be less than the truncated length", stride);
        tk_enc_truncate(target, target->n - to_remove, left);
        return AM_OK;
    }
    return am__error(AM_ERR_INVALID_ARGUMENT, "Truncation error: Sequence to truncate too short to respect the provided max_length");
}

typedef struct resolved {
    bool add_special;
    am_truncation trunc;
    size_t max_length, stride;
    bool trunc_left;
    am_padding padding;
    size_t pad_multiple, pad_length;
    bool pad_left;
    int32_t pad_id, pad_type;
    const char *pad_token;
} resolved;

static am_status resolve(const am_tokenizer *t, const am_encode_options *opts, resolved *r) {
    am_encode_options d = am_encode_options_default();
    memset(r, 0, sizeof *r);
    am_status ost = AM__OPTS_IN(d, opts, "am_encode_options");
    if (ost) return ost;
    if (t->ctc && t->ctc_lower)
        return am__error(AM_ERR_UNSUPPORTED, "%s: encoding with a Wav2Vec2CTCTokenizer whose do_lower_case is true (text.upper()) is not "
                         "implemented; decoding is", t->origin);
    const am_encode_options *o = &d;
    r->add_special = o->add_special_tokens;
    r->trunc = o->truncation;
    r->stride = o->stride;
    size_t mml = t->model_max_length >= (int64_t)(SIZE_MAX / 4) ? 0 : (size_t)t->model_max_length;
    r->max_length = o->max_length ? o->max_length : mml;
    if (r->trunc != AM_TRUNCATION_NONE && !o->max_length && !mml) r->trunc = AM_TRUNCATION_NONE; /* no limit known */
    r->trunc_left = o->truncation_side == AM_SIDE_LEFT || (o->truncation_side == AM_SIDE_DEFAULT && t->truncation_side == 1);
    r->padding = o->padding;
    r->pad_multiple = o->pad_to_multiple_of;
    r->pad_left = o->padding_side == AM_SIDE_LEFT || (o->padding_side == AM_SIDE_DEFAULT && t->padding_side == 1);
    r->pad_type = o->pad_type_id;
    if (r->padding == AM_PADDING_MAX_LENGTH) {
        r->pad_length = o->pad_length ? o->pad_length : o->max_length ? o->max_length : mml;
        if (!r->pad_length) r->padding = AM_PADDING_LONGEST;
    }
    if (r->padding != AM_PADDING_NONE) {
        const char *pt = o->pad_token;
        if (!pt) pt = t->pad_token;
        if (!pt) pt = t->json_pad_token;
        if (!pt && o->pad_id < 0) {
            static const char *guesses[] = {"[PAD]", "<pad>"};
            for (int k = 0; k < 2 && !pt; k++)
                if (am_tokenizer_token_to_id(t, guesses[k]) >= 0) pt = guesses[k];
        }
        if (!pt)
            return am__error(AM_ERR_INVALID_ARGUMENT, "%s: asking to pad but the tokenizer does not have a padding token; set "
                             "%s (for example to the eos token)", t->origin, am__opt_name("pad_token", "--pad-token"));
        r->pad_token = pt;
        r->pad_id = o->pad_token && o->pad_id >= 0 ? o->pad_id : am_tokenizer_token_to_id(t, pt);
        if (o->pad_id >= 0 && !o->pad_token) r->pad_id = o->pad_id;
        if (r->pad_id < 0) return am__error(AM_ERR_INVALID_ARGUMENT, "%s: pad token '%s' is not in the vocabulary", t->origin, pt);
    }
    return AM_OK;
}

static am_encoding *encode_full(tk_ctx *c, const am_tokenizer *t, const char *a, size_t la, const char *b, size_t lb,
                                const resolved *r) {
    unsigned long e0 = am__error_serial(); /* a failure without its own message is out of memory */
    size_t bad = tk_utf8_invalid_at(a, la);
    if (bad != SIZE_MAX || (b && (bad = tk_utf8_invalid_at(b, lb)) != SIZE_MAX)) {
        am__error(AM_ERR_INVALID_ARGUMENT, "%s: input text is not valid UTF-8 (byte %zu%s)", t->origin, bad, b && tk_utf8_invalid_at(a, la) == SIZE_MAX ? " of the second text" : "");
        return NULL;
    }
    if (la > UINT32_MAX / 4 || lb > UINT32_MAX / 4) {
        am__error(AM_ERR_INVALID_ARGUMENT, "%s: input text too long (%zu bytes)", t->origin, la > lb ? la : lb);
        return NULL;
    }
    tk_arena_reset(&c->arena);
    am_encoding *e1 = encode_seq(c, t, a, la, 0);
    if (!e1) return NULL;
    am_encoding *e2 = NULL;
    if (b && !(e2 = encode_seq(c, t, b, lb, 1))) {
        am_encoding_free(e1);
        return NULL;
    }
    if (r->trunc != AM_TRUNCATION_NONE) {
        size_t added = r->add_special && t->post ? tk_pp_added(t->post, e2 != NULL) : 0;
        am_status s = AM_OK;
        if (added > r->max_length)
            s = am__error(AM_ERR_INVALID_ARGUMENT, "Truncation error: max_length %zu is smaller than the %zu special tokens to add", r->max_length, added);
        if (!s) s = truncate_pair(e1, e2, r->max_length - added, r->trunc, r->stride, r->trunc_left);
        if (s) {
            am_encoding_free(e1);
            am_encoding_free(e2);
            return NULL;
        }
    }
    tk_encl l = {0};
    am_encoding *list_init[2] = {e1, e2};
    l.v = malloc(2 * sizeof *l.v);
    if (!l.v) {
        am_encoding_free(e1);
        am_encoding_free(e2);
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    l.cap = 2;
    for (int k = 0; k < 2; k++)
        if (list_init[k]) l.v[l.n++] = list_init[k];
    bool ok = true;
    if (t->post) {
        for (size_t i = 0; i < l.n; i++) {
            for (size_t k = 0; k < l.v[i]->n; k++) l.v[i]->seq_ids[k] = (int32_t)i;
            l.v[i]->has_ranges = true;
        }
        ok = tk_pp_process(t->post, &l, r->add_special);
    } else if (l.n > 1) {
        for (size_t i = 0; i < l.n; i++) {
            for (size_t k = 0; k < l.v[i]->n; k++) l.v[i]->seq_ids[k] = (int32_t)i;
            l.v[i]->has_ranges = true;
        }
    }
    am_encoding *fin = NULL;
    if (ok && l.n == 1) {
        fin = l.v[0];
        l.v[0] = NULL;
    } else if (ok) {
        fin = tk_enc_new();
        ok = fin != NULL;
        for (size_t i = 0; i < l.n && ok; i++) {
            ok = tk_enc_append(fin, l.v[i]);
            if (l.v[i]->has_ranges) fin->has_ranges = true;
        }
        if (!l.n && fin) fin->has_ranges = true;
    }
    for (size_t i = 0; i < l.n; i++) am_encoding_free(l.v[i]);
    free(l.v);
    if (!ok) {
        am_encoding_free(fin);
        if (am__error_serial() == e0) am__error(AM_ERR_NO_MEMORY, "%s: out of memory while encoding", t->origin);
        return NULL;
    }
    if (r->padding == AM_PADDING_MAX_LENGTH) {
        size_t len = r->pad_length;
        if (r->pad_multiple && len % r->pad_multiple) len += r->pad_multiple - len % r->pad_multiple;
        if (!tk_enc_pad(fin, len, r->pad_id, r->pad_type, r->pad_token, r->pad_left)) {
            am_encoding_free(fin);
            am__error(AM_ERR_NO_MEMORY, "out of memory");
            return NULL;
        }
    }
    return fin;
}

static am_status pad_batch(am_encoding **encs, size_t n, const resolved *r) {
    if (r->padding != AM_PADDING_LONGEST || !n) return AM_OK;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        if (encs[i] && encs[i]->n > len) len = encs[i]->n;
    if (r->pad_multiple && len % r->pad_multiple) len += r->pad_multiple - len % r->pad_multiple;
    for (size_t i = 0; i < n; i++)
        if (encs[i] && !tk_enc_pad(encs[i], len, r->pad_id, r->pad_type, r->pad_token, r->pad_left))
            return am__error(AM_ERR_NO_MEMORY, "out of memory");
    return AM_OK;
}

am_encoding *am_tokenizer_encode_n(const am_tokenizer *t, const char *text, size_t len, const char *text_pair, size_t pair_len,
                                   const am_encode_options *opts) {
    if (!t || !text) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_tokenizer_encode: tokenizer and text are required");
        return NULL;
    }
    resolved r;
    if (resolve(t, opts, &r)) return NULL;
    tk_ctx c;
    tk_ctx_init(&c);
    unsigned long e0 = am__error_serial();
    am_encoding *e = encode_full(&c, t, text, len, text_pair, pair_len, &r);
    if (!e && am__error_serial() == e0) am__error(AM_ERR_NO_MEMORY, "%s: out of memory while encoding", t->origin);
    tk_ctx_free(&c);
    if (e && pad_batch(&e, 1, &r)) {
        am_encoding_free(e);
        return NULL;
    }
    return e;
}

am_encoding *am_tokenizer_encode(const am_tokenizer *t, const char *text, const char *text_pair, const am_encode_options *opts) {
    return am_tokenizer_encode_n(t, text, text ? strlen(text) : 0, text_pair, text_pair ? strlen(text_pair) : 0, opts);
}

am_status am_tokenizer_encode_batch_n(const am_tokenizer *t, size_t n, const char *const *texts, const size_t *lens,
                                      const char *const *pairs, const size_t *pair_lens, const am_encode_options *opts,
                                      am_encoding **out) {
    if (!t || (n && (!texts || !out))) return am__error(AM_ERR_INVALID_ARGUMENT, "am_tokenizer_encode_batch: missing arguments");
    resolved r;
    am_status s = resolve(t, opts, &r);
    if (s) return s;
    for (size_t i = 0; i < n; i++) out[i] = NULL;
    tk_ctx c;
    tk_ctx_init(&c);
    for (size_t i = 0; i < n && !s; i++) {
        if (!texts[i]) {
            s = am__error(AM_ERR_INVALID_ARGUMENT, "am_tokenizer_encode_batch: text %zu is NULL", i);
            break;
        }
        const char *b = pairs ? pairs[i] : NULL;
        unsigned long e0 = am__error_serial();
        out[i] = encode_full(&c, t, texts[i], lens ? lens[i] : strlen(texts[i]), b, b ? (pair_lens ? pair_lens[i] : strlen(b)) : 0, &r);
        if (!out[i]) s = am__error_serial() != e0 ? am__error_code() : am__error(AM_ERR_NO_MEMORY, "%s: out of memory while encoding", t->origin);
    }
    tk_ctx_free(&c);
    if (!s) s = pad_batch(out, n, &r);
    if (s)
        for (size_t k = 0; k < n; k++) {
            am_encoding_free(out[k]);
            out[k] = NULL;
        }
    return s;
}

am_status am_tokenizer_encode_batch(const am_tokenizer *t, size_t n, const char *const *texts, const char *const *pairs,
                                    const am_encode_options *opts, am_encoding **out) {
    return am_tokenizer_encode_batch_n(t, n, texts, NULL, pairs, NULL, opts, out);
}

size_t am_encoding_len(const am_encoding *e) { return e ? e->n : 0; }
const int32_t *am_encoding_ids(const am_encoding *e) { return e->ids; }
const int32_t *am_encoding_type_ids(const am_encoding *e) { return e->type_ids; }
const uint8_t *am_encoding_attention_mask(const am_encoding *e) { return e->attn; }
const uint8_t *am_encoding_special_tokens_mask(const am_encoding *e) { return e->special; }
const int32_t *am_encoding_word_ids(const am_encoding *e) { return e->word_ids; }
const int32_t *am_encoding_sequence_ids(const am_encoding *e) { return e->seq_ids; }
const char *am_encoding_token(const am_encoding *e, size_t i) { return i < e->n ? tk_enc_token(e, i) : NULL; }
const char *am_encoding_token_n(const am_encoding *e, size_t i, size_t *len) {
    if (i >= e->n) return NULL;
    if (len) *len = tk_enc_token_len(e, i);
    return tk_enc_token(e, i);
}
void am_encoding_offsets(const am_encoding *e, size_t i, size_t *start, size_t *end) {
    if (i >= e->n) {
        *start = *end = 0;
        return;
    }
    *start = e->offs[2 * i];
    *end = e->offs[2 * i + 1];
}

am_tensors *am_encodings_to_tensors(const am_tokenizer *t, am_encoding *const *encs, size_t n) {
    if (!t || !encs || !n) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_encodings_to_tensors: no encodings");
        return NULL;
    }
    size_t len = encs[0]->n;
    for (size_t i = 1; i < n; i++)
        if (encs[i]->n != len) {
            am__error(AM_ERR_SHAPE, "%s: encodings have different lengths (%zu and %zu): pad them to make a tensor (%s)", t->origin, len,
                      encs[i]->n, am__opt_name("padding=True", "--padding"));
            return NULL;
        }
    int64_t shape[2] = {(int64_t)n, (int64_t)len};
    const char *names[3] = {"input_ids", "attention_mask", "token_type_ids"};
    int nt = t->has_type_ids ? 3 : 2;
    am_tensors *ts = am_tensors_new();
    if (!ts) return NULL;
    for (int k = 0; k < nt; k++) {
        am_tensor *x = am_tensor_new(AM_I64, 2, shape);
        if (!x) {
            am_tensors_free(ts);
            return NULL;
        }
        int64_t *d = am_tensor_data(x);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < len; j++)
                d[i * len + j] = k == 0 ? encs[i]->ids[j] : k == 1 ? encs[i]->attn[j] : encs[i]->type_ids[j];
        am_status s = am_tensors_set(ts, names[k], x);
        am_tensor_free(x);
        if (s) {
            am_tensors_free(ts);
            return NULL;
        }
    }
    return ts;
}

am_tensors *am_tokenizer_encode_tensors(const am_tokenizer *t, size_t n, const char *const *texts, const char *const *pairs,
                                        const am_encode_options *opts) {
    am_encode_options d = am_encode_options_default();
    if (!opts) {
        d.padding = AM_PADDING_LONGEST;
        opts = &d;
    }
    am_encoding **encs = calloc(n ? n : 1, sizeof *encs);
    if (!encs) {
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    am_tensors *ts = NULL;
    if (!am_tokenizer_encode_batch(t, n, texts, pairs, opts, encs)) ts = am_encodings_to_tensors(t, encs, n);
    for (size_t i = 0; i < n; i++) am_encoding_free(encs[i]);
    free(encs);
    return ts;
}

/* ------------------------------------------------------------------------------------------ */
/* decoding and vocabulary                                                                     */
/* ------------------------------------------------------------------------------------------ */

const char *am_tokenizer_id_to_token(const am_tokenizer *t, int32_t id) {
    const tk_added_tok *a = tk_added_by_id(&t->added, id);
    if (a) return a->content;
    return tk_model_id_to_token(t->model, id);
}

int32_t am_tokenizer_token_to_id(const am_tokenizer *t, const char *tok) {
    size_t l = strlen(tok);
    int32_t id = tk_added_find(&t->added, tok, l);
    return id >= 0 ? id : tk_model_token_to_id(t->model, tok, l);
}

size_t am_tokenizer_vocab_size(const am_tokenizer *t) {
    size_t n = t->model->vocab.n;
    for (size_t i = 0; i < t->added.n; i++)
        if (!tk_model_id_to_token(t->model, t->added.v[i].id)) n++;
    return n;
}

const char *am_tokenizer_pad_token(const am_tokenizer *t) { return t->pad_token ? t->pad_token : t->json_pad_token; }
const char *am_tokenizer_bos_token(const am_tokenizer *t) { return t->bos_token; }
const char *am_tokenizer_eos_token(const am_tokenizer *t) { return t->eos_token; }
int64_t am_tokenizer_model_max_length(const am_tokenizer *t) { return t->model_max_length; }

char *am_tokenizer_decode_n(const am_tokenizer *t, const int32_t *ids, size_t n, const am_decode_options *opts, size_t *lenp) {
    am_decode_options d = am_decode_options_default();
    if (AM__OPTS_IN(d, opts, "am_decode_options")) return NULL;
    opts = &d;
    if (!t || (n && !ids)) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_tokenizer_decode: missing arguments");
        return NULL;
    }
    if (t->ctc) {
        char *txt = NULL;
        if (am__ctc_decode(t, ids, n, opts->skip_special_tokens, opts->clean_up_tokenization_spaces, 0, &txt, NULL, NULL)) return NULL;
        if (lenp) *lenp = strlen(txt);
        return txt;
    }
    tk_strv v = {0};
    for (size_t i = 0; i < n; i++) {
        const char *tok = am_tokenizer_id_to_token(t, ids[i]);
        if (!tok) continue;
        if (opts->skip_special_tokens) {
            int32_t idx = tk_strmap_get(&t->added.by_content, tok, strlen(tok));
            if (idx >= 0 && t->added.v[idx].special) continue;
        }
        if (!tk_strv_push(&v, tok, strlen(tok))) goto oom;
    }
    if (t->decoder && v.n && !tk_dec_chain(t->decoder, &v)) goto oom;
    size_t total = 0;
    for (size_t i = 0; i < v.n; i++) total += v.len[i] + 1;
    char *out = malloc(total + 1);
    if (!out) goto oom;
    size_t j = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (i && !t->decoder) out[j++] = ' ';
        memcpy(out + j, v.s[i], v.len[i]);
        j += v.len[i];
    }
    out[j] = 0;
    tk_strv_free(&v);
    bool clean = opts->clean_up_tokenization_spaces < 0 ? t->clean_up_spaces : opts->clean_up_tokenization_spaces > 0;
    if (clean) tk_cleanup_tokenization(out, &j);
    if (lenp) *lenp = j;
    return out;
oom:
    tk_strv_free(&v);
    am__error(AM_ERR_NO_MEMORY, "out of memory");
    return NULL;
}

char *am_tokenizer_decode(const am_tokenizer *t, const int32_t *ids, size_t n, const am_decode_options *opts) {
    return am_tokenizer_decode_n(t, ids, n, opts, NULL);
}
