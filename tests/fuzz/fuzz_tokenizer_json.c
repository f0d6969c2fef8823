/* fuzz_tokenizer_json — arbitrary bytes as tokenizer.json: load, and when the load succeeds,
 * encode, encode pairs with truncation/padding and decode a few texts. Bad files must fail with
 * a message, never crash. */
#include "automodel.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    am_tokenizer *t = am_tokenizer_from_json((const char *)data, size, "fuzz/tokenizer.json");
    if (!t) {
        if (!am_last_error()[0]) abort(); /* every failure must say why */
        return 0;
    }
    static const char *texts[] = {"Hello world! DON'T stop 123", "  café naïve\tüber ①②  ", "你好世界 😀 <s>[CLS]<mask>", "", " "};
    am_encode_options o = am_encode_options_default();
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        am_encoding *e = am_tokenizer_encode(t, texts[i], i & 1 ? texts[(i + 1) % 5] : NULL, &o);
        if (e) {
            char *d = am_tokenizer_decode(t, am_encoding_ids(e), am_encoding_len(e), NULL);
            am_free(d);
        }
        am_encoding_free(e);
        o.truncation = AM_TRUNCATION_LONGEST_FIRST;
        o.max_length = 4 + i;
        o.padding = AM_PADDING_MAX_LENGTH;
        o.pad_token = "[PAD]";
        o.pad_id = 0;
    }
    int32_t ids[] = {0, 1, 2, 3, 255, 256, 1000, 32000, -1, 50000};
    am_decode_options d = am_decode_options_default();
    d.skip_special_tokens = true;
    char *s = am_tokenizer_decode(t, ids, sizeof ids / sizeof ids[0], &d);
    am_free(s);
    am_tokenizer_free(t);
    return 0;
}
