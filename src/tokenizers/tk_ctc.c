/* tokenizers/tk_ctc.c — Wav2Vec2CTCTokenizer (transformers 4.32): a character vocabulary
 * (vocab.json, or one language of a nested one with `target_lang`), the word delimiter token
 * ("|") standing for spaces, and the CTC decode: repeated tokens grouped, the pad token (the CTC
 * blank) dropped, the delimiter replaced by `replace_word_delimiter_char`, with character and
 * word offsets in logit frames for the speech-recognition pipeline's timestamps.
 *
 * Encoding (`_tokenize`: spaces -> delimiter, one token per character, tokens of several
 * characters kept whole) is expressed as a tokenizer.json pipeline (Replace normalizer, a Split
 * per character, WordLevel with <unk>) so it goes through the shared encoder. */
#include "core/error.h"
#include "core/json.h"
#include "core/util.h"
#include "tokenizers/asr.h"
#include "tokenizers/tk.h"
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

bool am__tok_is_ctc(const am_tokenizer *t) { return t && t->ctc; }

void am__asr_pieces_free(am__asr_piece *p, size_t n) {
    for (size_t i = 0; p && i < n; i++) {
        free(p[i].text);
        free(p[i].language);
    }
    free(p);
}

static const char *cfg_str(const cJSON *cfg, const char *key, const char *dflt, const char *origin, am_status *s) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v)) return dflt;
    if (cJSON_IsString(v)) return v->valuestring;
    const cJSON *c = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "content") : NULL;
    if (cJSON_IsString(c)) return c->valuestring;
    if (!*s) *s = am__error(AM_ERR_FORMAT, "%s: '%s' must be a string", origin, key);
    return dflt;
}

am_status tk_ctc_json(const char *vocab_path, const char *cfg_path, const cJSON *cfg, char **json_out) {
    *json_out = NULL;
    am_status s = AM_OK;
    const char *delim = cfg_str(cfg, "word_delimiter_token", "|", cfg_path, &s);
    const char *unk = cfg_str(cfg, "unk_token", "<unk>", cfg_path, &s);
    const char *lang = cfg_str(cfg, "target_lang", NULL, cfg_path, &s);
    if (s) return s;
    char *buf;
    size_t len;
    if ((s = am__read_file(vocab_path, &buf, &len))) return s;
    cJSON *all = NULL;
    s = am__json_parse(buf, len, vocab_path, &all);
    free(buf);
    if (s) return s;
    cJSON *vocab = all;
    if (!s && !cJSON_IsObject(all)) s = am__error(AM_ERR_FORMAT, "%s: must be an object of token -> id", vocab_path);
    if (!s && lang) {
        vocab = cJSON_GetObjectItemCaseSensitive(all, lang);
        if (!cJSON_IsObject(vocab)) s = am__error(AM_ERR_FORMAT, "%s: target_lang '%s' has no vocabulary object in it", vocab_path, lang);
    }
    const cJSON *it;
    if (!s) cJSON_ArrayForEach(it, vocab) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= (1 << 26) ||
            it->valuedouble != (double)(int64_t)it->valuedouble) {
            s = am__error(AM_ERR_FORMAT, "%s: the id of '%s' must be a non-negative integer%s", vocab_path, it->string,
                          cJSON_IsObject(it) && !lang ? " (a vocabulary per language needs target_lang in tokenizer_config.json)" : "");
            break;
        }
    }
    cJSON *j = s ? NULL : cJSON_CreateObject();
    if (!s && !j) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    if (!s) {
        cJSON *norm = cJSON_AddObjectToObject(j, "normalizer");
        cJSON_AddStringToObject(norm, "type", "Replace");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(norm, "pattern"), "String", " ");
        cJSON_AddStringToObject(norm, "content", delim);
        cJSON *pre = cJSON_AddObjectToObject(j, "pre_tokenizer");
        cJSON_AddStringToObject(pre, "type", "Split");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(pre, "pattern"), "Regex", "[\\s\\S]");
        cJSON_AddStringToObject(pre, "behavior", "Isolated");
        cJSON_AddBoolToObject(pre, "invert", false);
        cJSON *model = cJSON_AddObjectToObject(j, "model");
        cJSON_AddStringToObject(model, "type", "WordLevel");
        cJSON_AddItemToObject(model, "vocab", cJSON_Duplicate(vocab, true));
        cJSON_AddStringToObject(model, "unk_token", unk);
        /* tokens of several characters are never split (unique_no_split_tokens) */
        cJSON *added = cJSON_AddArrayToObject(j, "added_tokens");
        cJSON_ArrayForEach(it, vocab) {
            size_t ncp = 0;
            for (const char *q = it->string; *q; q++) ncp += ((unsigned char)*q & 0xC0) != 0x80;
            if (ncp <= 1) continue; /* len(token) > 1 in Python */
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", it->valuedouble);
            cJSON_AddStringToObject(a, "content", it->string);
            cJSON_AddBoolToObject(a, "single_word", false);
            cJSON_AddBoolToObject(a, "lstrip", false);
            cJSON_AddBoolToObject(a, "rstrip", false);
            cJSON_AddBoolToObject(a, "normalized", false);
            cJSON_AddBoolToObject(a, "special", false);
            cJSON_AddItemToArray(added, a);
        }
        *json_out = cJSON_PrintUnformatted(j);
        if (!*json_out) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    cJSON_Delete(j);
    cJSON_Delete(all);
    return s;
}

/* Python's str.isspace for stripping */
static bool py_space(uint32_t c) { return tk_is_whitespace(c) || (c >= 0x1C && c <= 0x1F); }

static bool is_special_id(const am_tokenizer *t, int32_t id) {
    const tk_added_tok *a = tk_added_by_id(&t->added, id);
    return a && a->special;
}

am_status am__ctc_decode(const am_tokenizer *t, const int32_t *ids, size_t n, bool skip_special, int clean, int offsets,
                         char **text, am__asr_piece **pieces, size_t *n_pieces) {
    *text = NULL;
    if (pieces) *pieces = NULL;
    if (n_pieces) *n_pieces = 0;
    if (!t || !t->ctc) return am__error(AM_ERR_INVALID_ARGUMENT, "am__ctc_decode: not a Wav2Vec2CTCTokenizer");
    const char *pad = t->pad_token ? t->pad_token : "";
    const char *delim = t->word_delim ? t->word_delim : "|";
    const char *repl = t->word_repl ? t->word_repl : " ";
    /* convert_ids_to_tokens(skip_special_tokens) */
    const char **toks = malloc((n ? n : 1) * sizeof *toks);
    size_t *rep = malloc((n ? n : 1) * sizeof *rep);
    am__asr_piece *ch = NULL, *wd = NULL;
    size_t nt = 0, ng = 0, nch = 0, nwd = 0;
    am__buf b = {0};
    am_status s = toks && rep ? AM_OK : am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n && !s; i++) {
        if (skip_special && is_special_id(t, ids[i])) continue;
        const char *tok = am_tokenizer_id_to_token(t, ids[i]);
        toks[nt++] = tok ? tok : (t->unk_token ? t->unk_token : "");
    }
    /* group repeats: toks[0..ng) become the distinct runs, rep[] their lengths */
    for (size_t i = 0; i < nt && !s; i++) {
        if (ng && !strcmp(toks[ng - 1], toks[i])) rep[ng - 1]++;
        else {
            toks[ng] = toks[i];
            rep[ng++] = 1;
        }
    }
    if (!s && offsets && ng) {
        ch = calloc(ng, sizeof *ch);
        if (!ch) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    size_t pos = 0;
    for (size_t i = 0; i < ng && !s; i++) {
        size_t st = pos;
        pos += rep[i];
        if (!strcmp(toks[i], pad)) continue;
        const char *c = !strcmp(toks[i], delim) ? repl : toks[i];
        am__buf_puts(&b, c);
        if (ch) {
            ch[nch].text = am__strdup(c);
            ch[nch].start_offset = (int64_t)st;
            ch[nch].end_offset = (int64_t)pos;
            ch[nch].t0 = ch[nch].t1 = 0;
            if (!ch[nch++].text) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        }
    }
    if (!s && b.failed) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    if (!s && offsets == 2 && nch) { /* _get_word_offsets(char_offsets, replace_word_delimiter_char) */
        wd = calloc(nch, sizeof *wd);
        am__buf w = {0};
        bool last_space = true;
        int64_t ws = 0, we = 0;
        if (!wd) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        for (size_t i = 0; i < nch && !s; i++) {
            bool space = !strcmp(ch[i].text, repl);
            if (space == last_space) {
                we = ch[i].end_offset;
                am__buf_puts(&w, ch[i].text);
            } else if (space) {
                am__buf_put(&w, "", 1);
                wd[nwd].text = w.failed ? NULL : am__strdup(w.data ? w.data : "");
                wd[nwd].start_offset = ws;
                wd[nwd].end_offset = we;
                if (!wd[nwd++].text) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
            } else {
                ws = ch[i].start_offset;
                we = ch[i].end_offset;
                w.len = 0;
                am__buf_puts(&w, ch[i].text);
            }
            last_space = space;
        }
        if (!s && !last_space) {
            am__buf_put(&w, "", 1);
            wd[nwd].text = w.failed ? NULL : am__strdup(w.data ? w.data : "");
            wd[nwd].start_offset = ws;
            wd[nwd].end_offset = we;
            if (!wd[nwd++].text) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        }
        am__buf_free(&w);
    }
    char *out = NULL;
    if (!s) {
        am__buf_put(&b, "", 1);
        out = b.failed ? NULL : am__buf_take(&b);
        if (!out) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    if (!s) {
        /* strip */
        size_t len = strlen(out), a = 0, e = len;
        while (a < e) {
            uint32_t cp;
            int k = tk_utf8_dec(out + a, &cp);
            if (!py_space(cp)) break;
            a += (size_t)k;
        }
        while (e > a) {
            size_t q = e - 1;
            while (q > a && ((unsigned char)out[q] & 0xC0) == 0x80) q--;
            uint32_t cp;
            tk_utf8_dec(out + q, &cp);
            if (!py_space(cp)) break;
            e = q;
        }
        memmove(out, out + a, e - a);
        len = e - a;
        out[len] = 0;
        if (t->ctc_lower) { /* str.lower() */
            am__buf lb = {0};
            for (size_t i = 0; i < len;) {
                uint32_t cp;
                i += (size_t)tk_utf8_dec(out + i, &cp);
                char enc[4];
                int k = tk_utf8_enc((uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), enc);
                am__buf_put(&lb, enc, (size_t)k);
            }
            am__buf_put(&lb, "", 1);
            char *lo = lb.failed ? NULL : am__buf_take(&lb);
            am__buf_free(&lb);
            free(out);
            out = lo;
            if (!out) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
            else len = strlen(out);
        }
        bool cl = clean < 0 ? t->clean_up_spaces : clean > 0;
        if (!s && cl) tk_cleanup_tokenization(out, &len);
    }
    am__buf_free(&b);
    free(toks);
    free(rep);
    if (s) {
        free(out);
        am__asr_pieces_free(ch, nch);
        am__asr_pieces_free(wd, nwd);
        return s;
    }
    *text = out;
    if (offsets == 2) {
        am__asr_pieces_free(ch, nch);
        ch = wd;
        nch = nwd;
    } else
        am__asr_pieces_free(wd, nwd);
    if (pieces) *pieces = ch;
    else am__asr_pieces_free(ch, nch);
    if (n_pieces) *n_pieces = pieces ? nch : 0;
    return AM_OK;
}
