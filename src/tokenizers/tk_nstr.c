/* tokenizers/tk_nstr.c — the normalized string: UTF-8 text plus, for every byte, the byte range
 * of the original input it came from. Every edit goes through the Rust library's
 * transform_range rules (inserted chars take the alignment of the byte before them, removed
 * chars vanish), so offsets after normalization match the reference exactly. */
#include "tokenizers/tk.h"
#include <string.h>
#include <utf8proc.h>

static inline int clen(const char *s) {
    uint8_t b = (uint8_t)s[0];
    return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

tk_ns tk_ns_from(tk_ctx *c, const char *s, uint32_t len, uint32_t oshift) {
    tk_ns ns = {0};
    ns.s = tk_alloc(&c->arena, len + 1);
    ns.al = tk_alloc(&c->arena, (len + 1) * sizeof(tk_al));
    if (!ns.s || !ns.al) {
        c->oom = true;
        ns.len = 0;
        return ns;
    }
    memcpy(ns.s, s, len);
    ns.s[len] = 0;
    ns.len = len;
    ns.oshift = oshift;
    ns.olen = len;
    for (uint32_t i = 0; i < len;) {
        int l = clen(s + i);
        if (i + (uint32_t)l > len) l = (int)(len - i);
        for (int k = 0; k < l; k++) ns.al[i + k] = (tk_al){oshift + i, oshift + i + (uint32_t)l};
        i += (uint32_t)l;
    }
    return ns;
}

bool tk_ns_transform_range(tk_ctx *c, tk_ns *ns, uint32_t rs, uint32_t re, size_t initial) {
    tk_tr *t = &c->tr;
    size_t outb = 0;
    for (size_t i = 0; i < t->n; i++) outb += (size_t)tk_utf8_len(t->cp[i]);
    size_t nlen = rs + outb + (ns->len - re);
    char *ns_s = tk_alloc(&c->arena, nlen + 1);
    tk_al *ns_al = tk_alloc(&c->arena, (nlen + 1) * sizeof(tk_al));
    if (!ns_s || !ns_al) return c->oom = true, false;
    memcpy(ns_s, ns->s, rs);
    memcpy(ns_al, ns->al, rs * sizeof(tk_al));
    uint32_t cur = rs;
    for (size_t k = 0; k < initial && cur < re; k++) cur += (uint32_t)clen(ns->s + cur);
    size_t o = rs;
    tk_al zero = {ns->oshift, ns->oshift};
    for (size_t i = 0; i < t->n; i++) {
        int32_t ch = t->ch[i];
        uint32_t idx = cur;
        tk_al a;
        if (ch > 0) a = idx < 1 ? zero : ns->al[idx - 1];
        else a = idx < ns->len ? ns->al[idx] : (idx > 0 ? ns->al[idx - 1] : zero);
        if (ch <= 0 && cur < re) cur += (uint32_t)clen(ns->s + cur);
        for (int32_t k = 0; ch < 0 && k < -ch && cur < re; k++) cur += (uint32_t)clen(ns->s + cur);
        int l = tk_utf8_enc(t->cp[i], ns_s + o);
        for (int k = 0; k < l; k++) ns_al[o + k] = a;
        o += (size_t)l;
    }
    memcpy(ns_s + o, ns->s + re, ns->len - re);
    memcpy(ns_al + o, ns->al + re, (ns->len - re) * sizeof(tk_al));
    ns_s[nlen] = 0;
    ns->s = ns_s;
    ns->al = ns_al;
    ns->len = (uint32_t)nlen;
    return true;
}

bool tk_ns_transform(tk_ctx *c, tk_ns *ns, size_t initial) { return tk_ns_transform_range(c, ns, 0, ns->len, initial); }

void tk_ns_convert(const tk_ns *ns, uint32_t s, uint32_t e, uint32_t *os, uint32_t *oe) {
    if (s >= e || e > ns->len) {
        /* the Rust library hands an empty range back unchanged (relative to the piece) */
        *os = ns->oshift + s;
        *oe = ns->oshift + e;
        return;
    }
    *os = ns->al[s].s;
    *oe = ns->al[e - 1].e;
}

tk_ns tk_ns_slice(tk_ctx *c, const tk_ns *ns, uint32_t s, uint32_t e) {
    (void)c;
    tk_ns r = *ns;
    r.s = ns->s + s;
    r.al = ns->al + s;
    r.len = e - s;
    if (e > s) {
        r.oshift = ns->al[s].s;
        r.olen = ns->al[e - 1].e - r.oshift;
    } else {
        r.olen = 0;
    }
    return r;
}

bool tk_ns_prepend(tk_ctx *c, tk_ns *ns, const char *p, size_t plen) {
    if (!ns->len) return true;
    tk_tr_clear(&c->tr);
    size_t i = 0;
    bool first = true;
    while (i < plen) {
        uint32_t cp;
        i += (size_t)tk_utf8_dec(p + i, &cp);
        if (!tk_tr_push(c, cp, first ? 0 : 1)) return false;
        first = false;
    }
    uint32_t cp0;
    int l0 = tk_utf8_dec(ns->s, &cp0);
    if (!tk_tr_push(c, cp0, 1)) return false;
    return tk_ns_transform_range(c, ns, 0, (uint32_t)l0, 0);
}

bool tk_ns_replace_matches(tk_ctx *c, tk_ns *ns, const char *content, size_t clen_) {
    size_t nm = 0;
    for (size_t i = 0; i < c->mn; i++) nm += c->mv[i].m;
    if (!nm) return true;
    size_t cap = ns->len + nm * clen_;
    char *o = tk_alloc(&c->arena, cap + 1);
    tk_al *al = tk_alloc(&c->arena, (cap + 1) * sizeof(tk_al));
    if (!o || !al) return c->oom = true, false;
    size_t j = 0;
    tk_al zero = {ns->oshift, ns->oshift};
    for (size_t i = 0; i < c->mn; i++) {
        tk_match m = c->mv[i];
        if (!m.m) {
            memcpy(o + j, ns->s + m.s, m.e - m.s);
            memcpy(al + j, ns->al + m.s, (m.e - m.s) * sizeof(tk_al));
            j += m.e - m.s;
        } else {
            /* the matched chars are removed first, then the content is inserted after them */
            tk_al a = m.e > 0 ? ns->al[m.e - 1] : zero;
            memcpy(o + j, content, clen_);
            for (size_t k = 0; k < clen_; k++) al[j + k] = a;
            j += clen_;
        }
    }
    o[j] = 0;
    ns->s = o;
    ns->al = al;
    ns->len = (uint32_t)j;
    return true;
}

bool tk_ns_split(tk_ctx *c, const tk_ns *ns, int behavior, tk_splitv *out) {
    size_t n = c->mn;
    tk_match *m = c->mv;
    /* compute (offsets, remove) in place, then slice */
    size_t w = 0;
    switch (behavior) {
    case TK_ISOLATED:
        for (size_t i = 0; i < n; i++) m[i].m = false;
        w = n;
        break;
    case TK_REMOVED:
        w = n;
        break;
    case TK_CONTIGUOUS: {
        bool prev = false;
        for (size_t i = 0; i < n; i++) {
            bool im = m[i].m;
            if (im == prev && w > 0) m[w - 1].e = m[i].e;
            else m[w++] = (tk_match){m[i].s, m[i].e, false};
            prev = im;
        }
        break;
    }
    case TK_MERGED_PREV: {
        bool prev = false;
        for (size_t i = 0; i < n; i++) {
            bool im = m[i].m;
            if (im && !prev && w > 0) m[w - 1].e = m[i].e;
            else m[w++] = (tk_match){m[i].s, m[i].e, false};
            prev = im;
        }
        break;
    }
    case TK_MERGED_NEXT: {
        /* walk backwards, writing from the end, then compact */
        bool prev = false;
        size_t top = n; /* entries [top, n) are results, in order */
        for (size_t ii = n; ii-- > 0;) {
            tk_match cur = m[ii];
            if (cur.m && !prev && top < n) m[top].s = cur.s;
            else m[--top] = (tk_match){cur.s, cur.e, false};
            prev = cur.m;
        }
        memmove(m, m + top, (n - top) * sizeof *m);
        w = n - top;
        break;
    }
    default:
        w = n;
    }
    for (size_t i = 0; i < w; i++) {
        if (m[i].m) continue; /* removed */
        if (m[i].e <= m[i].s) continue;
        tk_split sp = {tk_ns_slice(c, ns, m[i].s, m[i].e), -1, 0, 0};
        if (!tk_split_push(c, out, &sp)) return false;
    }
    return true;
}

bool tk_find_regex(tk_ctx *c, const tk_regex *re, const char *s, uint32_t len, bool invert) {
    c->mn = 0;
    if (!len) return tk_match_push(c, 0, 0, invert);
    size_t last_end = 0, prev = 0;
    long last_match_end = -1;
    while (last_end <= len) {
        int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, len, last_end, 0, c->md, NULL)
                         : pcre2_match(re->code, (PCRE2_SPTR)s, len, last_end, PCRE2_NO_UTF_CHECK, c->md, NULL);
        if (rc < 0) break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
        size_t ms = ov[0], me = ov[1];
        if (me < ms) break; /* \K tricks: ignore */
        if (ms == me && last_match_end == (long)me) {
            last_end += last_end < len ? (size_t)clen(s + last_end) : 1;
            continue;
        }
        last_end = me;
        last_match_end = (long)me;
        if (prev != ms && !tk_match_push(c, (uint32_t)prev, (uint32_t)ms, invert)) return false;
        if (!tk_match_push(c, (uint32_t)ms, (uint32_t)me, !invert)) return false;
        prev = me;
    }
    if (prev != len && !tk_match_push(c, (uint32_t)prev, len, invert)) return false;
    return true;
}

bool tk_find_char(tk_ctx *c, bool (*pred)(uint32_t), uint32_t only, const char *s, uint32_t len, bool invert) {
    c->mn = 0;
    if (!len) return tk_match_push(c, 0, 0, invert);
    uint32_t last = 0, i = 0;
    while (i < len) {
        uint32_t cp;
        int l = tk_utf8_dec(s + i, &cp);
        bool hit = pred ? pred(cp) : cp == only;
        if (hit) {
            if (last < i && !tk_match_push(c, last, i, invert)) return false;
            if (!tk_match_push(c, i, i + (uint32_t)l, !invert)) return false;
            last = i + (uint32_t)l;
        }
        i += (uint32_t)l;
    }
    if (len > last && !tk_match_push(c, last, len, invert)) return false;
    return true;
}

bool tk_ns_lowercase(tk_ctx *c, tk_ns *ns) {
    /* fast path: every char keeps its byte length, so alignments stay as they are */
    bool simple = true;
    for (uint32_t i = 0; i < ns->len;) {
        uint32_t cp;
        int l = tk_utf8_dec(ns->s + i, &cp);
        if (cp >= 0x80) {
            uint32_t lc = cp == 0x130 ? 0 : (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
            if (!lc || tk_utf8_len(lc) != l) {
                simple = false;
                break;
            }
        }
        i += (uint32_t)l;
    }
    if (simple) {
        char *o = tk_alloc(&c->arena, ns->len + 1);
        if (!o) return c->oom = true, false;
        for (uint32_t i = 0; i < ns->len;) {
            uint8_t b = (uint8_t)ns->s[i];
            if (b < 0x80) {
                o[i] = (char)(b >= 'A' && b <= 'Z' ? b + 32 : b);
                i++;
                continue;
            }
            uint32_t cp;
            int l = tk_utf8_dec(ns->s + i, &cp);
            tk_utf8_enc((uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), o + i);
            i += (uint32_t)l;
        }
        o[ns->len] = 0;
        ns->s = o;
        return true;
    }
    tk_tr_clear(&c->tr);
    for (uint32_t i = 0; i < ns->len;) {
        uint32_t cp;
        i += (uint32_t)tk_utf8_dec(ns->s + i, &cp);
        if (cp == 0x130) {
            if (!tk_tr_push(c, 'i', 0) || !tk_tr_push(c, 0x307, 1)) return false;
        } else if (!tk_tr_push(c, (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), 0))
            return false;
    }
    return tk_ns_transform(c, ns, 0);
}

bool tk_ns_filter(tk_ctx *c, tk_ns *ns, bool (*keep)(uint32_t)) {
    tk_tr_clear(&c->tr);
    int32_t removed = 0;
    size_t removed_start = 0;
    bool have_last = false;
    uint32_t last = 0;
    bool any_removed = false;
    for (uint32_t i = 0; i < ns->len;) {
        uint32_t cp;
        i += (uint32_t)tk_utf8_dec(ns->s + i, &cp);
        if (keep(cp)) {
            if (have_last) {
                if (!tk_tr_push(c, last, -removed)) return false;
            } else {
                removed_start = (size_t)removed;
            }
            last = cp;
            have_last = true;
            removed = 0;
        } else {
            removed++;
            any_removed = true;
        }
    }
    if (!any_removed) return true;
    if (have_last && !tk_tr_push(c, last, -removed)) return false;
    return tk_ns_transform(c, ns, removed_start);
}

bool tk_ns_strip(tk_ctx *c, tk_ns *ns, bool left, bool right) {
    size_t nch = 0, lead = 0, trail = 0;
    bool in_lead = left;
    for (uint32_t i = 0; i < ns->len;) {
        uint32_t cp;
        i += (uint32_t)tk_utf8_dec(ns->s + i, &cp);
        nch++;
        if (in_lead && tk_is_whitespace(cp)) lead++;
        else in_lead = false;
        if (tk_is_whitespace(cp)) trail++;
        else trail = 0;
    }
    if (!right) trail = 0;
    if (lead == nch) trail = 0;
    if (!lead && !trail) return true;
    tk_tr_clear(&c->tr);
    size_t k = 0;
    for (uint32_t i = 0; i < ns->len; k++) {
        uint32_t cp;
        i += (uint32_t)tk_utf8_dec(ns->s + i, &cp);
        if (k < lead || k >= nch - trail) continue;
        if (!tk_tr_push(c, cp, k == nch - trail - 1 ? -(int32_t)trail : 0)) return false;
    }
    return tk_ns_transform(c, ns, lead);
}

/* Canonical composition of two chars (0 when they do not compose). */
static uint32_t compose2(uint32_t a, uint32_t b) {
    utf8proc_int32_t buf[4] = {(utf8proc_int32_t)a, (utf8proc_int32_t)b};
    utf8proc_ssize_t n = utf8proc_normalize_utf32(buf, 2, UTF8PROC_COMPOSE | UTF8PROC_STABLE);
    if (n == 1) return (uint32_t)buf[0];
    return 0;
}

bool tk_ns_unicode(tk_ctx *c, tk_ns *ns, bool compose, bool compat) {
    tk_tr_clear(&c->tr);
    int opts = UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
    bool changed = false;
    for (uint32_t i = 0; i < ns->len;) {
        uint32_t cp;
        i += (uint32_t)tk_utf8_dec(ns->s + i, &cp);
        utf8proc_int32_t buf[32];
        int bc = 0;
        utf8proc_ssize_t n = cp < 0xC0 && !compat ? -1 : utf8proc_decompose_char((utf8proc_int32_t)cp, buf, 32, opts, &bc);
        if (n <= 0 || n > 32) {
            if (!tk_tr_push(c, cp, 0)) return false;
            continue;
        }
        if (n != 1 || (uint32_t)buf[0] != cp) changed = true;
        for (utf8proc_ssize_t k = 0; k < n; k++)
            if (!tk_tr_push(c, (uint32_t)buf[k], k ? 1 : 0)) return false;
    }
    tk_tr *t = &c->tr;
    /* canonical ordering: stable sort of runs of non-starters by combining class */
    for (size_t i = 0; i < t->n; i++) {
        const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)t->cp[i]);
        if (!p->combining_class) continue;
        size_t j = i;
        while (j < t->n && utf8proc_get_property((utf8proc_int32_t)t->cp[j])->combining_class) j++;
        for (size_t a = i + 1; a < j; a++) {
            uint32_t cp = t->cp[a];
            int32_t ch = t->ch[a];
            int cc = utf8proc_get_property((utf8proc_int32_t)cp)->combining_class;
            size_t b = a;
            while (b > i && utf8proc_get_property((utf8proc_int32_t)t->cp[b - 1])->combining_class > cc) {
                t->cp[b] = t->cp[b - 1];
                t->ch[b] = t->ch[b - 1];
                b--;
                changed = true;
            }
            t->cp[b] = cp;
            t->ch[b] = ch;
        }
        i = j - 1;
    }
    if (compose) {
        size_t w = 0;
        long starter = -1;
        int last_cc = -1;
        for (size_t i = 0; i < t->n; i++) {
            uint32_t cp = t->cp[i];
            int cc = utf8proc_get_property((utf8proc_int32_t)cp)->combining_class;
            if (starter >= 0 && (last_cc < cc || (last_cc == 0 && (size_t)starter == w - 1))) {
                uint32_t comp = compose2(t->cp[starter], cp);
                if (comp && !(last_cc == 0 && cc == 0 && (size_t)starter != w - 1)) {
                    t->cp[starter] = comp;
                    t->ch[starter] += t->ch[i] - 1;
                    changed = true;
                    continue;
                }
            }
            if (cc == 0) {
                starter = (long)w;
                last_cc = 0;
            } else {
                last_cc = cc;
            }
            t->cp[w] = cp;
            t->ch[w] = t->ch[i];
            w++;
        }
        t->n = w;
    }
    if (!changed) return true;
    return tk_ns_transform(c, ns, 0);
}
