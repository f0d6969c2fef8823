/* tokenizers/tk.h — internals of the Hugging Face tokenizers pipeline: arenas, hash maps, the
 * normalized string with its alignments to the original text, splits, the component types
 * (normalizers, pre-tokenizers, models, post-processors, decoders) and the encoding. */
#ifndef AM_TOKENIZERS_TK_H
#define AM_TOKENIZERS_TK_H
#include "automodel.h"
#include <cjson/cJSON.h>
#include <stdatomic.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ---- arena: per-encode scratch, reset between calls ---- */
typedef struct tk_blk {
    struct tk_blk *next;
    size_t used, cap;
    _Alignas(16) char data[];
} tk_blk;
typedef struct tk_arena {
    tk_blk *head;
    bool oom;
} tk_arena;
void *tk_alloc(tk_arena *a, size_t n);
void tk_arena_reset(tk_arena *a);
void tk_arena_free(tk_arena *a);
char *tk_arena_strndup(tk_arena *a, const char *s, size_t n);

/* ---- hash maps ---- */
uint64_t tk_hash(const char *s, size_t n);
typedef struct tk_sment {
    const char *k;
    uint32_t len;
    int32_t val; /* -1: empty slot */
    uint64_t h;
} tk_sment;
typedef struct tk_strmap {
    tk_sment *e;
    size_t cap, n;
} tk_strmap;
/* Keys are borrowed (must outlive the map). Replaces an existing value. false on OOM. */
bool tk_strmap_put(tk_strmap *m, const char *k, size_t len, int32_t val);
int32_t tk_strmap_get(const tk_strmap *m, const char *k, size_t len);
void tk_strmap_free(tk_strmap *m);
bool tk_strmap_reserve(tk_strmap *m, size_t n);

typedef struct tk_u64ent {
    uint64_t k; /* UINT64_MAX: empty slot (never a key here: ids are < 2^26) */
    uint64_t v;
} tk_u64ent;
typedef struct tk_u64map {
    tk_u64ent *e;
    size_t cap, n;
} tk_u64map;
bool tk_u64map_put(tk_u64map *m, uint64_t k, uint64_t v);
bool tk_u64map_get(const tk_u64map *m, uint64_t k, uint64_t *v);
void tk_u64map_free(tk_u64map *m);
bool tk_u64map_reserve(tk_u64map *m, size_t n);

/* ---- unicode helpers ---- */
/* Decode one UTF-8 char (input already validated); returns its length. */
int tk_utf8_dec(const char *s, uint32_t *cp);
int tk_utf8_enc(uint32_t cp, char *out);
int tk_utf8_len(uint32_t cp);
/* Length of the first invalid position, or SIZE_MAX when valid. */
size_t tk_utf8_invalid_at(const char *s, size_t n);
bool tk_is_whitespace(uint32_t c); /* Rust char::is_whitespace */
bool tk_is_punct(uint32_t c);      /* Unicode P* */
bool tk_is_bert_punct(uint32_t c);
bool tk_is_numeric(uint32_t c);    /* N* */
bool tk_is_alnum(uint32_t c);
bool tk_is_control_other(uint32_t c); /* C* (other) */
bool tk_is_mark_nonspacing(uint32_t c);
bool tk_is_chinese(uint32_t c);

/* ---- regex ---- */
typedef struct tk_regex {
    pcre2_code *code;
    bool jit;
} tk_regex;
/* Compile `pat` (UTF + UCP). On failure, the error names `origin` and the pattern. */
am_status tk_regex_compile(tk_regex *r, const char *pat, size_t len, const char *origin);
void tk_regex_free(tk_regex *r);
/* {"pattern": {"String": s} | {"Regex": r}} of Replace/Split (strings match literally) */
am_status tk_parse_pattern(const cJSON *j, const char *origin, const char *what, tk_regex *re, char **lit, size_t *litlen);

/* ---- normalized string ---- */
typedef struct tk_al {
    uint32_t s, e; /* original byte range (absolute in the input) */
} tk_al;
typedef struct tk_ns {
    char *s;
    uint32_t len;
    tk_al *al;
    uint32_t oshift, olen; /* original range this piece covers */
} tk_ns;

typedef struct tk_match {
    uint32_t s, e;
    bool m;
} tk_match;

typedef struct tk_ctx tk_ctx;

/* Split behaviours */
enum { TK_REMOVED, TK_ISOLATED, TK_MERGED_PREV, TK_MERGED_NEXT, TK_CONTIGUOUS };

typedef struct tk_split {
    tk_ns ns;
    int32_t added_id; /* >= 0: the split is an added token */
    uint32_t tok0, ntok;
} tk_split;
typedef struct tk_splitv {
    tk_split *v;
    size_t n, cap;
} tk_splitv;

typedef struct tk_tok {
    int32_t id;
    uint32_t s, e; /* byte offsets in the split's normalized string */
    const char *v;
    uint32_t vlen;
} tk_tok;

/* Transformation list (char, change) as in the Rust library. */
typedef struct tk_tr {
    uint32_t *cp;
    int32_t *ch;
    size_t n, cap;
} tk_tr;

struct tk_ctx {
    tk_arena arena;
    tk_splitv sv[2];
    tk_match *mv;
    size_t mn, mcap;
    tk_tok *tv;
    size_t tn, tcap;
    tk_tr tr;
    pcre2_match_data *md;
    bool oom;
};
void tk_ctx_init(tk_ctx *c);
void tk_ctx_free(tk_ctx *c);
bool tk_match_push(tk_ctx *c, uint32_t s, uint32_t e, bool m);
bool tk_tok_push(tk_ctx *c, int32_t id, uint32_t s, uint32_t e, const char *v, uint32_t vlen);
bool tk_split_push(tk_ctx *c, tk_splitv *v, const tk_split *sp);
void tk_tr_clear(tk_tr *t);
bool tk_tr_push(tk_ctx *c, uint32_t cp, int32_t ch);

tk_ns tk_ns_from(tk_ctx *c, const char *s, uint32_t len, uint32_t oshift);
/* Rust's transform_range over normalized bytes [rs, re) with the list in c->tr. */
bool tk_ns_transform_range(tk_ctx *c, tk_ns *ns, uint32_t rs, uint32_t re, size_t initial_offset);
bool tk_ns_transform(tk_ctx *c, tk_ns *ns, size_t initial_offset);
tk_ns tk_ns_slice(tk_ctx *c, const tk_ns *ns, uint32_t s, uint32_t e);
bool tk_ns_prepend(tk_ctx *c, tk_ns *ns, const char *p, size_t plen);
/* Replace every match (c->mv, already found) by `content`. */
bool tk_ns_replace_matches(tk_ctx *c, tk_ns *ns, const char *content, size_t clen);
/* Split along the matches in c->mv with a behaviour, appending non-empty pieces to out. */
bool tk_ns_split(tk_ctx *c, const tk_ns *ns, int behavior, tk_splitv *out);
bool tk_ns_lowercase(tk_ctx *c, tk_ns *ns);
bool tk_ns_filter(tk_ctx *c, tk_ns *ns, bool (*keep)(uint32_t));
bool tk_ns_unicode(tk_ctx *c, tk_ns *ns, bool compose, bool compat);
bool tk_ns_strip(tk_ctx *c, tk_ns *ns, bool left, bool right);
/* Original byte offsets of normalized bytes [s, e). */
void tk_ns_convert(const tk_ns *ns, uint32_t s, uint32_t e, uint32_t *os, uint32_t *oe);

/* Pattern matching into c->mv (covering the whole string). */
bool tk_find_regex(tk_ctx *c, const tk_regex *re, const char *s, uint32_t len, bool invert);
bool tk_find_char(tk_ctx *c, bool (*pred)(uint32_t), uint32_t only, const char *s, uint32_t len, bool invert);

/* ---- normalizers ---- */
typedef enum {
    TK_N_BERT, TK_N_NFC, TK_N_NFD, TK_N_NFKC, TK_N_NFKD, TK_N_LOWERCASE, TK_N_STRIP_ACCENTS,
    TK_N_STRIP, TK_N_REPLACE, TK_N_PREPEND, TK_N_PRECOMPILED, TK_N_SEQUENCE, TK_N_BYTELEVEL
} tk_norm_type;
typedef struct tk_norm {
    tk_norm_type type;
    bool clean_text, chinese, lowercase;
    int strip_accents; /* -1: follow lowercase */
    bool left, right;
    char *pattern, *content; /* Replace (string), Prepend */
    size_t plen, clen;
    tk_regex re;
    bool is_regex;
    uint8_t *pc_data; /* Precompiled: decoded charsmap */
    size_t pc_len;
    const uint32_t *pc_trie;
    size_t pc_trie_n;
    const char *pc_norm;
    size_t pc_norm_len;
    struct tk_norm **kids;
    size_t nkids;
} tk_norm;
am_status tk_norm_parse(const cJSON *j, const char *origin, tk_norm **out);
void tk_norm_free(tk_norm *n);
bool tk_norm_apply(tk_ctx *c, const tk_norm *n, tk_ns *ns);

/* ---- pre-tokenizers ---- */
typedef enum {
    TK_P_BERT, TK_P_BYTELEVEL, TK_P_METASPACE, TK_P_WHITESPACE, TK_P_WHITESPACE_SPLIT, TK_P_SPLIT,
    TK_P_PUNCT, TK_P_DIGITS, TK_P_SEQUENCE, TK_P_CHAR_DELIM
} tk_pretok_type;
enum { TK_PREPEND_ALWAYS, TK_PREPEND_FIRST, TK_PREPEND_NEVER };
typedef struct tk_pretok {
    tk_pretok_type type;
    bool add_prefix_space, trim_offsets, use_regex, invert, individual, split;
    int behavior, prepend_scheme;
    uint32_t replacement;
    char rep_str[8];
    size_t rep_len;
    tk_regex re;
    bool has_re;
    struct tk_pretok **kids;
    size_t nkids;
} tk_pretok;
am_status tk_pretok_parse(const cJSON *j, const char *origin, tk_pretok **out);
void tk_pretok_free(tk_pretok *p);
bool tk_pretok_apply(tk_ctx *c, const tk_pretok *p, tk_splitv **cur);

/* byte-level alphabet */
extern uint32_t tk_byte2cp[256];
extern int16_t tk_cp2byte[512]; /* -1 when not a byte-level char (all chars are < 512) */
void tk_bytelevel_init(void);
extern tk_regex tk_bytelevel_re;

/* ---- models ---- */
typedef enum { TK_M_BPE, TK_M_WORDPIECE, TK_M_WORDLEVEL, TK_M_UNIGRAM } tk_model_type;
typedef struct tk_cache tk_cache;
typedef struct tk_trie tk_trie;
typedef struct tk_model {
    tk_model_type type;
    tk_strmap vocab;
    char **id2tok;
    uint32_t *id2len;
    size_t nids;
    tk_arena pool;
    char *unk;
    int32_t unk_id;
    /* BPE */
    tk_u64map merges; /* (a<<32|b) -> (rank<<32 | new id) */
    char *csp, *eow;
    bool byte_fallback, ignore_merges, fuse_unk;
    int32_t byte_ids[256];
    int32_t small[512]; /* id of one-char tokens below U+0200 (-1 none) */
    tk_cache *cache;
    /* WordPiece */
    size_t max_chars;
    /* Unigram */
    double *scores;
    double min_score;
    tk_trie *trie;
} tk_model;
am_status tk_model_parse(const cJSON *j, const char *origin, tk_model **out);
am_status tk_model_finish_bpe(tk_model *m, const char *origin);
void tk_model_free(tk_model *m);
/* Tokens for one split appended to c->tv. false: error set (unknown token missing...). */
bool tk_model_tokenize(tk_ctx *c, const tk_model *m, const char *s, uint32_t len);
int32_t tk_model_token_to_id(const tk_model *m, const char *s, size_t len);
const char *tk_model_id_to_token(const tk_model *m, int32_t id);
bool tk_model_add_token(tk_model *m, const char *s, size_t len, int32_t id);
am_status tk_bpe_add_merge(tk_model *m, const char *a, size_t alen, const char *b, size_t blen, uint32_t rank,
                           const char *origin);

/* ---- added vocabulary ---- */
typedef struct tk_added_tok {
    char *content;
    uint32_t len;
    int32_t id;
    bool special, single_word, lstrip, rstrip, normalized;
} tk_added_tok;
typedef struct tk_atrie {
    tk_u64map edges; /* (node<<8|byte) -> child */
    int32_t *term;   /* node -> index into tk_added.v, -1 none */
    size_t nnodes, cap;
    uint8_t first[32];
    char **norm; /* normalized patterns (for the normalized trie) */
} tk_atrie;
typedef struct tk_added {
    tk_added_tok *v;
    size_t n, cap;
    tk_strmap by_content;
    tk_u64map by_id; /* id -> index */
    tk_atrie raw, norm;
    tk_arena pool;
} tk_added;

/* ---- encodings ---- */
struct am_encoding {
    size_t n, cap;
    int32_t *ids, *type_ids, *word_ids, *seq_ids;
    uint8_t *special, *attn;
    uint32_t *offs; /* 2 per token, char offsets */
    uint32_t *tok;  /* offset into pool */
    uint32_t *tlen;
    char *pool;
    size_t plen, pcap;
    bool has_ranges;
    char *error; /* set for a failed item of a batch (the CLI reports it) */
};
am_encoding *tk_enc_new(void);
bool tk_enc_push(am_encoding *e, int32_t id, const char *tok, size_t tlen, uint32_t os, uint32_t oe, int32_t word,
                 int32_t type, int32_t seq, uint8_t special, uint8_t attn);
bool tk_enc_append(am_encoding *dst, const am_encoding *src);
void tk_enc_truncate(am_encoding *e, size_t max_len, bool left);
bool tk_enc_pad(am_encoding *e, size_t len, int32_t pad_id, int32_t pad_type, const char *pad_tok, bool left);
const char *tk_enc_token(const am_encoding *e, size_t i);
size_t tk_enc_token_len(const am_encoding *e, size_t i);

/* ---- post-processors ---- */
typedef enum { TK_PP_BERT, TK_PP_ROBERTA, TK_PP_TEMPLATE, TK_PP_BYTELEVEL, TK_PP_SEQUENCE } tk_pp_type;
typedef struct tk_piece {
    bool special;
    int seq; /* 0 = A, 1 = B */
    char *sid;
    int32_t type_id;
} tk_piece;
typedef struct tk_special {
    char *key;
    int32_t *ids;
    char **toks;
    size_t n;
} tk_special;
typedef struct tk_pp {
    tk_pp_type type;
    char *cls, *sep;
    int32_t cls_id, sep_id;
    bool trim_offsets, add_prefix_space;
    tk_piece *single, *pair;
    size_t nsingle, npair;
    tk_special *sp;
    size_t nsp;
    struct tk_pp **kids;
    size_t nkids;
} tk_pp;
am_status tk_pp_parse(const cJSON *j, const char *origin, tk_pp **out);
void tk_pp_free(tk_pp *p);
size_t tk_pp_added(const tk_pp *p, bool pair);
/* list of encodings in/out (takes ownership of the inputs) */
typedef struct tk_encl {
    am_encoding **v;
    size_t n, cap;
} tk_encl;
bool tk_pp_process(const tk_pp *p, tk_encl *l, bool add_special);

/* ---- decoders ---- */
typedef enum {
    TK_D_WORDPIECE, TK_D_BYTELEVEL, TK_D_METASPACE, TK_D_BYTEFALLBACK, TK_D_FUSE, TK_D_STRIP, TK_D_REPLACE,
    TK_D_SEQUENCE, TK_D_BPE, TK_D_CTC
} tk_dec_type;
typedef struct tk_dec {
    tk_dec_type type;
    char *prefix, *pattern, *content, *suffix, *pad_token, *word_delim;
    size_t plen, clen;
    bool cleanup, prepend, is_regex;
    uint32_t replacement, strip_content;
    size_t start, stop;
    tk_regex re;
    struct tk_dec **kids;
    size_t nkids;
} tk_dec;
am_status tk_dec_parse(const cJSON *j, const char *origin, tk_dec **out);
void tk_dec_free(tk_dec *d);
typedef struct tk_strv {
    char **s;
    size_t *len; /* tokens may hold NUL bytes after byte-level decoding */
    size_t n, cap;
} tk_strv;
bool tk_strv_push(tk_strv *v, const char *s, size_t n);
void tk_strv_free(tk_strv *v);
bool tk_dec_chain(const tk_dec *d, tk_strv *toks);
/* Rust's String::from_utf8_lossy */
char *tk_utf8_lossy(const char *s, size_t n, size_t *outlen);
/* transformers' clean_up_tokenization (in place) */
void tk_cleanup_tokenization(char *s, size_t *len);

/* ---- the tokenizer ---- */
struct am_tokenizer {
    char *origin;
    tk_norm *normalizer;
    tk_pretok *pretok;
    tk_model *model;
    tk_pp *post;
    tk_dec *decoder;
    tk_added added;
    int64_t model_max_length;
    int padding_side, truncation_side; /* 0 right, 1 left */
    bool clean_up_spaces;
    bool has_type_ids;
    char *pad_token, *bos_token, *eos_token, *unk_token;
    char *json_pad_token; /* tokenizer.json's own padding.pad_token */
    /* Wav2Vec2CTCTokenizer (tk_ctc.c) */
    bool ctc, ctc_lower;
    char *word_delim, *word_repl; /* word_delimiter_token, replace_word_delimiter_char */
};
/* The tokenizer.json text that encodes as Wav2Vec2CTCTokenizer over `vocab_path` (tk_ctc.c). */
am_status tk_ctc_json(const char *vocab_path, const char *cfg_path, const cJSON *cfg, char **json_out);
/* TO_LANGUAGE_CODE of transformers 4.32's Whisper tokenizer: a language name, alias or code
 * (any case) -> its code, NULL when unknown (tk_whisper.c). */
const char *tk_whisper_language_code(const char *lang);
bool tk_added_add(am_tokenizer *t, const char *content, size_t len, int32_t id, bool special, bool single_word, bool lstrip,
                  bool rstrip, bool normalized);
bool tk_added_build(am_tokenizer *t);
void tk_added_free(tk_added *a);
int32_t tk_added_find(const tk_added *a, const char *s, size_t len);
const tk_added_tok *tk_added_by_id(const tk_added *a, int32_t id);
bool tk_added_split(tk_ctx *c, const tk_added *a, const tk_atrie *trie, const tk_ns *ns, tk_splitv *out);

/* JSON helpers: errors name origin and key */
am_status tk_json_get(const cJSON *o, const char *key, int type, bool required, const cJSON **out, const char *origin,
                      const char *what);
#define TK_JSTR 1
#define TK_JNUM 2
#define TK_JBOOL 3
#define TK_JOBJ 4
#define TK_JARR 5
#define TK_JANY 6
am_status tk_json_str(const cJSON *o, const char *key, bool required, const char *dflt, char **out, const char *origin,
                      const char *what);
am_status tk_json_bool(const cJSON *o, const char *key, bool dflt, bool *out, const char *origin, const char *what);
am_status tk_json_int(const cJSON *o, const char *key, int64_t dflt, int64_t *out, const char *origin, const char *what);
const char *tk_json_type_name(const cJSON *j);

#endif
