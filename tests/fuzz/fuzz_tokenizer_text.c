/* fuzz_tokenizer_text — arbitrary text through each fixture tokenizer. Byte 0 picks the
 * tokenizer, byte 1 the options (pair, special tokens, truncation, padding, side); the rest is the
 * text (invalid UTF-8 must be refused with a message). Checks the encoding's invariants and
 * decodes it back. The fixture folder comes from AM_FIXTURES (default tests/fixtures). */
#include "automodel.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *k_names[] = {"bert-base-uncased", "bert-base-cased", "gpt2", "roberta-base", "t5-small",
                                "mistral-7b-v0.1", "llama-3.1-8b-instruct", "whisper-tiny"};
#define NTOK (sizeof k_names / sizeof k_names[0])
static am_tokenizer *g_tok[NTOK];
static int g_loaded;

static void load_all(void) {
    const char *root = getenv("AM_FIXTURES");
    if (!root) root = "tests/fixtures";
    for (size_t i = 0; i < NTOK; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/tokenizers/%s", root, k_names[i]);
        g_tok[i] = am_tokenizer_from_pretrained(p);
        if (!g_tok[i]) {
            fprintf(stderr, "fuzz_tokenizer_text: %s\n", am_last_error());
            abort();
        }
    }
    g_loaded = 1;
}

static size_t utf8_chars(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_loaded) load_all();
    if (size < 2) return 0;
    am_tokenizer *t = g_tok[data[0] % NTOK];
    uint8_t f = data[1];
    const char *text = (const char *)data + 2;
    size_t len = size - 2, la = len, lb = 0;
    const char *b = NULL;
    if (f & 1) { /* a pair: split in the middle */
        la = len / 2;
        b = text + la;
        lb = len - la;
    }
    am_encode_options o = am_encode_options_default();
    o.add_special_tokens = !(f & 2);
    if (f & 4) {
        o.truncation = (f & 0x30) == 0x10 ? AM_TRUNCATION_ONLY_FIRST : (f & 0x30) == 0x20 ? AM_TRUNCATION_ONLY_SECOND : AM_TRUNCATION_LONGEST_FIRST;
        o.max_length = 3 + (f >> 6) * 7;
        o.truncation_side = (f & 8) ? AM_SIDE_LEFT : AM_SIDE_RIGHT;
    }
    if (f & 8) {
        o.padding = AM_PADDING_MAX_LENGTH;
        o.pad_length = 24;
        o.pad_to_multiple_of = (f & 0x40) ? 8 : 0;
        o.pad_token = am_tokenizer_eos_token(t) ? am_tokenizer_eos_token(t) : "[PAD]";
        o.padding_side = (f & 0x80) ? AM_SIDE_LEFT : AM_SIDE_RIGHT;
    }
    am_encoding *e = am_tokenizer_encode_n(t, text, la, b, lb, &o);
    if (!e) {
        if (!am_last_error()[0]) abort();
        return 0;
    }
    size_t n = am_encoding_len(e), ca = utf8_chars(text, la), cb = b ? utf8_chars(b, lb) : 0;
    const int32_t *seq = am_encoding_sequence_ids(e);
    for (size_t i = 0; i < n; i++) {
        size_t s, en;
        am_encoding_offsets(e, i, &s, &en);
        size_t lim = seq[i] == 1 ? cb : ca;
        if (s > en || en > lim) abort();
        if (!am_encoding_token(e, i)) abort();
    }
    am_decode_options d = am_decode_options_default();
    size_t dl;
    char *s = am_tokenizer_decode_n(t, am_encoding_ids(e), n, &d, &dl);
    if (!s) abort();
    am_free(s);
    d.skip_special_tokens = true;
    s = am_tokenizer_decode(t, am_encoding_ids(e), n, &d);
    am_free(s);
    am_encoding_free(e);
    return 0;
}
