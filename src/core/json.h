/* core/json.h — the one entry point through which every JSON text the library reads is parsed
 * (config.json, generation_config.json, tokenizer.json, safetensors headers, shard indexes):
 * cJSON underneath, with the checks Python's json / Rust's serde_json make and cJSON does not. */
#ifndef AM_CORE_JSON_H
#define AM_CORE_JSON_H
#include "automodel.h"
#include <cjson/cJSON.h>

/* Parses `len` bytes of `text` (need not be NUL-terminated) into *out. Refused with AM_ERR_FORMAT
 * naming `origin` and the byte offset: invalid UTF-8 (Python and serde_json decode the text as
 * UTF-8 first), a NUL byte, the escape \u0000 inside a string (cJSON keeps C strings, so "a\u0000b"
 * would silently become "a"), invalid JSON, and anything but whitespace after the value.
 * AM_ERR_NO_MEMORY when cJSON runs out of memory. *out is NULL on failure. */
am_status am__json_parse(const char *text, size_t len, const char *origin, cJSON **out);
/* The text checks of am__json_parse alone (UTF-8, NUL bytes, \u0000 inside strings), for texts that
 * are not one JSON value (NDJSON bodies); the error names `origin`. */
am_status am__json_text_check(const char *text, size_t len, const char *origin);
/* Index of the first byte of an invalid UTF-8 sequence in s[0..n), or SIZE_MAX when all valid
 * (surrogates and overlong forms are invalid). */
size_t am__utf8_invalid_at(const char *s, size_t n);
#endif
