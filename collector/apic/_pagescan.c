/* Native page scanner of the APIC build (see collector/apic/pagescan.py).
 *
 *   scan(body, names, repeating=0) -> [(cls, span, v_0, ..., v_k-1), ...]
 *
 * One record per element of the reply's "imdata" array, in order, without building the
 * element's dictionaries: a 4.18M-entry build spent a third of its CPU turning every attribute of
 * every object into Python objects and freeing them again, when the tracker reads five of them.
 *
 *   cls    the element's class name, or None when the element is not {cls: {...}} with exactly
 *          one key (the caller then decodes it whole);
 *   span   slice(start, end) of the element's bytes in body: body[span] is the element's JSON;
 *   v_i    the attribute names[i] of the element's "attributes" object: str for a JSON string,
 *          bytes (the raw JSON text) for any other value, None when absent. A repeated key keeps
 *          its last value, as json.loads and orjson do. Bit i of `repeating` says names[i]'s
 *          values repeat (flags, ifId, pcTag): equal values are then one str object (a memo
 *          table in this module, the only state it keeps; it changes identity, not values).
 *
 * The whole body is validated as JSON on the way (strings, escapes, UTF-8, numbers, nesting);
 * anything malformed raises ValueError and the caller falls back to a full decoder, which says
 * what is wrong. No side effects. test_pagescan.py compares it with the
 * pure-Python path on real simulator pages and on fuzzed bodies.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_NAMES 16
#define MAX_DEPTH 256

typedef struct {
    const unsigned char *base;
    const unsigned char *p;
    const unsigned char *end;
    unsigned char *buf; /* unescape scratch */
    Py_ssize_t cap;
    int depth;
} Cur;

typedef struct {
    const unsigned char *s; /* decoded text (into body or Cur.buf) */
    Py_ssize_t n;
    int escaped; /* text lives in Cur.buf */
    int ascii;
} Str;

static int fail(Cur *c, const char *what) {
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "%s at byte %zd", what, (Py_ssize_t)(c->p - c->base));
    return -1;
}

static inline void ws(Cur *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int grow(Cur *c, Py_ssize_t need) {
    if (need <= c->cap)
        return 0;
    Py_ssize_t cap = c->cap ? c->cap : 256;
    while (cap < need)
        cap *= 2;
    unsigned char *nb = PyMem_Realloc(c->buf, (size_t)cap);
    if (!nb) {
        PyErr_NoMemory();
        return -1;
    }
    c->buf = nb;
    c->cap = cap;
    return 0;
}

static int hex4(const unsigned char *p, unsigned int *out) {
    unsigned int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char ch = p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9')
            v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            v |= (unsigned)(ch - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* A JSON string at c->p (on its opening quote). Escapes are decoded into c->buf; the bytes are
 * checked as UTF-8 when the text is turned into a str (PyUnicode_DecodeUTF8), and here for keys
 * and skipped strings only as far as JSON itself requires (no raw control characters). */
static int parse_string(Cur *c, Str *out) {
    const unsigned char *p = c->p + 1, *end = c->end;
    const unsigned char *start = p;
    int ascii = 1;
    while (p < end && *p != '"' && *p != '\\') {
        if (*p < 0x20) {
            c->p = p;
            return fail(c, "control character in string");
        }
        ascii &= *p < 0x80;
        p++;
    }
    if (p >= end) {
        c->p = p;
        return fail(c, "unterminated string");
    }
    if (*p == '"') {
        out->s = start;
        out->n = p - start;
        out->escaped = 0;
        out->ascii = ascii;
        c->p = p + 1;
        return 0;
    }
    /* escapes: copy what we have, then decode */
    Py_ssize_t n = p - start;
    if (grow(c, n + 64) < 0)
        return -1;
    memcpy(c->buf, start, (size_t)n);
    while (p < end && *p != '"') {
        if (grow(c, n + 8) < 0)
            return -1;
        unsigned char ch = *p;
        if (ch < 0x20) {
            c->p = p;
            return fail(c, "control character in string");
        }
        if (ch != '\\') {
            ascii &= ch < 0x80;
            c->buf[n++] = ch;
            p++;
            continue;
        }
        if (p + 1 >= end) {
            c->p = p;
            return fail(c, "unterminated string");
        }
        unsigned char e = p[1];
        p += 2;
        switch (e) {
        case '"': c->buf[n++] = '"'; break;
        case '\\': c->buf[n++] = '\\'; break;
        case '/': c->buf[n++] = '/'; break;
        case 'b': c->buf[n++] = '\b'; break;
        case 'f': c->buf[n++] = '\f'; break;
        case 'n': c->buf[n++] = '\n'; break;
        case 'r': c->buf[n++] = '\r'; break;
        case 't': c->buf[n++] = '\t'; break;
        case 'u': {
            unsigned int cp;
            if (p + 4 > end || hex4(p, &cp) < 0) {
                c->p = p;
                return fail(c, "bad \\u escape");
            }
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned int lo;
                if (p + 6 <= end && p[0] == '\\' && p[1] == 'u' && hex4(p + 2, &lo) == 0 &&
                    lo >= 0xDC00 && lo <= 0xDFFF) {
                    p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else {
                    c->p = p;
                    return fail(c, "lone surrogate in \\u escape");
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                c->p = p;
                return fail(c, "lone surrogate in \\u escape");
            }
            if (cp < 0x80) {
                c->buf[n++] = (unsigned char)cp;
            } else {
                ascii = 0;
                if (cp < 0x800) {
                    c->buf[n++] = (unsigned char)(0xC0 | (cp >> 6));
                } else {
                    if (cp < 0x10000) {
                        c->buf[n++] = (unsigned char)(0xE0 | (cp >> 12));
                    } else {
                        c->buf[n++] = (unsigned char)(0xF0 | (cp >> 18));
                        c->buf[n++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
                    }
                    c->buf[n++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                }
                c->buf[n++] = (unsigned char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            c->p = p - 1;
            return fail(c, "bad escape");
        }
    }
    if (p >= end) {
        c->p = p;
        return fail(c, "unterminated string");
    }
    out->s = c->buf;
    out->n = n;
    out->escaped = 1;
    out->ascii = ascii;
    c->p = p + 1;
    return 0;
}

/* Values that repeat across a page (flags, ifId, pcTag, status) come back as the same str object
 * each time: no allocation, and the hash the tracker's dict lookups need is computed once. A small
 * direct-mapped table per name; a miss just replaces the slot. Only affects object identity. */
#define MEMO_SLOTS 2048
#define MEMO_MAX_LEN 48
static PyObject *memo[MAX_NAMES][MEMO_SLOTS];

static PyObject *str_of(const Str *s);

static PyObject *memo_str(int name, const Str *s) {
    if (!s->ascii || s->n > MEMO_MAX_LEN)
        return str_of(s);
    uint32_t h = 2166136261u;
    for (Py_ssize_t i = 0; i < s->n; i++)
        h = (h ^ s->s[i]) * 16777619u;
    PyObject **slot = &memo[name][h & (MEMO_SLOTS - 1)];
    PyObject *u = *slot;
    if (u && PyUnicode_GET_LENGTH(u) == s->n && memcmp(PyUnicode_DATA(u), s->s, (size_t)s->n) == 0)
        return Py_NewRef(u);
    u = str_of(s);
    if (u)
        Py_XSETREF(*slot, Py_NewRef(u));
    return u;
}

static PyObject *str_of(const Str *s) {
    if (s->ascii) {
        PyObject *u = PyUnicode_New(s->n, 127);
        if (u)
            memcpy(PyUnicode_DATA(u), s->s, (size_t)s->n);
        return u;
    }
    return PyUnicode_DecodeUTF8((const char *)s->s, s->n, "strict");
}

static int skip_value(Cur *c);

/* A string whose text is not kept (keys, skipped values) must still be valid UTF-8, as the full
 * decoder insists. */
static int checked_string(Cur *c, Str *s) {
    if (parse_string(c, s) < 0)
        return -1;
    if (!s->ascii) {
        PyObject *u = str_of(s);
        if (!u)
            return -1;
        Py_DECREF(u);
    }
    return 0;
}

static int skip_number(Cur *c) {
    const unsigned char *p = c->p, *end = c->end;
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return fail(c, "bad number");
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return fail(c, "bad value");
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') {
            c->p = p;
            return fail(c, "bad number");
        }
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9') {
            c->p = p;
            return fail(c, "bad number");
        }
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    c->p = p;
    return 0;
}

static int literal(Cur *c, const char *word, Py_ssize_t n) {
    if (c->end - c->p < n || memcmp(c->p, word, (size_t)n) != 0)
        return fail(c, "bad value");
    c->p += n;
    return 0;
}

/* Each member of the object at c->p ('{'): `fn` is called with the member's key and index and
 * c->p on its value, which it must consume. Every object in a reply is read through here. The
 * key may live in the unescape scratch buffer: `fn` uses it before parsing the value. */
typedef int (*member_fn)(Cur *c, const Str *key, Py_ssize_t index, void *ctx);

static int each_member(Cur *c, member_fn fn, void *ctx) {
    if (++c->depth > MAX_DEPTH)
        return fail(c, "nesting too deep");
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        c->depth--;
        return 0;
    }
    for (Py_ssize_t i = 0;; i++) {
        Str k;
        ws(c);
        if (c->p >= c->end || *c->p != '"')
            return fail(c, "expected a key");
        if (checked_string(c, &k) < 0)
            return -1;
        ws(c);
        if (c->p >= c->end || *c->p != ':')
            return fail(c, "expected ':'");
        c->p++;
        ws(c);
        if (fn(c, &k, i, ctx) < 0)
            return -1;
        ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '}') {
            c->p++;
            c->depth--;
            return 0;
        }
        return fail(c, "expected ',' or '}'");
    }
}

static int skip_member(Cur *c, const Str *key, Py_ssize_t index, void *ctx) {
    (void)key, (void)index, (void)ctx;
    return skip_value(c);
}

static int skip_array(Cur *c) {
    if (++c->depth > MAX_DEPTH)
        return fail(c, "nesting too deep");
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        c->depth--;
        return 0;
    }
    for (;;) {
        if (skip_value(c) < 0)
            return -1;
        ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == ']') {
            c->p++;
            c->depth--;
            return 0;
        }
        return fail(c, "expected ',' or ']'");
    }
}

static int skip_value(Cur *c) {
    ws(c);
    if (c->p >= c->end)
        return fail(c, "unexpected end");
    switch (*c->p) {
    case '{': return each_member(c, skip_member, NULL);
    case '[': return skip_array(c);
    case '"': {
        Str s;
        return checked_string(c, &s);
    }
    case 't': return literal(c, "true", 4);
    case 'f': return literal(c, "false", 5);
    case 'n': return literal(c, "null", 4);
    default: return skip_number(c);
    }
}

static inline int key_is(const Str *k, const char *lit, Py_ssize_t n) {
    return k->n == n && memcmp(k->s, lit, (size_t)n) == 0;
}

typedef struct {
    const char *s[MAX_NAMES];
    Py_ssize_t n[MAX_NAMES];
    Py_ssize_t count;
    unsigned long memo; /* bit i: names[i]'s values repeat (memo_str) */
} Names;

/* One element being read: {cls: {"attributes": {...}, "children": [...]}}. */
typedef struct {
    const Names *names;
    PyObject *vals[MAX_NAMES];
    PyObject *cls;
    Py_ssize_t keys;
} Element;

static void clear_vals(Element *el) {
    for (Py_ssize_t i = 0; i < el->names->count; i++)
        Py_CLEAR(el->vals[i]);
}

/* A member of "attributes": the value of a wanted name into vals[]. */
static int attr_member(Cur *c, const Str *key, Py_ssize_t index, void *ctx) {
    Element *el = ctx;
    const Names *names = el->names;
    Py_ssize_t hit = -1;
    (void)index;
    for (Py_ssize_t i = 0; i < names->count; i++)
        if (key->n == names->n[i] && memcmp(key->s, names->s[i], (size_t)key->n) == 0) {
            hit = i;
            break;
        }
    if (hit < 0)
        return skip_value(c);
    PyObject *v;
    if (c->p < c->end && *c->p == '"') {
        Str s;
        if (parse_string(c, &s) < 0)
            return -1;
        v = (names->memo >> hit & 1) ? memo_str((int)hit, &s) : str_of(&s);
    } else {
        const unsigned char *start = c->p;
        if (skip_value(c) < 0)
            return -1;
        v = PyBytes_FromStringAndSize((const char *)start, c->p - start);
    }
    if (!v)
        return -1;
    Py_XSETREF(el->vals[hit], v); /* a repeated key: the last one wins */
    return 0;
}

/* A member of the class's body: "attributes" is read, anything else skipped. */
static int body_member(Cur *c, const Str *key, Py_ssize_t index, void *ctx) {
    (void)index;
    if (!key_is(key, "attributes", 10))
        return skip_value(c);
    clear_vals(ctx); /* a repeated "attributes": the last one wins */
    if (c->p < c->end && *c->p == '{')
        return each_member(c, attr_member, ctx);
    return skip_value(c);
}

/* A member of the element: the first names the class; more than one makes it odd. */
static int element_member(Cur *c, const Str *key, Py_ssize_t index, void *ctx) {
    Element *el = ctx;
    el->keys = index + 1;
    if (index > 0)
        return skip_value(c);
    el->cls = str_of(key);
    if (!el->cls)
        return -1;
    if (c->p < c->end && *c->p == '{')
        return each_member(c, body_member, el);
    return skip_value(c);
}

/* One imdata element → one record appended to out. */
static int read_element(Cur *c, const Names *names, PyObject *out) {
    Element el = {names, {0}, NULL, 0};
    PyObject *rec = NULL, *span = NULL;
    int ok = -1;
    ws(c);
    Py_ssize_t start = c->p - c->base;
    if (c->p < c->end && *c->p == '{') {
        if (each_member(c, element_member, &el) < 0)
            goto done;
        if (el.keys != 1) {
            Py_CLEAR(el.cls);
            clear_vals(&el);
        }
    } else if (skip_value(c) < 0) {
        goto done;
    }
    {
        PyObject *a = PyLong_FromSsize_t(start), *b = PyLong_FromSsize_t(c->p - c->base);
        if (a && b)
            span = PySlice_New(a, b, NULL);
        Py_XDECREF(a);
        Py_XDECREF(b);
        if (!span)
            goto done;
    }
    rec = PyTuple_New(2 + names->count);
    if (!rec)
        goto done;
    PyTuple_SET_ITEM(rec, 0, el.cls ? el.cls : Py_NewRef(Py_None));
    el.cls = NULL;
    PyTuple_SET_ITEM(rec, 1, span);
    span = NULL;
    for (Py_ssize_t i = 0; i < names->count; i++) {
        PyTuple_SET_ITEM(rec, 2 + i, el.vals[i] ? el.vals[i] : Py_NewRef(Py_None));
        el.vals[i] = NULL;
    }
    ok = PyList_Append(out, rec);
done:
    Py_XDECREF(rec);
    Py_XDECREF(span);
    Py_XDECREF(el.cls);
    clear_vals(&el);
    return ok;
}

/* The reply's top level: "imdata" is read element by element, anything else skipped. */
typedef struct {
    const Names *names;
    PyObject *out;
    int seen_imdata;
} Reply;

static int reply_member(Cur *c, const Str *key, Py_ssize_t index, void *ctx) {
    Reply *r = ctx;
    (void)index;
    if (!key_is(key, "imdata", 6))
        return skip_value(c);
    if (c->p >= c->end || *c->p != '[')
        return fail(c, "imdata is not a list");
    if (r->seen_imdata++ && PyList_SetSlice(r->out, 0, PyList_GET_SIZE(r->out), NULL) < 0)
        return -1; /* a repeated key: the last one wins */
    if (++c->depth > MAX_DEPTH)
        return fail(c, "nesting too deep");
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        c->depth--;
        return 0;
    }
    for (;;) {
        if (read_element(c, r->names, r->out) < 0)
            return -1;
        ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == ']') {
            c->p++;
            c->depth--;
            return 0;
        }
        return fail(c, "expected ',' or ']'");
    }
}

static PyObject *scan(PyObject *self, PyObject *args) {
    Py_buffer view;
    PyObject *names_obj;
    Names names;
    names.memo = 0;
    if (!PyArg_ParseTuple(args, "y*O!|k", &view, &PyTuple_Type, &names_obj, &names.memo))
        return NULL;
    names.count = PyTuple_GET_SIZE(names_obj);
    if (names.count > MAX_NAMES) {
        PyBuffer_Release(&view);
        return PyErr_Format(PyExc_ValueError, "at most %d names", MAX_NAMES);
    }
    for (Py_ssize_t i = 0; i < names.count; i++) {
        PyObject *s = PyTuple_GET_ITEM(names_obj, i);
        if (!PyUnicode_Check(s)) {
            PyBuffer_Release(&view);
            return PyErr_Format(PyExc_TypeError, "names must be str");
        }
        names.s[i] = PyUnicode_AsUTF8AndSize(s, &names.n[i]);
        if (!names.s[i]) {
            PyBuffer_Release(&view);
            return NULL;
        }
    }
    Cur c = {view.buf, view.buf, (const unsigned char *)view.buf + view.len, NULL, 0, 0};
    Reply r = {&names, PyList_New(0), 0};
    if (!r.out)
        goto error;
    ws(&c);
    if (c.p >= c.end || *c.p != '{') {
        fail(&c, "reply is not a JSON object");
        goto error;
    }
    if (each_member(&c, reply_member, &r) < 0)
        goto error;
    ws(&c);
    if (c.p != c.end) {
        fail(&c, "trailing data");
        goto error;
    }
    PyMem_Free(c.buf);
    PyBuffer_Release(&view);
    return r.out;
error:
    PyMem_Free(c.buf);
    PyBuffer_Release(&view);
    Py_XDECREF(r.out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(body, names, repeating=0) -> [(cls, span, *values)]: an APIC reply's imdata."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pagescan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__pagescan(void) { return PyModule_Create(&module); }
