/* Compiled single pass of the hashed features of nlp/features.py (optional: features.py falls back to its pure
 * Python + numpy code, the reference the tests compare with, when this module is not built).
 *
 * word_counts: the word block before weighting -- the terms of features._terms (tokens with negation scope
 *   marked "!", the shared "!+"/"!-"/"~+"/"~-" polarity features, bigrams "a_b" over the marked sequence)
 *   hashed as sklearn's FeatureHasher(alternate_sign=False) hashes a string: MurmurHash3 x86_32, seed 0, of
 *   its UTF-8 bytes, column abs(h) % n_features (abs(-2**31) spelled as sklearn spells it), value 1.
 * char_counts: the character block before weighting -- 1..3-grams of each text cleaned as features._char_text
 *   cleans it (URLs, mentions, "//", spaces dropped; lowered; the cleaning is done here, a text with a cased
 *   character outside ASCII goes through the Python function given)
 *   hashed exactly as features.char_ngrams does with numpy (uint64 arithmetic that wraps), windows holding
 *   a NUL character skipped as that code skips windows crossing its separator.
 * Both return (indptr int64, indices int32, counts float64) as bytearrays: one row per input, columns sorted
 *   ascending and duplicates summed -- the canonical CSR that FeatureHasher and coo -> csr produce.
 * weighted_rows: the final matrix's arrays from both blocks' (indptr, indices, log1p counts) and row scales:
 *   each row holds its word entries then its character entries (shifted by an offset), each block's columns
 *   descending -- the order scipy's diags @ csr and hstack write them -- and each value scale * value.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------- growable buffer */

typedef struct {
    char *data;
    Py_ssize_t len;  /* bytes used */
    Py_ssize_t cap;
} Buf;

static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    char *p = PyMem_Realloc(b->data, (size_t)cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

/* ------------------------------------------------------------------------------------------------ hashing */

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static uint32_t murmur3_32(const unsigned char *key, Py_ssize_t len, uint32_t seed) {
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    uint32_t h1 = seed;
    Py_ssize_t nblocks = len / 4;
    for (Py_ssize_t i = 0; i < nblocks; i++) {
        const unsigned char *p = key + 4 * i;
        uint32_t k1 = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
        k1 *= c1;
        k1 = rotl32(k1, 15);
        k1 *= c2;
        h1 ^= k1;
        h1 = rotl32(h1, 13);
        h1 = h1 * 5 + 0xe6546b64u;
    }
    const unsigned char *tail = key + 4 * nblocks;
    uint32_t k1 = 0;
    switch (len & 3) {
        case 3:
            k1 ^= (uint32_t)tail[2] << 16;
            /* fall through */
        case 2:
            k1 ^= (uint32_t)tail[1] << 8;
            /* fall through */
        case 1:
            k1 ^= tail[0];
            k1 *= c1;
            k1 = rotl32(k1, 15);
            k1 *= c2;
            h1 ^= k1;
    }
    h1 ^= (uint32_t)len;
    h1 ^= h1 >> 16;
    h1 *= 0x85ebca6bu;
    h1 ^= h1 >> 13;
    h1 *= 0xc2b2ae35u;
    h1 ^= h1 >> 16;
    return h1;
}

/* the column sklearn's FeatureHasher gives a string feature */
static inline uint32_t sk_index(const unsigned char *key, Py_ssize_t len, int64_t n_features) {
    int32_t h = (int32_t)murmur3_32(key, len, 0);
    if (h == INT32_MIN) return (uint32_t)((2147483647 - (n_features - 1)) % n_features);
    int64_t a = h < 0 ? -(int64_t)h : (int64_t)h;
    /* a power of two (the hashers' sizes): a mask, not a division (~30 cycles) per feature */
    return (uint32_t)((n_features & (n_features - 1)) == 0 ? a & (n_features - 1) : a % n_features);
}

/* ---------------------------------------------------------------------------------------------- row sorting */

static void sort_u32(uint32_t *a, Py_ssize_t n) {
    while (n > 24) { /* quicksort, median of three, loop on the larger part */
        uint32_t x = a[0], y = a[n / 2], z = a[n - 1], pivot;
        if (x < y) pivot = y < z ? y : (x < z ? z : x);
        else pivot = x < z ? x : (y < z ? z : y);
        Py_ssize_t i = 0, j = n - 1;
        for (;;) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i >= j) break;
            uint32_t t = a[i];
            a[i] = a[j];
            a[j] = t;
            i++;
            j--;
        }
        /* a[0..j] <= pivot <= a[j+1..n) */
        Py_ssize_t left = j + 1;
        if (left < n - left) {
            sort_u32(a, left);
            a += left;
            n -= left;
        } else {
            sort_u32(a + left, n - left);
            n = left;
        }
    }
    for (Py_ssize_t i = 1; i < n; i++) {
        uint32_t v = a[i];
        Py_ssize_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

/* a[0..n) sorted ascending by bytes, least significant first (tmp: room for n values); a pass whose byte is the
 * same in every value is skipped.  A row of character n-grams holds ~150 columns: 2-3 counting passes cost less
 * than the quicksort's mispredicted comparisons. */
static void radix_sort_u32(uint32_t *a, Py_ssize_t n, uint32_t *tmp) {
    uint32_t all = 0;
    for (Py_ssize_t i = 0; i < n; i++) all |= a[i];
    uint32_t *src = a, *dst = tmp;
    for (int shift = 0; shift < 32 && (all >> shift) != 0; shift += 8) {
        uint32_t count[256];
        memset(count, 0, sizeof count);
        for (Py_ssize_t i = 0; i < n; i++) count[(src[i] >> shift) & 255]++;
        if (count[(src[0] >> shift) & 255] == (uint32_t)n) continue;
        uint32_t sum = 0;
        for (int b = 0; b < 256; b++) {
            uint32_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (Py_ssize_t i = 0; i < n; i++) dst[count[(src[i] >> shift) & 255]++] = src[i];
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, (size_t)n * sizeof(uint32_t));
}

/* Columns of one row (in cols[0..n)) sorted and counted, appended to indices/counts (tmp: scratch space);
 * returns -1 on error. */
static int emit_row(uint32_t *cols, Py_ssize_t n, Buf *indices, Buf *counts, Buf *tmp) {
    if (n == 0) return 0;
    if (n < 64) {
        sort_u32(cols, n);
    } else {
        tmp->len = 0;
        if (buf_reserve(tmp, n * (Py_ssize_t)sizeof(uint32_t)) < 0) return -1;
        radix_sort_u32(cols, n, (uint32_t *)tmp->data);
    }
    if (buf_reserve(indices, n * (Py_ssize_t)sizeof(int32_t)) < 0) return -1;
    if (buf_reserve(counts, n * (Py_ssize_t)sizeof(double)) < 0) return -1;
    int32_t *out_i = (int32_t *)(indices->data + indices->len);
    double *out_c = (double *)(counts->data + counts->len);
    Py_ssize_t m = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        if (m > 0 && (uint32_t)out_i[m - 1] == cols[k]) {
            out_c[m - 1] += 1.0;
        } else {
            out_i[m] = (int32_t)cols[k];
            out_c[m] = 1.0;
            m++;
        }
    }
    indices->len += m * (Py_ssize_t)sizeof(int32_t);
    counts->len += m * (Py_ssize_t)sizeof(double);
    return 0;
}

static PyObject *result(Buf *indptr, Buf *indices, Buf *counts) {
    PyObject *a = PyByteArray_FromStringAndSize(indptr->data, indptr->len);
    PyObject *b = PyByteArray_FromStringAndSize(indices->data, indices->len);
    PyObject *c = PyByteArray_FromStringAndSize(counts->data, counts->len);
    PyObject *out = NULL;
    if (a && b && c) out = PyTuple_Pack(3, a, b, c);
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_XDECREF(c);
    return out;
}

static void free_bufs(Buf *a, Buf *b, Buf *c, Buf *d) {
    PyMem_Free(a->data);
    PyMem_Free(b->data);
    PyMem_Free(c->data);
    PyMem_Free(d->data);
}

static int push_indptr(Buf *indptr, Buf *indices) {
    if (buf_reserve(indptr, sizeof(int64_t)) < 0) return -1;
    ((int64_t *)(indptr->data + indptr->len))[0] = (int64_t)(indices->len / (Py_ssize_t)sizeof(int32_t));
    indptr->len += sizeof(int64_t);
    return 0;
}

static int push_col(Buf *cols, uint32_t c) {
    if (buf_reserve(cols, sizeof(uint32_t)) < 0) return -1;
    ((uint32_t *)(cols->data + cols->len))[0] = c;
    cols->len += sizeof(uint32_t);
    return 0;
}

/* ------------------------------------------------------------------------------------------------ words */

typedef struct {
    const char *s;
    Py_ssize_t n;
    int marked; /* preceded by "!" */
} Term;

/* hash prefix + a (+ "_" + b): the UTF-8 bytes of the term string features._terms builds */
static int hash_term(Buf *scratch, Buf *cols, int64_t nf, const Term *a, const Term *b) {
    Py_ssize_t need = 2 + a->n + (b ? b->n + 1 : 0);
    scratch->len = 0;
    if (buf_reserve(scratch, need) < 0) return -1;
    char *p = scratch->data;
    Py_ssize_t k = 0;
    if (a->marked) p[k++] = '!';
    memcpy(p + k, a->s, (size_t)a->n);
    k += a->n;
    if (b) {
        p[k++] = '_';
        if (b->marked) p[k++] = '!';
        memcpy(p + k, b->s, (size_t)b->n);
        k += b->n;
    }
    return push_col(cols, sk_index((const unsigned char *)p, k, nf));
}

/* POLARITY[tok] as a one-character sign, 0 when absent, -1 on error */
static int polarity_of(PyObject *polarity, PyObject *tok, char *sign) {
    PyObject *v = PyDict_GetItemWithError(polarity, tok);
    if (v == NULL) {
        *sign = 0;
        return PyErr_Occurred() ? -1 : 0;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(v, &n);
    if (s == NULL) return -1;
    if (n != 1) {
        PyErr_SetString(PyExc_ValueError, "polarity values must be one character");
        return -1;
    }
    *sign = s[0];
    return 0;
}

static int term_of(PyObject *tok, int marked, Term *t) {
    if (!PyUnicode_Check(tok)) {
        PyErr_SetString(PyExc_TypeError, "tokens must be str");
        return -1;
    }
    t->s = PyUnicode_AsUTF8AndSize(tok, &t->n);
    t->marked = marked;
    return t->s == NULL ? -1 : 0;
}

typedef struct {
    const char *s; /* the token's UTF-8 bytes; NULL: left to term_of (not a str, or a lone surrogate) */
    Py_ssize_t n;
} Enc;

/* The UTF-8 bytes of each token of a list, without caching them on the (fresh) token objects: an ASCII token's
 * own bytes, the others encoded into utf8 (reserved up front, so the pointers stay valid). */
static int encode_tokens(PyObject **items, Py_ssize_t n, Buf *utf8, Buf *enc) {
    Py_ssize_t need = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (PyUnicode_Check(items[i]) && !PyUnicode_IS_ASCII(items[i])) need += 4 * PyUnicode_GET_LENGTH(items[i]);
    utf8->len = enc->len = 0;
    if (buf_reserve(utf8, need) < 0 || buf_reserve(enc, n * (Py_ssize_t)sizeof(Enc)) < 0) return -1;
    Enc *e = (Enc *)enc->data;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *tok = items[i];
        e[i].s = NULL;
        e[i].n = 0;
        if (!PyUnicode_Check(tok)) continue;
        Py_ssize_t len = PyUnicode_GET_LENGTH(tok);
        if (PyUnicode_IS_ASCII(tok)) {
            e[i].s = (const char *)PyUnicode_DATA(tok);
            e[i].n = len;
            continue;
        }
        int kind = PyUnicode_KIND(tok);
        const void *data = PyUnicode_DATA(tok);
        unsigned char *p = (unsigned char *)utf8->data + utf8->len, *start = p;
        Py_ssize_t k = 0;
        for (; k < len; k++) {
            Py_UCS4 ch = PyUnicode_READ(kind, data, k);
            if (ch < 0x80) {
                *p++ = (unsigned char)ch;
            } else if (ch < 0x800) {
                *p++ = (unsigned char)(0xc0 | (ch >> 6));
                *p++ = (unsigned char)(0x80 | (ch & 0x3f));
            } else if (ch < 0x10000) {
                if (ch >= 0xd800 && ch <= 0xdfff) break; /* not encodable: term_of raises as before */
                *p++ = (unsigned char)(0xe0 | (ch >> 12));
                *p++ = (unsigned char)(0x80 | ((ch >> 6) & 0x3f));
                *p++ = (unsigned char)(0x80 | (ch & 0x3f));
            } else {
                *p++ = (unsigned char)(0xf0 | (ch >> 18));
                *p++ = (unsigned char)(0x80 | ((ch >> 12) & 0x3f));
                *p++ = (unsigned char)(0x80 | ((ch >> 6) & 0x3f));
                *p++ = (unsigned char)(0x80 | (ch & 0x3f));
            }
        }
        if (k < len) continue;
        e[i].s = (const char *)start;
        e[i].n = p - start;
        utf8->len += e[i].n;
    }
    return 0;
}

/* the term of token k: its encoded bytes, or term_of's (which raises what it raised before) */
static inline int term_at(PyObject **items, const Enc *e, Py_ssize_t k, int marked, Term *t) {
    if (e[k].s == NULL) return term_of(items[k], marked, t);
    t->s = e[k].s;
    t->n = e[k].n;
    t->marked = marked;
    return 0;
}

static PyObject *word_counts(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *token_lists, *negators, *polarity;
    Py_ssize_t scope;
    long long n_features;
    if (!PyArg_ParseTuple(args, "OO!O!nL", &token_lists, &PyFrozenSet_Type, &negators, &PyDict_Type, &polarity,
                          &scope, &n_features))
        return NULL;
    if (n_features <= 0 || n_features > 2147483647LL) {
        PyErr_SetString(PyExc_ValueError, "n_features out of range");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(token_lists, "token_lists must be a sequence");
    if (seq == NULL) return NULL;
    Buf indptr = {0}, indices = {0}, counts = {0}, cols = {0}, terms = {0}, scratch = {0}, utf8 = {0}, enc = {0};
    char shared[64][2];
    Py_ssize_t n_docs = PySequence_Fast_GET_SIZE(seq);
    if (push_indptr(&indptr, &indices) < 0) goto fail;
    for (Py_ssize_t d = 0; d < n_docs; d++) {
        PyObject *toks = PySequence_Fast(PySequence_Fast_GET_ITEM(seq, d), "each token list must be a sequence");
        if (toks == NULL) goto fail;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(toks);
        PyObject **items = PySequence_Fast_ITEMS(toks);
        cols.len = 0;
        terms.len = 0;
        Py_ssize_t n_shared = 0, extra_shared = 0;
        Buf more_shared = {0};
        Py_ssize_t i = 0;
        int err = 0;
        if (encode_tokens(items, n, &utf8, &enc) < 0) {
            err = 1;
            goto doc_done;
        }
        const Enc *e = (const Enc *)enc.data;
#define ADD_TERM(k, mk)                                                                    \
    do {                                                                                   \
        if (buf_reserve(&terms, sizeof(Term)) < 0 ||                                       \
            term_at(items, e, (k), (mk), (Term *)(terms.data + terms.len)) < 0) {          \
            err = 1;                                                                       \
            goto doc_done;                                                                 \
        }                                                                                  \
        terms.len += sizeof(Term);                                                         \
    } while (0)
#define ADD_SHARED(c0, c1)                                                                 \
    do {                                                                                   \
        if (n_shared < 64) {                                                               \
            shared[n_shared][0] = (c0);                                                    \
            shared[n_shared][1] = (c1);                                                    \
            n_shared++;                                                                    \
        } else {                                                                           \
            if (buf_reserve(&more_shared, 2) < 0) {                                        \
                err = 1;                                                                   \
                goto doc_done;                                                             \
            }                                                                              \
            more_shared.data[more_shared.len++] = (c0);                                    \
            more_shared.data[more_shared.len++] = (c1);                                    \
            extra_shared++;                                                                \
        }                                                                                  \
    } while (0)
        while (i < n) {
            PyObject *tok = items[i];
            int neg = PySet_Contains(negators, tok);
            if (neg < 0) {
                err = 1;
                goto doc_done;
            }
            if (neg) {
                Py_ssize_t end = i + 1 + scope < n ? i + 1 + scope : n;
                Py_ssize_t polar = -1;
                char sign = 0;
                for (Py_ssize_t k = i + 1; k < end; k++) {
                    if (polarity_of(polarity, items[k], &sign) < 0) {
                        err = 1;
                        goto doc_done;
                    }
                    if (sign) {
                        polar = k;
                        break;
                    }
                }
                if (polar >= 0) {
                    for (Py_ssize_t k = i + 1; k <= polar; k++) ADD_TERM(k, 1);
                    ADD_SHARED('!', sign);
                    i = polar + 1;
                    continue;
                }
                ADD_TERM(i, 0);
                for (Py_ssize_t k = i + 1; k < end; k++) {
                    Term t;
                    if (term_at(items, e, k, 0, &t) < 0) {
                        err = 1;
                        goto doc_done;
                    }
                    if (t.n == 0) {
                        PyErr_SetString(PyExc_IndexError, "string index out of range");
                        err = 1;
                        goto doc_done;
                    }
                    if (t.s[0] != '[') ADD_TERM(k, 1);
                }
                i = end;
                continue;
            }
            char sign = 0;
            if (polarity_of(polarity, tok, &sign) < 0) {
                err = 1;
                goto doc_done;
            }
            if (sign) ADD_SHARED('~', sign);
            ADD_TERM(i, 0);
            i++;
        }
#undef ADD_TERM
#undef ADD_SHARED
        {
            const Term *ts = (const Term *)terms.data;
            Py_ssize_t nt = terms.len / (Py_ssize_t)sizeof(Term);
            for (Py_ssize_t k = 0; k < nt && !err; k++)
                if (hash_term(&scratch, &cols, n_features, &ts[k], NULL) < 0) err = 1;
            for (Py_ssize_t k = 0; k < n_shared && !err; k++)
                if (push_col(&cols, sk_index((const unsigned char *)shared[k], 2, n_features)) < 0) err = 1;
            for (Py_ssize_t k = 0; k < extra_shared && !err; k++)
                if (push_col(&cols, sk_index((const unsigned char *)more_shared.data + 2 * k, 2, n_features)) < 0)
                    err = 1;
            for (Py_ssize_t k = 0; k + 1 < nt && !err; k++)
                if (hash_term(&scratch, &cols, n_features, &ts[k], &ts[k + 1]) < 0) err = 1;
        }
        if (!err && (emit_row((uint32_t *)cols.data, cols.len / (Py_ssize_t)sizeof(uint32_t), &indices, &counts, &scratch) < 0 ||
                     push_indptr(&indptr, &indices) < 0))
            err = 1;
    doc_done:
        PyMem_Free(more_shared.data);
        Py_DECREF(toks);
        if (err) goto fail;
    }
    if (indices.len / (Py_ssize_t)sizeof(int32_t) > 2147483647) {
        PyErr_SetString(PyExc_OverflowError, "more than 2**31 - 1 features in one batch");
        goto fail;
    }
    Py_DECREF(seq);
    PyMem_Free(terms.data);
    PyMem_Free(scratch.data);
    PyMem_Free(utf8.data);
    PyMem_Free(enc.data);
    PyObject *out = result(&indptr, &indices, &counts);
    free_bufs(&indptr, &indices, &counts, &cols);
    return out;
fail:
    Py_DECREF(seq);
    PyMem_Free(terms.data);
    PyMem_Free(scratch.data);
    PyMem_Free(utf8.data);
    PyMem_Free(enc.data);
    free_bufs(&indptr, &indices, &counts, &cols);
    return NULL;
}

/* ------------------------------------------------------------------------------------------------ characters */

#define CHAR_MIX 0x9E3779B97F4A7C15ULL
#define CHAR_PRIME 1000003ULL

/* 1 for a character the mention pattern's class [\w\-\u4e00-\u9fff] holds (\w as Python's re: alnum or _) */
static inline int mention_char(Py_UCS4 ch) {
    return ch == '_' || ch == '-' || (ch >= 0x4e00 && ch <= 0x9fff) || Py_UNICODE_ISALNUM(ch);
}

static inline int starts_with(int kind, const void *data, Py_ssize_t len, Py_ssize_t i, const char *lit) {
    for (Py_ssize_t k = 0; lit[k]; k++)
        if (i + k >= len || PyUnicode_READ(kind, data, i + k) != (Py_UCS4)(unsigned char)lit[k]) return 0;
    return 1;
}

/* The length of the _DROP match at text[i] within [i, end) (0: none).  Shared with the character block's
 * cleaning, which also drops runs of spaces. */
static Py_ssize_t drop_match(int kind, const void *data, Py_ssize_t end, Py_ssize_t i) {
    Py_UCS4 ch = PyUnicode_READ(kind, data, i);
    if (ch == 'h' && starts_with(kind, data, end, i, "http")) {
        Py_ssize_t j = starts_with(kind, data, end, i + 4, "://")    ? i + 7
                       : starts_with(kind, data, end, i + 4, "s://") ? i + 8
                                                                     : -1;
        if (j > 0 && j < end && !Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, j))) {
            while (j < end && !Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, j))) j++;
            return j - i;
        }
    } else if (ch == '@') {
        Py_ssize_t run = 0;
        while (run < 30 && i + 1 + run < end && mention_char(PyUnicode_READ(kind, data, i + 1 + run))) run++;
        if (run) return 1 + run;
    } else if (ch == '/' && i + 1 < end && PyUnicode_READ(kind, data, i + 1) == '/') {
        return 2;
    }
    return 0;
}

/* features._char_text of one text into codes: features._CHAR_DROP's matches removed (r"https?://\S+",
 * r"@[\w\-\u4e00-\u9fff]{1,30}", "//", r"\s+", tried in that order at each position, as re.sub does) and the
 * rest lowered.  Returns the number of codes, or -1 when a kept character is one whose lower case is not
 * itself (str.lower's full mapping is left to Python: the caller runs the pure function on that text). */
static Py_ssize_t clean_codes(PyObject *text, uint64_t *c) {
    Py_ssize_t len = PyUnicode_GET_LENGTH(text), m = 0, i = 0;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    while (i < len) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch >= 0x4e00 && ch <= 0x9fff) { /* most characters: no space, lower case is itself, starts no match */
            c[m++] = ch;
            i++;
            continue;
        }
        Py_ssize_t n = (ch == 'h' || ch == '@' || ch == '/') ? drop_match(kind, data, len, i) : 0;
        if (n) {
            i += n;
            continue;
        }
        if (Py_UNICODE_ISSPACE(ch)) {
            while (i < len && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i))) i++;
            continue;
        }
        if (ch < 128) {
            if (ch >= 'A' && ch <= 'Z') ch += 'a' - 'A';
        } else if (Py_UNICODE_TOLOWER(ch) != ch) {
            return -1;
        }
        c[m++] = ch;
        i++;
    }
    return m;
}

static PyObject *char_counts(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *texts, *clean;
    long long n_features;
    int n_max;
    if (!PyArg_ParseTuple(args, "OiLO", &texts, &n_max, &n_features, &clean)) return NULL;
    if (n_features <= 0 || n_max < 1) {
        PyErr_SetString(PyExc_ValueError, "n_features and n_max must be positive");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence");
    if (seq == NULL) return NULL;
    Buf indptr = {0}, indices = {0}, counts = {0}, cols = {0}, codes = {0}, tmp = {0};
    Py_ssize_t n_docs = PySequence_Fast_GET_SIZE(seq);
    const uint64_t nf = (uint64_t)n_features;
    if (push_indptr(&indptr, &indices) < 0) goto fail;
    for (Py_ssize_t d = 0; d < n_docs; d++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, d);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "texts must be str");
            goto fail;
        }
        Py_ssize_t len = PyUnicode_GET_LENGTH(text);
        codes.len = 0;
        cols.len = 0;
        if (buf_reserve(&codes, len * (Py_ssize_t)sizeof(uint64_t)) < 0) goto fail;
        uint64_t *c = (uint64_t *)codes.data;
        if (clean == Py_None) { /* already cleaned */
            int kind = PyUnicode_KIND(text);
            const void *data = PyUnicode_DATA(text);
            for (Py_ssize_t i = 0; i < len; i++) c[i] = (uint64_t)PyUnicode_READ(kind, data, i);
        } else if ((len = clean_codes(text, c)) < 0) { /* lowering left to Python: the pure cleaning */
            PyObject *cleaned = PyObject_CallOneArg(clean, text);
            if (cleaned == NULL) goto fail;
            if (!PyUnicode_Check(cleaned)) {
                Py_DECREF(cleaned);
                PyErr_SetString(PyExc_TypeError, "the cleaning function must return str");
                goto fail;
            }
            len = PyUnicode_GET_LENGTH(cleaned);
            int kind = PyUnicode_KIND(cleaned);
            const void *data = PyUnicode_DATA(cleaned);
            codes.len = 0;
            if (buf_reserve(&codes, len * (Py_ssize_t)sizeof(uint64_t)) < 0) {
                Py_DECREF(cleaned);
                goto fail;
            }
            c = (uint64_t *)codes.data;
            for (Py_ssize_t i = 0; i < len; i++) c[i] = (uint64_t)PyUnicode_READ(kind, data, i);
            Py_DECREF(cleaned);
        }
        if (buf_reserve(&cols, len * n_max * (Py_ssize_t)sizeof(uint32_t)) < 0) goto fail;
        uint32_t *out = (uint32_t *)cols.data;
        Py_ssize_t m = 0;
        const uint64_t mask = (nf & (nf - 1)) == 0 ? nf - 1 : 0; /* a power of two: no division */
        for (Py_ssize_t i = 0; i < len; i++) {
            uint64_t h = 0;
            for (int n = 1; n <= n_max && i + n <= len; n++) {
                uint64_t code = c[i + n - 1];
                if (code == 0) break; /* every longer window from i holds it too */
                h = n == 1 ? code : h * CHAR_PRIME + code;
                uint64_t mixed = (h + (uint64_t)n) * CHAR_MIX;
                out[m++] = (uint32_t)(mask ? (mixed >> 40) & mask : (mixed >> 40) % nf);
            }
        }
        if (emit_row(out, m, &indices, &counts, &tmp) < 0 || push_indptr(&indptr, &indices) < 0) goto fail;
    }
    Py_DECREF(seq);
    PyMem_Free(codes.data);
    PyMem_Free(tmp.data);
    PyObject *res = result(&indptr, &indices, &counts);
    free_bufs(&indptr, &indices, &counts, &cols);
    return res;
fail:
    Py_DECREF(seq);
    PyMem_Free(codes.data);
    PyMem_Free(tmp.data);
    free_bufs(&indptr, &indices, &counts, &cols);
    return NULL;
}

/* ------------------------------------------------------------------------------------------------ weighting */

typedef struct {
    Py_buffer indptr, indices, data, scale;
} Block;

static int block_check(Block *b, Py_ssize_t *n_rows) {
    if (b->indptr.len % 8 || b->indices.len % 4 || b->data.len % 8 || b->scale.len % 8) goto bad;
    Py_ssize_t rows = b->indptr.len / 8 - 1;
    if (rows < 0 || b->scale.len / 8 != rows || b->data.len / 8 != b->indices.len / 4) goto bad;
    const int64_t *ip = (const int64_t *)b->indptr.buf;
    if (ip[0] != 0 || ip[rows] != b->indices.len / 4) goto bad;
    for (Py_ssize_t r = 0; r < rows; r++)
        if (ip[r + 1] < ip[r]) goto bad;
    *n_rows = rows;
    return 0;
bad:
    PyErr_SetString(PyExc_ValueError, "weighted_rows: inconsistent arrays (int64 indptr, int32 indices, float64)");
    return -1;
}

static PyObject *weighted_rows(PyObject *self, PyObject *args) {
    (void)self;
    Block w, c;
    long long offset;
    memset(&w, 0, sizeof w);
    memset(&c, 0, sizeof c);
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*L", &w.indptr, &w.indices, &w.data, &w.scale, &c.indptr, &c.indices,
                          &c.data, &c.scale, &offset))
        return NULL;
    PyObject *out = NULL, *ip_out = NULL, *ix_out = NULL, *data_out = NULL;
    Py_ssize_t rows_w, rows_c;
    if (block_check(&w, &rows_w) < 0 || block_check(&c, &rows_c) < 0) goto done;
    if (rows_w != rows_c) {
        PyErr_SetString(PyExc_ValueError, "weighted_rows: blocks of different row counts");
        goto done;
    }
    Py_ssize_t nnz = w.indices.len / 4 + c.indices.len / 4;
    ip_out = PyByteArray_FromStringAndSize(NULL, (rows_w + 1) * 8);
    ix_out = PyByteArray_FromStringAndSize(NULL, nnz * 4);
    data_out = PyByteArray_FromStringAndSize(NULL, nnz * 8);
    if (!ip_out || !ix_out || !data_out) goto done;
    int64_t *oip = (int64_t *)PyByteArray_AS_STRING(ip_out);
    int32_t *oix = (int32_t *)PyByteArray_AS_STRING(ix_out);
    double *od = (double *)PyByteArray_AS_STRING(data_out);
    const Block *blocks[2] = {&w, &c};
    const int64_t shift[2] = {0, offset};
    Py_ssize_t k = 0;
    oip[0] = 0;
    for (Py_ssize_t r = 0; r < rows_w; r++) {
        for (int b = 0; b < 2; b++) {
            const int64_t *ip = (const int64_t *)blocks[b]->indptr.buf;
            const int32_t *ix = (const int32_t *)blocks[b]->indices.buf;
            const double *d = (const double *)blocks[b]->data.buf;
            const double s = ((const double *)blocks[b]->scale.buf)[r];
            for (int64_t p = ip[r + 1] - 1; p >= ip[r]; p--) {
                oix[k] = (int32_t)(ix[p] + shift[b]);
                od[k] = s * d[p];
                k++;
            }
        }
        oip[r + 1] = k;
    }
    out = PyTuple_Pack(3, ip_out, ix_out, data_out);
done:
    Py_XDECREF(ip_out);
    Py_XDECREF(ix_out);
    Py_XDECREF(data_out);
    Block *all[2] = {&w, &c};
    for (int b = 0; b < 2; b++) {
        PyBuffer_Release(&all[b]->indptr);
        PyBuffer_Release(&all[b]->indices);
        PyBuffer_Release(&all[b]->data);
        PyBuffer_Release(&all[b]->scale);
    }
    return out;
}

/* ------------------------------------------------------------------------------------------------ products */

/* csr (float64 values, int32 columns) @ dense float32 (n_features x n_cols, C order) in float64: each output is
 * 0.0 + a1*w1 + a2*w2 + ... over the row's entries in stored order, each weight widened to float64 -- the sums
 * scipy's csr_matvecs computes on the float64 copy of the weights it makes for every product. */
static PyObject *csr_dense(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer ip = {0}, ix = {0}, data = {0}, dense = {0};
    Py_ssize_t n_features, n_cols;
    if (!PyArg_ParseTuple(args, "y*y*y*y*nn", &ip, &ix, &data, &dense, &n_features, &n_cols)) return NULL;
    PyObject *out = NULL;
    Py_ssize_t rows = ip.len / 4 - 1, nnz = ix.len / 4;
    if (ip.len % 4 || ix.len % 4 || data.len != nnz * 8 || rows < 0 || n_cols < 1 || n_features < 0 ||
        dense.len != n_features * n_cols * 4) {
        PyErr_SetString(PyExc_ValueError, "csr_dense: inconsistent arrays (int32 indptr and indices, float64, float32)");
        goto done;
    }
    const int32_t *p = (const int32_t *)ip.buf, *cols = (const int32_t *)ix.buf;
    const double *a = (const double *)data.buf;
    const float *w = (const float *)dense.buf;
    if (p[0] != 0 || p[rows] != nnz) goto bad;
    for (Py_ssize_t r = 0; r < rows; r++)
        if (p[r + 1] < p[r]) goto bad;
    for (Py_ssize_t j = 0; j < nnz; j++)
        if (cols[j] < 0 || cols[j] >= n_features) goto bad;
    out = PyByteArray_FromStringAndSize(NULL, rows * n_cols * 8);
    if (out == NULL) goto done;
    double *y = (double *)PyByteArray_AS_STRING(out);
    memset(y, 0, (size_t)(rows * n_cols) * sizeof(double));
    /* the weights' rows are read at random (hashed columns): ask for the row PREFETCH entries ahead early, so
     * several cache misses are under way at once (both models' products on 10,000 Weibo posts, ~154 entries a
     * row: 4.1 µs a post 12 entries ahead, 3.0 at 32-64) */
    enum { PREFETCH = 48 };
    for (Py_ssize_t r = 0; r < rows; r++) {
        double *yr = y + r * n_cols;
        for (int32_t jj = p[r]; jj < p[r + 1]; jj++) {
#if defined(__GNUC__) || defined(__clang__)
            if (jj + PREFETCH < nnz) {
                const float *ahead = w + (Py_ssize_t)cols[jj + PREFETCH] * n_cols;
                __builtin_prefetch(ahead);
                __builtin_prefetch(ahead + n_cols - 1);
            }
#endif
            const double v = a[jj];
            const float *wr = w + (Py_ssize_t)cols[jj] * n_cols;
            for (Py_ssize_t k = 0; k < n_cols; k++) yr[k] += v * (double)wr[k];
        }
    }
    goto done;
bad:
    PyErr_SetString(PyExc_ValueError, "csr_dense: indptr or column out of range");
done:
    PyBuffer_Release(&ip);
    PyBuffer_Release(&ix);
    PyBuffer_Release(&data);
    PyBuffer_Release(&dense);
    return out;
}

/* ------------------------------------------------------------------------------------------------ segmentation */

/* segment.Segmenter.tokens of every text of a batch in one call: emoticon codes cut out as tokens, each chunk
 * between them with segment._DROP's matches (r"https?://\S+", r"@[\w\-\u4e00-\u9fff]{1,30}", "//", tried in that
 * order at each position, as re.sub does) replaced by a space, cut by cut(chunk, *cut_args), its words kept as
 * Segmenter._content keeps them (a letter, digit or CJK character, and not in stopwords: a small set, so
 * its lookups hit the cache where a dict of every word seen missed it three times a word). */

static inline int emoticon_char(Py_UCS4 ch) {
    return (ch >= 0x4e00 && ch <= 0x9fff) || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

typedef struct {
    PyObject *cut;      /* callable */
    PyObject *args[4];  /* args[1..] = cut_args, args[0] the chunk */
    Py_ssize_t n_args;  /* 1 + len(cut_args) */
    PyObject *stopwords; /* set */
    unsigned char *onechar; /* 0x10000 entries */
    Buf scratch;        /* UCS4 chunk being cleaned */
} SegCtx;

/* text[a:b] with _DROP's matches replaced by a space (a new reference) */
static PyObject *dropped_chunk(SegCtx *ctx, PyObject *text, Py_ssize_t a, Py_ssize_t b) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t i = a, first = -1, first_len = 0;
    for (; i < b; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch != 'h' && ch != '@' && ch != '/') continue;
        Py_ssize_t n = drop_match(kind, data, b, i);
        if (n) {
            first = i;
            first_len = n;
            break;
        }
    }
    if (first < 0) return PyUnicode_Substring(text, a, b);
    ctx->scratch.len = 0;
    if (buf_reserve(&ctx->scratch, (b - a) * (Py_ssize_t)sizeof(Py_UCS4)) < 0) return NULL;
    Py_UCS4 *out = (Py_UCS4 *)ctx->scratch.data;
    Py_ssize_t m = 0;
    for (i = a; i < first; i++) out[m++] = PyUnicode_READ(kind, data, i);
    out[m++] = ' ';
    i = first + first_len;
    while (i < b) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        Py_ssize_t n = (ch == 'h' || ch == '@' || ch == '/') ? drop_match(kind, data, b, i) : 0;
        if (n) {
            out[m++] = ' ';
            i += n;
        } else {
            out[m++] = ch;
            i++;
        }
    }
    return PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, m);
}

/* segment._KEEP_TOKEN: a character of [\u4e00-\u9fffA-Za-z0-9] */
static inline int token_char(Py_UCS4 ch) {
    return (ch >= 0x4e00 && ch <= 0x9fff) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9');
}

/* Segmenter._content: 1 kept (holds a character of _KEEP_TOKEN -- so it is not only spaces -- and is no stopword),
 * 0 dropped, -1 error.  The decision of a one-character word below U+10000 is remembered in onechar (0 not yet,
 * 1 kept, 2 dropped), so the commonest words (punctuation, particles) are decided without hashing them. */
static inline int kept(SegCtx *ctx, PyObject *w) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(w);
    int kind = PyUnicode_KIND(w);
    const void *data = PyUnicode_DATA(w);
    Py_UCS4 one = n == 1 ? PyUnicode_READ(kind, data, 0) : 0x10000;
    if (one < 0x10000 && ctx->onechar[one]) return ctx->onechar[one] == 1;
    int yes = 0;
    for (Py_ssize_t i = 0; i < n && !yes; i++) yes = token_char(PyUnicode_READ(kind, data, i));
    if (yes) {
        int stop = PyAnySet_Check(ctx->stopwords) ? PySet_Contains(ctx->stopwords, w)
                                                  : PySequence_Contains(ctx->stopwords, w);
        if (stop < 0) return -1;
        yes = !stop;
    }
    if (one < 0x10000) ctx->onechar[one] = yes ? 1 : 2;
    return yes;
}

/* the kept words of text[a:b] appended to out; -1 on error */
static int plain_chunk(SegCtx *ctx, PyObject *text, Py_ssize_t a, Py_ssize_t b, PyObject *out) {
    if (b <= a) return 0;
    PyObject *chunk = dropped_chunk(ctx, text, a, b);
    if (chunk == NULL) return -1;
    ctx->args[0] = chunk;
    PyObject *words = PyObject_Vectorcall(ctx->cut, ctx->args, (size_t)ctx->n_args, NULL);
    ctx->args[0] = NULL;
    Py_DECREF(chunk);
    if (words == NULL) return -1;
    if (!PyList_Check(words)) {
        Py_DECREF(words);
        PyErr_SetString(PyExc_TypeError, "cut must return a list");
        return -1;
    }
    int rc = -1;
    Py_ssize_t n = PyList_GET_SIZE(words);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *w = PyList_GET_ITEM(words, i);
        if (!PyUnicode_Check(w)) {
            PyErr_SetString(PyExc_TypeError, "cut must return a list of str");
            goto done;
        }
        int yes = kept(ctx, w);
        if (yes < 0 || (yes && PyList_Append(out, w) < 0)) goto done;
    }
    rc = 0;
done:
    Py_DECREF(words);
    return rc;
}

static PyObject *segment_one(SegCtx *ctx, PyObject *text) {
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    Py_ssize_t len = PyUnicode_GET_LENGTH(text), pos = 0, i = 0;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    while (i < len) { /* the matches of r"\[[\u4e00-\u9fffA-Za-z]{1,8}\]", left to right, as finditer */
        if (PyUnicode_READ(kind, data, i) != '[') {
            i++;
            continue;
        }
        Py_ssize_t r = 0;
        while (i + 1 + r < len && r < 9 && emoticon_char(PyUnicode_READ(kind, data, i + 1 + r))) r++;
        if (r < 1 || r > 8 || i + 1 + r >= len || PyUnicode_READ(kind, data, i + 1 + r) != ']') {
            i++;
            continue;
        }
        Py_ssize_t end = i + r + 2;
        if (plain_chunk(ctx, text, pos, i, out) < 0) goto fail;
        PyObject *code = PyUnicode_Substring(text, i, end);
        if (code == NULL || PyList_Append(out, code) < 0) {
            Py_XDECREF(code);
            goto fail;
        }
        Py_DECREF(code);
        pos = i = end;
    }
    if (plain_chunk(ctx, text, pos, len, out) < 0) goto fail;
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyObject *segment_tokens(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *texts, *cut_args;
    SegCtx ctx;
    memset(&ctx, 0, sizeof ctx);
    Py_buffer table = {0};
    if (!PyArg_ParseTuple(args, "OOO!Ow*", &texts, &ctx.cut, &PyTuple_Type, &cut_args, &ctx.stopwords, &table))
        return NULL;
    PyObject *seq = NULL, *out = NULL;
    if (table.len != 0x10000 || table.readonly) {
        PyErr_SetString(PyExc_ValueError, "segment_tokens: onechar must be a writable buffer of 65536 bytes");
        goto done;
    }
    if (PyTuple_GET_SIZE(cut_args) > 3) {
        PyErr_SetString(PyExc_ValueError, "segment_tokens: at most 3 cut_args");
        goto done;
    }
    ctx.onechar = (unsigned char *)table.buf;
    ctx.n_args = 1 + PyTuple_GET_SIZE(cut_args);
    for (Py_ssize_t k = 1; k < ctx.n_args; k++) ctx.args[k] = PyTuple_GET_ITEM(cut_args, k - 1);
    seq = PySequence_Fast(texts, "texts must be a sequence");
    if (seq == NULL) goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    out = PyList_New(n);
    if (out == NULL) goto done;
    for (Py_ssize_t d = 0; d < n; d++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, d);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "texts must be str");
            Py_CLEAR(out);
            goto done;
        }
        PyObject *toks = segment_one(&ctx, text);
        if (toks == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, d, toks);
    }
done:
    Py_XDECREF(seq);
    PyMem_Free(ctx.scratch.data);
    PyBuffer_Release(&table);
    return out;
}

/* ------------------------------------------------------------------------------------------------ normalisation */

/* normalize.normalize_texts' shortcut: each value that is a str of no more than max_chars characters, none of them
 * flagged in the bitmap ("&", surrogates, the characters the translation table changes, traditional-only
 * characters) except those the translation table changes (translate[code]: the code point it becomes, 0x110000
 * when it is deleted, 0 when the Python steps must see it), comes back normalised: as itself when nothing
 * changes (no space at either end, no whitespace but " ", no two spaces in a row), else translated with each
 * run of whitespace folded to one space and the ends stripped (normalize._clean then normalize._finish); any
 * other value comes back as None (normalised by the Python code). */
static PyObject *unchanged_texts(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *values;
    Py_buffer bits = {0}, table = {0};
    Py_ssize_t max_chars;
    if (!PyArg_ParseTuple(args, "Oy*ny*", &values, &bits, &max_chars, &table)) return NULL;
    PyObject *seq = NULL, *out = NULL;
    Buf folded = {0};
    if (bits.len != 0x110000 / 8 || table.len != 0x10000 * (Py_ssize_t)sizeof(uint32_t)) {
        PyErr_SetString(PyExc_ValueError,
                        "unchanged_texts: the bitmap must hold 0x110000 bits and the table 0x10000 uint32");
        goto done;
    }
    const unsigned char *flag = (const unsigned char *)bits.buf;
    const uint32_t *translate = (const uint32_t *)table.buf;
    seq = PySequence_Fast(values, "values must be a sequence");
    if (seq == NULL) goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    out = PyList_New(n);
    if (out == NULL) goto done;
    for (Py_ssize_t d = 0; d < n; d++) {
        PyObject *v = PySequence_Fast_GET_ITEM(seq, d), *res = Py_None;
        Py_INCREF(res);
        if (PyUnicode_CheckExact(v) && PyUnicode_GET_LENGTH(v) <= max_chars) {
            Py_ssize_t len = PyUnicode_GET_LENGTH(v), i = 0;
            int kind = PyUnicode_KIND(v);
            const void *data = PyUnicode_DATA(v);
            int prev_space = 1, change = 0; /* a space first is stripped */
            for (; i < len; i++) {
                Py_UCS4 ch = PyUnicode_READ(kind, data, i);
                if (flag[ch >> 3] & (1u << (ch & 7))) {
                    if (ch < 0x10000 && translate[ch]) {
                        change = 1;
                        continue;
                    }
                    break;
                }
                if (Py_UNICODE_ISSPACE(ch)) {
                    if (ch != ' ' || prev_space) change = 1;
                    prev_space = 1;
                } else {
                    prev_space = 0;
                }
            }
            if (i == len && !change && !(len && prev_space)) {
                Py_DECREF(res);
                Py_INCREF(v);
                res = v;
            } else if (i == len) { /* characters to translate, whitespace to fold and strip */
                folded.len = 0;
                if (buf_reserve(&folded, len * (Py_ssize_t)sizeof(Py_UCS4)) < 0) {
                    Py_DECREF(res);
                    Py_CLEAR(out);
                    goto done;
                }
                Py_UCS4 *f = (Py_UCS4 *)folded.data;
                Py_ssize_t m = 0;
                int space = 1; /* leading whitespace dropped */
                for (i = 0; i < len; i++) {
                    Py_UCS4 ch = PyUnicode_READ(kind, data, i);
                    if (ch < 0x10000 && (flag[ch >> 3] & (1u << (ch & 7)))) {
                        if (translate[ch] == 0x110000) continue; /* deleted */
                        ch = translate[ch];
                    }
                    if (Py_UNICODE_ISSPACE(ch)) {
                        if (!space) f[m++] = ' ';
                        space = 1;
                    } else {
                        f[m++] = ch;
                        space = 0;
                    }
                }
                if (m && f[m - 1] == ' ') m--;
                PyObject *t = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, f, m);
                if (t == NULL) {
                    Py_DECREF(res);
                    Py_CLEAR(out);
                    goto done;
                }
                Py_DECREF(res);
                res = t;
            }
        }
        PyList_SET_ITEM(out, d, res);
    }
done:
    Py_XDECREF(seq);
    PyMem_Free(folded.data);
    PyBuffer_Release(&bits);
    PyBuffer_Release(&table);
    return out;
}

/* ------------------------------------------------------------------------------------------------ keywords */

typedef struct {
    PyObject *word; /* borrowed from the token list */
    Py_hash_t hash;
    long count;
    double score; /* -count * idf, the key keywords.KeywordExtractor.keywords sorts by */
} Kw;

/* The IDF of the words met so far in one call, each word's characters held in its slot: a batch's ~25,000 distinct
 * words fit in a table the cache keeps, where each look-up in the IDF dict (jieba's: 270,000 words) misses the
 * cache three or four times.  A word too long for a slot is looked up in the dict each time. */
typedef struct {
    Py_hash_t hash;
    double idf;
    uint8_t used, kind, len; /* len: characters */
    char data[13];
} IdfSlot;

typedef struct {
    IdfSlot *slots;
    Py_ssize_t cap, n; /* cap: a power of two */
} IdfSeen;

static inline int idf_slot_is(const IdfSlot *s, Py_hash_t h, int kind, Py_ssize_t len, const void *data) {
    return s->hash == h && s->kind == kind && s->len == len && memcmp(s->data, data, (size_t)(len * kind)) == 0;
}

static int idf_grow(IdfSeen *t) {
    Py_ssize_t cap = t->cap ? t->cap * 2 : 4096;
    IdfSlot *slots = PyMem_Calloc((size_t)cap, sizeof(IdfSlot));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].used) continue;
        size_t k = (size_t)t->slots[i].hash & (size_t)(cap - 1);
        while (slots[k].used) k = (k + 1) & (size_t)(cap - 1);
        slots[k] = t->slots[i];
    }
    PyMem_Free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* *out = idf.get(word, default_idf) as a float; -1 on error */
static int idf_of(IdfSeen *t, PyObject *idf, double default_idf, PyObject *word, Py_hash_t h, double *out) {
    int kind = PyUnicode_KIND(word);
    Py_ssize_t len = PyUnicode_GET_LENGTH(word);
    const void *data = PyUnicode_DATA(word);
    int fits = len * kind <= (Py_ssize_t)sizeof(t->slots[0].data);
    size_t k = 0;
    if (fits && t->cap) {
        k = (size_t)h & (size_t)(t->cap - 1);
        for (; t->slots[k].used; k = (k + 1) & (size_t)(t->cap - 1)) {
            if (idf_slot_is(&t->slots[k], h, kind, len, data)) {
                *out = t->slots[k].idf;
                return 0;
            }
        }
    }
    PyObject *v = PyDict_GetItemWithError(idf, word);
    double weight = default_idf;
    if (v != NULL) {
        weight = PyFloat_AsDouble(v);
        if (weight == -1.0 && PyErr_Occurred()) return -1;
    } else if (PyErr_Occurred()) {
        return -1;
    }
    *out = weight;
    if (!fits) return 0;
    if (2 * (t->n + 1) > t->cap) { /* at most half full */
        if (idf_grow(t) < 0) return -1;
        k = (size_t)h & (size_t)(t->cap - 1);
        while (t->slots[k].used) k = (k + 1) & (size_t)(t->cap - 1);
    }
    IdfSlot *s = &t->slots[k];
    s->hash = h;
    s->idf = weight;
    s->used = 1;
    s->kind = (uint8_t)kind;
    s->len = (uint8_t)len;
    memcpy(s->data, data, (size_t)(len * kind));
    t->n++;
    return 0;
}

/* keywords._is_content: at least 2 characters, not an emoticon code [..], not all digits (str.isdigit) */
static int is_content(PyObject *w) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(w);
    if (n < 2) return 0;
    int kind = PyUnicode_KIND(w);
    const void *data = PyUnicode_DATA(w);
    if (PyUnicode_READ(kind, data, 0) == '[' && PyUnicode_READ(kind, data, n - 1) == ']') return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (!Py_UNICODE_ISDIGIT(PyUnicode_READ(kind, data, i))) return 1;
    return 0;
}

/* a before b: higher score first, then the word (str order) */
static int kw_before(const Kw *a, const Kw *b, int *err) {
    if (a->score != b->score) return a->score < b->score;
    int c = PyUnicode_Compare(a->word, b->word);
    if (c == -1 && PyErr_Occurred()) *err = 1;
    return c < 0;
}

static PyObject *keywords_joined(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *token_lists, *idf, *sep;
    double default_idf;
    Py_ssize_t k;
    if (!PyArg_ParseTuple(args, "OO!dnU", &token_lists, &PyDict_Type, &idf, &default_idf, &k, &sep)) return NULL;
    PyObject *seq = PySequence_Fast(token_lists, "token_lists must be a sequence");
    if (seq == NULL) return NULL;
    Py_ssize_t n_docs = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n_docs);
    Buf kws = {0};
    IdfSeen seen = {0};
    PyObject *chosen = NULL;
    if (out == NULL) goto fail;
    for (Py_ssize_t d = 0; d < n_docs; d++) {
        PyObject *toks = PySequence_Fast(PySequence_Fast_GET_ITEM(seq, d), "each token list must be a sequence");
        if (toks == NULL) goto fail;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(toks);
        PyObject **items = PySequence_Fast_ITEMS(toks);
        kws.len = 0;
        if (buf_reserve(&kws, n * (Py_ssize_t)sizeof(Kw)) < 0) {
            Py_DECREF(toks);
            goto fail;
        }
        Kw *kw = (Kw *)kws.data;
        Py_ssize_t m = 0;
        int err = 0;
        for (Py_ssize_t i = 0; i < n && !err; i++) {
            PyObject *w = items[i];
            if (!PyUnicode_Check(w)) {
                PyErr_SetString(PyExc_TypeError, "tokens must be str");
                err = 1;
                break;
            }
            if (!is_content(w)) continue;
            Py_hash_t h = PyObject_Hash(w);
            if (h == -1) {
                err = 1;
                break;
            }
            Py_ssize_t j = 0;
            for (; j < m; j++) {
                if (kw[j].word == w) break; /* the segmenter's tokens share one object per word */
                if (kw[j].hash != h) continue;
                int eq = PyUnicode_Compare(kw[j].word, w);
                if (eq == -1 && PyErr_Occurred()) {
                    err = 1;
                    break;
                }
                if (eq == 0) break;
            }
            if (err) break;
            if (j < m) {
                kw[j].count++;
            } else {
                kw[m].word = w;
                kw[m].hash = h;
                kw[m].count = 1;
                m++;
            }
        }
        for (Py_ssize_t j = 0; j < m && !err; j++) {
            double weight = default_idf;
            if (idf_of(&seen, idf, default_idf, kw[j].word, kw[j].hash, &weight) < 0) err = 1;
            kw[j].score = -(double)kw[j].count * weight;
        }
        for (Py_ssize_t i = 1; i < m && !err; i++) { /* insertion sort: a post holds a few dozen words */
            Kw v = kw[i];
            Py_ssize_t j = i;
            while (j > 0 && kw_before(&v, &kw[j - 1], &err)) {
                kw[j] = kw[j - 1];
                j--;
            }
            kw[j] = v;
        }
        if (!err) {
            Py_ssize_t top = m < k ? m : (k > 0 ? k : 0);
            chosen = PyList_New(top);
            if (chosen == NULL) err = 1;
            for (Py_ssize_t j = 0; j < top && !err; j++) {
                Py_INCREF(kw[j].word);
                PyList_SET_ITEM(chosen, j, kw[j].word);
            }
            PyObject *joined = err ? NULL : PyUnicode_Join(sep, chosen);
            Py_CLEAR(chosen);
            if (joined == NULL) err = 1;
            else PyList_SET_ITEM(out, d, joined);
        }
        Py_DECREF(toks);
        if (err) goto fail;
    }
    Py_DECREF(seq);
    PyMem_Free(kws.data);
    PyMem_Free(seen.slots);
    return out;
fail:
    Py_XDECREF(chosen);
    Py_XDECREF(out);
    Py_DECREF(seq);
    PyMem_Free(kws.data);
    PyMem_Free(seen.slots);
    return NULL;
}

/* --------------------------------------------------------------------------------------------------- module */

static PyMethodDef methods[] = {
    {"word_counts", word_counts, METH_VARARGS,
     "word_counts(token_lists, negators, polarity, scope, n_features) -> (indptr, indices, counts)"},
    {"char_counts", char_counts, METH_VARARGS,
     "char_counts(texts, n_max, n_features, clean) -> (indptr, indices, counts); clean: None (texts cleaned) or the"
     " cleaning function, for the texts this module does not clean itself"},
    {"weighted_rows", weighted_rows, METH_VARARGS,
     "weighted_rows(w_indptr, w_indices, w_data, w_scale, c_indptr, c_indices, c_data, c_scale, offset)"
     " -> (indptr, indices, data)"},
    {"csr_dense", csr_dense, METH_VARARGS,
     "csr_dense(indptr, indices, data, dense, n_features, n_cols) -> float64 products (scipy's sums)"},
    {"segment_tokens", segment_tokens, METH_VARARGS,
     "segment_tokens(texts, cut, cut_args, stopwords, onechar) -> the content tokens of each text"
     " (segment.Segmenter.tokens)"},
    {"unchanged_texts", unchanged_texts, METH_VARARGS,
     "unchanged_texts(values, bitmap, max_chars, translate) -> each value normalised here, else None"},
    {"keywords_joined", keywords_joined, METH_VARARGS,
     "keywords_joined(token_lists, idf, default_idf, k, sep) -> the k best words of each list joined by sep"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_speedups", "Compiled fast paths of the text stage (nlp/normalize.py, segment.py, features.py, keywords.py).", -1, methods, NULL, NULL, NULL, NULL,
};

#ifndef YUQING_SOURCE_SHA256
#define YUQING_SOURCE_SHA256 ""  /* built without setup.py: nlp/__init__.py treats it as stale */
#endif

PyMODINIT_FUNC PyInit__speedups(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddStringConstant(m, "SOURCE_SHA256", YUQING_SOURCE_SHA256) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
