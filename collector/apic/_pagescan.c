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

/* Containers: called on '{' / '['. */
static int skip_object(Cur *c) {
    if (++c->depth > MAX_DEPTH)
        return fail(c, "nesting too deep");
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        c->depth--;
        return 0;
    }
    for (;;) {
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
        if (skip_value(c) < 0)
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
    case '{': return skip_object(c);
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

/* The "attributes" object: values of the wanted names into vals[]. */
static int read_attrs(Cur *c, const Names *names, PyObject **vals) {
    if (++c->depth > MAX_DEPTH)
        return fail(c, "nesting too deep");
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        c->depth--;
        return 0;
    }
    for (;;) {
        Str k;
        ws(c);
        if (c->p >= c->end || *c->p != '"')
            return fail(c, "expected a key");
        if (checked_string(c, &k) < 0)
            return -1;
        if (k.escaped) {
            /* the key lives in the scratch buffer the value may reuse: escaped keys never name
             * an attribute the tracker reads, but must still match exactly when they do */
            if (k.n > 64)
                k.escaped = 2;
            else {
                static unsigned char kb[64];
                memcpy(kb, k.s, (size_t)k.n);
                k.s = kb;
            }
        }
        Py_ssize_t hit = -1;
        if (k.escaped != 2)
            for (Py_ssize_t i = 0; i < names->count; i++)
                if (k.n == names->n[i] && memcmp(k.s, names->s[i], (size_t)k.n) == 0) {
                    hit = i;
                    break;
                }
        ws(c);
        if (c->p >= c->end || *c->p != ':')
            return fail(c, "expected ':'");
        c->p++;
        ws(c);
        if (hit < 0) {
            if (skip_value(c) < 0)
                return -1;
        } else if (c->p < c->end && *c->p == '"') {
            Str v;
            if (parse_string(c, &v) < 0)
                return -1;
            PyObject *u = (names->memo >> hit & 1) ? memo_str((int)hit, &v) : str_of(&v);
            if (!u)
                return -1;
            Py_XSETREF(vals[hit], u);
        } else {
            const unsigned char *s = c->p;
            if (skip_value(c) < 0)
                return -1;
            PyObject *b = PyBytes_FromStringAndSize((const char *)s, c->p - s);
            if (!b)
                return -1;
            Py_XSETREF(vals[hit], b);
        }
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

/* One imdata element → one record appended to out. */
static int read_element(Cur *c, const Names *names, PyObject *out) {
    PyObject *vals[MAX_NAMES] = {0};
    PyObject *cls = NULL, *rec = NULL, *span = NULL;
    int ok = -1;
    ws(c);
    Py_ssize_t start = c->p - c->base;
    if (c->p < c->end && *c->p == '{') {
        c->depth++;
        c->p++;
        ws(c);
        int keys = 0;
        if (c->p < c->end && *c->p == '}') {
            c->p++;
        } else {
            for (;;) {
                Str k;
                ws(c);
                if (c->p >= c->end || *c->p != '"') {
                    fail(c, "expected a key");
                    goto done;
                }
                if (checked_string(c, &k) < 0)
                    goto done;
                keys++;
                if (keys == 1) {
                    cls = str_of(&k);
                    if (!cls)
                        goto done;
                }
                ws(c);
                if (c->p >= c->end || *c->p != ':') {
                    fail(c, "expected ':'");
                    goto done;
                }
                c->p++;
                ws(c);
                if (keys == 1 && c->p < c->end && *c->p == '{') {
                    /* {cls: {"attributes": {...}, "children": [...]}} */
                    c->depth++;
                    c->p++;
                    ws(c);
                    if (c->p < c->end && *c->p == '}') {
                        c->p++;
                    } else {
                        for (;;) {
                            Str bk;
                            ws(c);
                            if (c->p >= c->end || *c->p != '"') {
                                fail(c, "expected a key");
                                goto done;
                            }
                            if (checked_string(c, &bk) < 0)
                                goto done;
                            int is_attrs = key_is(&bk, "attributes", 10);
                            ws(c);
                            if (c->p >= c->end || *c->p != ':') {
                                fail(c, "expected ':'");
                                goto done;
                            }
                            c->p++;
                            ws(c);
                            if (is_attrs && c->p < c->end && *c->p == '{') {
                                for (Py_ssize_t i = 0; i < names->count; i++)
                                    Py_CLEAR(vals[i]);
                                if (read_attrs(c, names, vals) < 0)
                                    goto done;
                            } else {
                                if (is_attrs)
                                    for (Py_ssize_t i = 0; i < names->count; i++)
                                        Py_CLEAR(vals[i]);
                                if (skip_value(c) < 0)
                                    goto done;
                            }
                            ws(c);
                            if (c->p < c->end && *c->p == ',') {
                                c->p++;
                                continue;
                            }
                            if (c->p < c->end && *c->p == '}') {
                                c->p++;
                                break;
                            }
                            fail(c, "expected ',' or '}'");
                            goto done;
                        }
                    }
                    c->depth--;
                } else if (skip_value(c) < 0) {
                    goto done;
                }
                ws(c);
                if (c->p < c->end && *c->p == ',') {
                    c->p++;
                    continue;
                }
                if (c->p < c->end && *c->p == '}') {
                    c->p++;
                    break;
                }
                fail(c, "expected ',' or '}'");
                goto done;
            }
        }
        c->depth--;
        if (keys != 1) {
            Py_CLEAR(cls);
            for (Py_ssize_t i = 0; i < names->count; i++)
                Py_CLEAR(vals[i]);
        }
    } else {
        if (skip_value(c) < 0)
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
    PyTuple_SET_ITEM(rec, 0, cls ? cls : Py_NewRef(Py_None));
    cls = NULL;
    PyTuple_SET_ITEM(rec, 1, span);
    span = NULL;
    for (Py_ssize_t i = 0; i < names->count; i++) {
        PyTuple_SET_ITEM(rec, 2 + i, vals[i] ? vals[i] : Py_NewRef(Py_None));
        vals[i] = NULL;
    }
    ok = PyList_Append(out, rec);
done:
    Py_XDECREF(rec);
    Py_XDECREF(span);
    Py_XDECREF(cls);
    for (Py_ssize_t i = 0; i < names->count; i++)
        Py_XDECREF(vals[i]);
    return ok;
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
    PyObject *out = PyList_New(0);
    int seen_imdata = 0;
    if (!out)
        goto error;
    ws(&c);
    if (c.p >= c.end || *c.p != '{') {
        fail(&c, "reply is not a JSON object");
        goto error;
    }
    c.p++;
    c.depth = 1;
    ws(&c);
    if (c.p < c.end && *c.p == '}') {
        c.p++;
    } else {
        for (;;) {
            Str k;
            ws(&c);
            if (c.p >= c.end || *c.p != '"') {
                fail(&c, "expected a key");
                goto error;
            }
            if (checked_string(&c, &k) < 0)
                goto error;
            int is_imdata = key_is(&k, "imdata", 6);
            ws(&c);
            if (c.p >= c.end || *c.p != ':') {
                fail(&c, "expected ':'");
                goto error;
            }
            c.p++;
            ws(&c);
            if (is_imdata) {
                if (c.p >= c.end || *c.p != '[') {
                    fail(&c, "imdata is not a list");
                    goto error;
                }
                if (seen_imdata++ && PyList_SetSlice(out, 0, PyList_GET_SIZE(out), NULL) < 0)
                    goto error; /* a repeated key: the last one wins */
                c.p++;
                c.depth++;
                ws(&c);
                if (c.p < c.end && *c.p == ']') {
                    c.p++;
                } else {
                    for (;;) {
                        if (read_element(&c, &names, out) < 0)
                            goto error;
                        ws(&c);
                        if (c.p < c.end && *c.p == ',') {
                            c.p++;
                            continue;
                        }
                        if (c.p < c.end && *c.p == ']') {
                            c.p++;
                            break;
                        }
                        fail(&c, "expected ',' or ']'");
                        goto error;
                    }
                }
                c.depth--;
            } else if (skip_value(&c) < 0) {
                goto error;
            }
            ws(&c);
            if (c.p < c.end && *c.p == ',') {
                c.p++;
                continue;
            }
            if (c.p < c.end && *c.p == '}') {
                c.p++;
                break;
            }
            fail(&c, "expected ',' or '}'");
            goto error;
        }
    }
    ws(&c);
    if (c.p != c.end) {
        fail(&c, "trailing data");
        goto error;
    }
    PyMem_Free(c.buf);
    PyBuffer_Release(&view);
    return out;
error:
    PyMem_Free(c.buf);
    PyBuffer_Release(&view);
    Py_XDECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(body, names, repeating=0) -> [(cls, span, *values)]: an APIC reply's imdata."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pagescan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__pagescan(void) { return PyModule_Create(&module); }
