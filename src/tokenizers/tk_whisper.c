/* tokenizers/tk_whisper.c — WhisperTokenizer._decode_asr of transformers 4.32, the step of the
 * speech-recognition pipeline that turns Whisper's generated tokens (one sequence per audio
 * chunk) into text and timestamped chunks:
 *  - special tokens are skipped, except that a language token sets the current chunk's language
 *    (and, without timestamps, a change of language closes a chunk);
 *  - timestamp tokens (ids above <|notimestamps|>) open and close chunks; their time is
 *    (id - first timestamp id) * time_precision plus the chunk's offset in the audio, rounded to
 *    2 decimals; timestamps inside a chunk's right stride are skipped (in pairs), and so are those
 *    before the left stride of a chunk that continues earlier text;
 *  - the text tokens of consecutive chunks are merged by _find_longest_common_sequence: the best
 *    sliding alignment of the left sequence's tail against the right sequence's head, cut in the
 *    middle of the overlap.
 * Word-level timestamps (cross-attention alignment) are not implemented; the pipeline refuses them. */
#include "core/error.h"
#include "core/util.h"
#include "tokenizers/asr.h"
#include "tokenizers/tk.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* transformers 4.32's LANGUAGES (code -> name) */
static const char *const k_langs[][2] = {
    {"en", "english"}, {"zh", "chinese"}, {"de", "german"}, {"es", "spanish"}, {"ru", "russian"}, {"ko", "korean"},
    {"fr", "french"}, {"ja", "japanese"}, {"pt", "portuguese"}, {"tr", "turkish"}, {"pl", "polish"}, {"ca", "catalan"},
    {"nl", "dutch"}, {"ar", "arabic"}, {"sv", "swedish"}, {"it", "italian"}, {"id", "indonesian"}, {"hi", "hindi"},
    {"fi", "finnish"}, {"vi", "vietnamese"}, {"he", "hebrew"}, {"uk", "ukrainian"}, {"el", "greek"}, {"ms", "malay"},
    {"cs", "czech"}, {"ro", "romanian"}, {"da", "danish"}, {"hu", "hungarian"}, {"ta", "tamil"}, {"no", "norwegian"},
    {"th", "thai"}, {"ur", "urdu"}, {"hr", "croatian"}, {"bg", "bulgarian"}, {"lt", "lithuanian"}, {"la", "latin"},
    {"mi", "maori"}, {"ml", "malayalam"}, {"cy", "welsh"}, {"sk", "slovak"}, {"te", "telugu"}, {"fa", "persian"},
    {"lv", "latvian"}, {"bn", "bengali"}, {"sr", "serbian"}, {"az", "azerbaijani"}, {"sl", "slovenian"}, {"kn", "kannada"},
    {"et", "estonian"}, {"mk", "macedonian"}, {"br", "breton"}, {"eu", "basque"}, {"is", "icelandic"}, {"hy", "armenian"},
    {"ne", "nepali"}, {"mn", "mongolian"}, {"bs", "bosnian"}, {"kk", "kazakh"}, {"sq", "albanian"}, {"sw", "swahili"},
    {"gl", "galician"}, {"mr", "marathi"}, {"pa", "punjabi"}, {"si", "sinhala"}, {"km", "khmer"}, {"sn", "shona"},
    {"yo", "yoruba"}, {"so", "somali"}, {"af", "afrikaans"}, {"oc", "occitan"}, {"ka", "georgian"}, {"be", "belarusian"},
    {"tg", "tajik"}, {"sd", "sindhi"}, {"gu", "gujarati"}, {"am", "amharic"}, {"yi", "yiddish"}, {"lo", "lao"},
    {"uz", "uzbek"}, {"fo", "faroese"}, {"ht", "haitian creole"}, {"ps", "pashto"}, {"tk", "turkmen"}, {"nn", "nynorsk"},
    {"mt", "maltese"}, {"sa", "sanskrit"}, {"lb", "luxembourgish"}, {"my", "myanmar"}, {"bo", "tibetan"}, {"tl", "tagalog"},
    {"mg", "malagasy"}, {"as", "assamese"}, {"tt", "tatar"}, {"haw", "hawaiian"}, {"ln", "lingala"}, {"ha", "hausa"},
    {"ba", "bashkir"}, {"jw", "javanese"}, {"su", "sundanese"},
};

const char *tk_whisper_language_code(const char *lang) {
    static const char *const aliases[][2] = {{"burmese", "my"},   {"valencian", "ca"}, {"flemish", "nl"},    {"haitian", "ht"},
                                             {"letzeburgesch", "lb"}, {"pushto", "ps"}, {"panjabi", "pa"},   {"moldavian", "ro"},
                                             {"moldovan", "ro"},  {"sinhalese", "si"}, {"castilian", "es"}, {"mandarin", "zh"}};
    char low[32];
    size_t n = strlen(lang);
    if (n >= sizeof low) return NULL;
    for (size_t i = 0; i <= n; i++) low[i] = (char)((lang[i] >= 'A' && lang[i] <= 'Z') ? lang[i] + 32 : lang[i]);
    for (size_t i = 0; i < sizeof k_langs / sizeof k_langs[0]; i++)
        if (!strcmp(low, k_langs[i][1]) || !strcmp(low, k_langs[i][0])) return k_langs[i][0];
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(low, aliases[i][0])) return aliases[i][1];
    return NULL;
}

/* tokenizer.decode([token])[2:-2] looked up in LANGUAGES */
static const char *language_of(const am_tokenizer *t, int32_t id) {
    const char *tok = am_tokenizer_id_to_token(t, id);
    size_t l = tok ? strlen(tok) : 0;
    if (l < 5 || strncmp(tok, "<|", 2) || strcmp(tok + l - 2, "|>")) return NULL;
    for (size_t i = 0; i < sizeof k_langs / sizeof k_langs[0]; i++)
        if (strlen(k_langs[i][0]) == l - 4 && !strncmp(tok + 2, k_langs[i][0], l - 4)) return k_langs[i][1];
    return NULL;
}

/* Python's round(x, 2): the double nearest the correctly rounded decimal */
static double round2(double x) {
    char b[64];
    snprintf(b, sizeof b, "%.2f", x);
    return strtod(b, NULL);
}

typedef struct ivec {
    int32_t *v;
    size_t n, cap;
} ivec;
static bool ivec_push(ivec *a, int32_t x) {
    if (a->n == a->cap) {
        size_t c = a->cap ? 2 * a->cap : 16;
        int32_t *p = realloc(a->v, c * sizeof *p);
        if (!p) return false;
        a->v = p;
        a->cap = c;
    }
    a->v[a->n++] = x;
    return true;
}

/* _find_longest_common_sequence over seqs[0..n) into *out */
static bool longest_common(const ivec *seqs, size_t n, ivec *out) {
    out->n = 0;
    if (!n) return true;
    const int32_t *left = seqs[0].v;
    size_t ll = seqs[0].n;
    for (size_t k = 1; k < n; k++) {
        const int32_t *right = seqs[k].v;
        size_t rl = seqs[k].n;
        double best = 0.0;
        size_t bls = ll, ble = ll, brs = 0, bre = 0;
        for (size_t i = 1; i < ll + rl; i++) {
            double eps = (double)i / 10000.0;
            size_t ls = ll > i ? ll - i : 0, le = ll < ll + rl - i ? ll : ll + rl - i;
            size_t rs = i > ll ? i - ll : 0, re = rl < i ? rl : i;
            size_t matches = 0;
            for (size_t q = 0; q < le - ls; q++) matches += left[ls + q] == right[rs + q];
            double matching = (double)matches / (double)i + eps;
            if (matches > 1 && matching > best) {
                best = matching;
                bls = ls, ble = le, brs = rs, bre = re;
            }
        }
        size_t lmid = (ble + bls) / 2, rmid = (bre + brs) / 2;
        for (size_t q = 0; q < lmid; q++)
            if (!ivec_push(out, left[q])) return false;
        left = right + rmid;
        ll = rl - rmid;
    }
    for (size_t q = 0; q < ll; q++)
        if (!ivec_push(out, left[q])) return false;
    return true;
}

typedef struct wchunk {
    const char *language;
    double t0, t1; /* NAN: None */
    char *text;
} wchunk;

typedef struct dstate {
    const am_tokenizer *t;
    ivec *prev; /* previous_tokens: a list of token lists */
    size_t nprev, capprev;
    ivec cur;
    wchunk *chunks;
    size_t nchunks, capchunks;
    wchunk chunk;
} dstate;

static bool prev_push_cur(dstate *d) {
    if (d->nprev == d->capprev) {
        size_t c = d->capprev ? 2 * d->capprev : 8;
        ivec *p = realloc(d->prev, c * sizeof *p);
        if (!p) return false;
        d->prev = p;
        d->capprev = c;
    }
    d->prev[d->nprev++] = d->cur; /* moves the current list */
    memset(&d->cur, 0, sizeof d->cur);
    return true;
}

static void prev_clear(dstate *d) {
    for (size_t i = 0; i < d->nprev; i++) free(d->prev[i].v);
    d->nprev = 0;
}

/* chunk["text"] = decode(_find_longest_common_sequence(previous_tokens)); chunks.append(chunk) */
static am_status resolve_and_close(dstate *d) {
    ivec res = {0};
    if (!longest_common(d->prev, d->nprev, &res)) {
        free(res.v);
        return am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    char *txt = am_tokenizer_decode(d->t, res.v ? res.v : (int32_t[]){0}, res.n, NULL);
    free(res.v);
    if (!txt) return am__error_code();
    if (d->nchunks == d->capchunks) {
        size_t c = d->capchunks ? 2 * d->capchunks : 8;
        wchunk *p = realloc(d->chunks, c * sizeof *p);
        if (!p) {
            free(txt);
            return am__error(AM_ERR_NO_MEMORY, "out of memory");
        }
        d->chunks = p;
        d->capchunks = c;
    }
    d->chunk.text = txt;
    d->chunks[d->nchunks++] = d->chunk;
    return AM_OK;
}

am_status am__whisper_decode_asr(const am_tokenizer *t, const am__asr_seq *seqs, size_t n, bool return_timestamps,
                                 bool return_language, double time_precision, char **text, am__asr_piece **chunks_out,
                                 size_t *n_chunks) {
    *text = NULL;
    *chunks_out = NULL;
    *n_chunks = 0;
    int32_t nts = am_tokenizer_token_to_id(t, "<|notimestamps|>");
    if (nts < 0) return am__error(AM_ERR_INVALID_ARGUMENT, "%s: the Whisper tokenizer has no <|notimestamps|> token", t->origin);
    const int64_t tb = (int64_t)nts + 1;
    dstate d = {.t = t};
    const char *last_language = NULL;
    d.chunk = (wchunk){NULL, NAN, NAN, NULL};
    double time_offset = 0.0;
    bool skip = false;
    am_status s = AM_OK;
    for (size_t c = 0; c < n && !s; c++) {
        const int64_t *tok = seqs[c].tokens;
        size_t nt = seqs[c].n;
        int64_t last_timestamp = 0; /* 0: None (timestamp ids are never 0) */
        double first_timestamp = (double)tb;
        double chunk_len = 0, stride_right = 0;
        if (seqs[c].has_stride) {
            chunk_len = seqs[c].chunk_len;
            double stride_left = seqs[c].stride_left;
            stride_right = seqs[c].stride_right;
            time_offset -= stride_left;
            double right_stride_start = chunk_len - stride_right;
            if (stride_left != 0) first_timestamp = stride_left / time_precision + (double)tb;
            if (stride_right != 0)
                for (size_t i = nt; i-- > 0;)
                    if (tok[i] >= tb) {
                        if (last_timestamp && (double)(tok[i] - tb) * time_precision < right_stride_start) break;
                        last_timestamp = tok[i];
                    }
        }
        for (size_t i = 0; i < nt && !s; i++) {
            int64_t id = tok[i];
            const tk_added_tok *a = id >= 0 && id < INT32_MAX ? tk_added_by_id(&t->added, (int32_t)id) : NULL;
            if (a && a->special) {
                const char *language = language_of(t, (int32_t)id);
                if (language) {
                    if (last_language && strcmp(language, last_language) && !return_timestamps) {
                        if (!prev_push_cur(&d) || (s = resolve_and_close(&d))) {
                            if (!s) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
                            break;
                        }
                        prev_clear(&d);
                        d.cur.n = 0;
                        d.chunk = (wchunk){last_language, NAN, NAN, NULL};
                    }
                    d.chunk.language = language;
                    last_language = language;
                }
            } else if (id >= tb) {
                double tm = round2((double)(id - tb) * time_precision + time_offset);
                if (last_timestamp && id >= last_timestamp) {
                    skip = true;
                } else if (skip || (d.nprev && (double)id < first_timestamp)) {
                    skip = false;
                } else if (isnan(d.chunk.t0)) {
                    d.chunk.t0 = tm;
                } else if (tm == d.chunk.t0) {
                    /* the duplicate of a start: taken as a start again */
                } else {
                    d.chunk.t1 = tm;
                    if (!prev_push_cur(&d)) {
                        s = am__error(AM_ERR_NO_MEMORY, "out of memory");
                        break;
                    }
                    if ((s = resolve_and_close(&d))) break;
                    prev_clear(&d);
                    d.chunk = (wchunk){last_language, NAN, NAN, NULL};
                }
            } else if (id < 0 || id > INT32_MAX || !ivec_push(&d.cur, (int32_t)id)) {
                s = id < 0 || id > INT32_MAX ? am__error(AM_ERR_INVALID_ARGUMENT, "token id %lld is out of range", (long long)id)
                                             : am__error(AM_ERR_NO_MEMORY, "out of memory");
            }
        }
        if (s) break;
        if (seqs[c].has_stride) time_offset += chunk_len - stride_right;
        if (d.cur.n) {
            if (!prev_push_cur(&d)) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        } else {
            bool any = false;
            for (size_t k = 0; k < d.nprev; k++) any |= d.prev[k].n > 0;
            if (!any) {
                d.chunk = (wchunk){last_language, NAN, NAN, NULL};
                prev_clear(&d);
            }
        }
    }
    if (!s && d.nprev) s = resolve_and_close(&d);
    /* full text, chunks */
    am__buf b = {0};
    am__asr_piece *out = NULL;
    if (!s) {
        for (size_t k = 0; k < d.nchunks; k++) am__buf_puts(&b, d.chunks[k].text);
        am__buf_put(&b, "", 1);
        if (b.failed) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    if (!s && (return_timestamps || return_language) && d.nchunks) {
        out = calloc(d.nchunks, sizeof *out);
        if (!out) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        for (size_t k = 0; k < d.nchunks && !s; k++) {
            out[k].text = d.chunks[k].text;
            d.chunks[k].text = NULL;
            out[k].t0 = d.chunks[k].t0;
            out[k].t1 = d.chunks[k].t1;
            if (return_language && d.chunks[k].language && !(out[k].language = am__strdup(d.chunks[k].language)))
                s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        }
    }
    for (size_t k = 0; k < d.nchunks; k++) free(d.chunks[k].text);
    if (!s) {
        *text = am__buf_take(&b);
        *chunks_out = out;
        *n_chunks = out ? d.nchunks : 0;
    } else {
        am__asr_pieces_free(out, d.nchunks);
    }
    am__buf_free(&b);
    free(d.chunks);
    prev_clear(&d);
    free(d.prev);
    free(d.cur.v);
    return s;
}
