/* Native flow path of the sFlow collector (see collector/sflow/fastpath.py).
 *
 * Two functions over one datagram's bytes:
 *
 *   scan(data) -> None | (agent, sub_agent, sequence, uptime, samples, unknown_samples,
 *                         native_flows, others)
 *       Checks the datagram's framing exactly as decoder.py does and finds the flow samples
 *       whose records are one sampled Ethernet header carrying IPv4/IPv6 (+ extended_switch):
 *       those are counted in native_flows. Every other sample is listed in `others` as
 *       (tag, start, end) for the Python path. None means the full decoder would report an
 *       error somewhere: the caller hands the whole datagram to it. No side effects.
 *
 *   apply(data, agent, table) -> None
 *       Adds each native flow sample of a datagram that scan() accepted to `table`:
 *       {(agent, raw_key): [samples, packets, bytes]}. raw_key is bytes:
 *       vlan flag (1) + vlan u32 (4) + src mac (6) + dst mac (6) + protocol (1) + address
 *       length (1) + src address + dst address. Text tags are made from it only at flush.
 *
 *   recv_batch(fd, max_count) -> [(datagram, source address), ...]
 *       Up to max_count datagrams already queued on a UDP socket, with one recvmmsg() call
 *       (MSG_DONTWAIT): [] when none is waiting. The listener waits with poll() itself.
 *
 * The rules mirror fastpath._ethernet_key and headers.py; test_fastpath.py compares the native,
 * pure-Python and full paths on every fixture and on fuzzed datagrams.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_SAMPLES 1000
#define MAX_RECORDS 1000
#define MAX_VLAN_TAGS 8
#define KEY_MAX (1 + 4 + 6 + 6 + 1 + 1 + 16 + 16)
#define RTMETRIC ((4300u << 12) | 1002u)
#define RTFLOW ((4300u << 12) | 1003u)

static inline uint32_t rd32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int is_vlan_tpid(unsigned int t) {
    return t == 0x8100 || t == 0x88A8 || t == 0x9100 || t == 0x9200 || t == 0x9300;
}

static int is_ipv6_ext(unsigned int nh) {
    return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60 || nh == 135 || nh == 139 ||
           nh == 140;
}

typedef struct {
    unsigned char key[KEY_MAX];
    Py_ssize_t key_len;
    uint32_t frame_length;
    uint32_t rate;
} Flow;

/* The sampled header record at [off, end): 1 and key filled, or 0 (not a simple one). */
static int ethernet_key(const unsigned char *d, Py_ssize_t off, Py_ssize_t end, Flow *f) {
    if (off + 16 > end) return 0;
    uint32_t protocol = rd32(d + off), frame_length = rd32(d + off + 4);
    uint32_t header_length = rd32(d + off + 12);
    Py_ssize_t h0 = off + 16;
    if (protocol != 1 || (Py_ssize_t)header_length > end - h0 || header_length < 14) return 0;
    const unsigned char *h = d + h0;
    Py_ssize_t n = header_length, pos = 14;
    unsigned int ether_type = (unsigned int)(h[12] << 8 | h[13]);
    int have_vlan = 0;
    uint32_t vlan = 0;
    int tags = 0;
    while (is_vlan_tpid(ether_type)) {
        if (tags == MAX_VLAN_TAGS || pos + 4 > n) return 0;
        if (tags == 0) {
            have_vlan = 1;
            vlan = (uint32_t)((h[pos] << 8 | h[pos + 1]) & 0x0FFF);
        }
        ether_type = (unsigned int)(h[pos + 2] << 8 | h[pos + 3]);
        pos += 4;
        tags++;
    }
    unsigned char *k = f->key;
    k[0] = (unsigned char)have_vlan;
    k[1] = (unsigned char)(vlan >> 24); k[2] = (unsigned char)(vlan >> 16);
    k[3] = (unsigned char)(vlan >> 8); k[4] = (unsigned char)vlan;
    memcpy(k + 5, h + 6, 6);  /* src mac */
    memcpy(k + 11, h, 6);     /* dst mac */
    if (ether_type == 0x0800) {
        if (pos + 20 > n || (h[pos] >> 4) != 4 || (h[pos] & 0x0F) < 5) return 0;
        k[17] = h[pos + 9];
        k[18] = 4;
        memcpy(k + 19, h + pos + 12, 8);
        f->key_len = 27;
    } else if (ether_type == 0x86DD) {
        if (pos + 40 > n || (h[pos] >> 4) != 6) return 0;
        if (is_ipv6_ext(h[pos + 6])) return 0;
        k[17] = h[pos + 6];
        k[18] = 16;
        memcpy(k + 19, h + pos + 8, 32);
        f->key_len = 51;
    } else {
        return 0;
    }
    f->frame_length = frame_length;
    return 1;
}

/* A flow sample at [off, end) with tag 1 or 3: 1 simple (f filled), 0 not simple, -1 error. */
static int simple_flow(const unsigned char *d, Py_ssize_t off, Py_ssize_t end, uint32_t tag,
                       Flow *f) {
    Py_ssize_t rec;
    uint32_t n;
    if (tag == 1) {
        if (off + 32 > end) return -1;
        f->rate = rd32(d + off + 8);
        n = rd32(d + off + 28);
        rec = off + 32;
    } else {
        if (off + 44 > end) return -1;
        f->rate = rd32(d + off + 12);
        n = rd32(d + off + 40);
        rec = off + 44;
    }
    if (n > MAX_RECORDS) return -1;
    int have_key = 0, simple = 1;
    uint32_t switch_vlan = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (rec + 8 > end) return -1;
        uint32_t rtag = rd32(d + rec), rlen = rd32(d + rec + 4);
        Py_ssize_t start = rec + 8, stop = start + (Py_ssize_t)rlen;
        if (stop > end) return -1;
        if (rtag == 1 && !have_key) {
            if (!ethernet_key(d, start, stop, f)) simple = 0;
            have_key = 1;
        } else if (rtag == 1001) {
            if (start + 16 > stop) return -1;
            switch_vlan = rd32(d + start);
        } else {
            simple = 0;  /* the Python path decodes and checks the rest */
        }
        rec = start + (((Py_ssize_t)rlen + 3) & ~(Py_ssize_t)3);
    }
    if (!simple || !have_key) return 0;
    if (!f->key[0] && switch_vlan) {
        f->key[0] = 1;
        f->key[1] = (unsigned char)(switch_vlan >> 24); f->key[2] = (unsigned char)(switch_vlan >> 16);
        f->key[3] = (unsigned char)(switch_vlan >> 8); f->key[4] = (unsigned char)switch_vlan;
    }
    return 1;
}

/* Walk the datagram framing; calls visit(tag, start, end) per sample. -1 on a framing error. */
typedef int (*visit_fn)(void *ctx, uint32_t tag, Py_ssize_t start, Py_ssize_t end);

static int walk(const unsigned char *d, Py_ssize_t size, Py_ssize_t *agent_off,
                Py_ssize_t *agent_len, uint32_t hdr[4], visit_fn visit, void *ctx) {
    if (size < 28) return -1;
    if (rd32(d) != 5) return -1;
    uint32_t at = rd32(d + 4);
    Py_ssize_t off;
    if (at == 1) off = 12;
    else if (at == 2) off = 24;
    else return -1;
    if (size < off + 16) return -1;
    *agent_off = 8;
    *agent_len = off - 8;
    for (int i = 0; i < 4; i++) hdr[i] = rd32(d + off + 4 * i);
    uint32_t declared = hdr[3];
    if (declared > MAX_SAMPLES) return -1;
    off += 16;
    for (uint32_t i = 0; i < declared; i++) {
        if (off + 8 > size) return -1;
        uint32_t tag = rd32(d + off), length = rd32(d + off + 4);
        Py_ssize_t start = off + 8, end = start + (Py_ssize_t)length;
        if (end > size) return -1;
        if (visit(ctx, tag, start, end) < 0) return -1;
        off = start + (((Py_ssize_t)length + 3) & ~(Py_ssize_t)3);
    }
    if (off < size) return -1;
    return 0;
}

typedef struct {
    const unsigned char *d;
    PyObject *others;
    long unknown, native;
} ScanCtx;

static int scan_visit(void *vctx, uint32_t tag, Py_ssize_t start, Py_ssize_t end) {
    ScanCtx *c = (ScanCtx *)vctx;
    if (tag == 1 || tag == 3) {
        Flow f;
        int r = simple_flow(c->d, start, end, tag, &f);
        if (r < 0) return -1;
        if (r == 1) {
            c->native++;
            return 0;
        }
    } else if (tag != 2 && tag != 4 && tag != 5 && tag != RTMETRIC && tag != RTFLOW) {
        c->unknown++;
        return 0;
    }
    PyObject *item = Py_BuildValue("(Inn)", tag, start, end);
    if (item == NULL) return -1;
    int rc = PyList_Append(c->others, item);
    Py_DECREF(item);
    return rc;
}

static PyObject *scan(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer buf;
    if (PyObject_GetBuffer(arg, &buf, PyBUF_SIMPLE) < 0) return NULL;
    ScanCtx c = {(const unsigned char *)buf.buf, PyList_New(0), 0, 0};
    if (c.others == NULL) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    Py_ssize_t agent_off, agent_len;
    uint32_t hdr[4];
    int rc = walk(c.d, buf.len, &agent_off, &agent_len, hdr, scan_visit, &c);
    if (rc < 0) {
        PyBuffer_Release(&buf);
        Py_DECREF(c.others);
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    PyObject *res = Py_BuildValue("(y#IIIIllN)", (const char *)c.d + agent_off, agent_len,
                                  hdr[0], hdr[1], hdr[2], hdr[3], c.unknown, c.native, c.others);
    PyBuffer_Release(&buf);
    return res;
}

typedef struct {
    const unsigned char *d;
    PyObject *agent, *table;
} ApplyCtx;

static int add_to(PyObject *list, Py_ssize_t i, PyObject *inc) {
    PyObject *old = PyList_GET_ITEM(list, i);
    PyObject *sum = PyNumber_Add(old, inc);
    if (sum == NULL) return -1;
    PyList_SET_ITEM(list, i, sum);
    Py_DECREF(old);
    return 0;
}

static int apply_visit(void *vctx, uint32_t tag, Py_ssize_t start, Py_ssize_t end) {
    ApplyCtx *c = (ApplyCtx *)vctx;
    if (tag != 1 && tag != 3) return 0;
    Flow f;
    if (simple_flow(c->d, start, end, tag, &f) != 1) return 0;
    uint64_t rate = f.rate ? f.rate : 1;  /* rate 0 is malformed: count the sample as itself */
    PyObject *raw = PyBytes_FromStringAndSize((const char *)f.key, f.key_len);
    if (raw == NULL) return -1;
    PyObject *key = PyTuple_Pack(2, c->agent, raw);
    Py_DECREF(raw);
    if (key == NULL) return -1;
    PyObject *stat = PyDict_GetItemWithError(c->table, key);
    int rc = -1;
    if (stat == NULL) {
        if (PyErr_Occurred()) goto done;
        stat = Py_BuildValue("[iKK]", 1, (unsigned long long)rate,
                             (unsigned long long)f.frame_length * rate);
        if (stat == NULL) goto done;
        rc = PyDict_SetItem(c->table, key, stat);
        Py_DECREF(stat);
        goto done;
    }
    if (!PyList_Check(stat) || PyList_GET_SIZE(stat) != 3) {
        PyErr_SetString(PyExc_TypeError, "flow table values must be [samples, packets, bytes]");
        goto done;
    }
    PyObject *one = PyLong_FromLong(1);
    PyObject *pk = PyLong_FromUnsignedLongLong(rate);
    PyObject *by = PyLong_FromUnsignedLongLong((unsigned long long)f.frame_length * rate);
    if (one && pk && by && add_to(stat, 0, one) == 0 && add_to(stat, 1, pk) == 0 &&
        add_to(stat, 2, by) == 0)
        rc = 0;
    Py_XDECREF(one);
    Py_XDECREF(pk);
    Py_XDECREF(by);
done:
    Py_DECREF(key);
    return rc;
}

static PyObject *apply(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *data, *agent, *table;
    if (!PyArg_ParseTuple(args, "OOO!", &data, &agent, &PyDict_Type, &table)) return NULL;
    Py_buffer buf;
    if (PyObject_GetBuffer(data, &buf, PyBUF_SIMPLE) < 0) return NULL;
    ApplyCtx c = {(const unsigned char *)buf.buf, agent, table};
    Py_ssize_t agent_off, agent_len;
    uint32_t hdr[4];
    int rc = walk(c.d, buf.len, &agent_off, &agent_len, hdr, apply_visit, &c);
    PyBuffer_Release(&buf);
    if (rc < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "datagram not accepted by scan()");
        return NULL;
    }
    Py_RETURN_NONE;
}

#define BATCH_MAX 64
#define DGRAM_MAX 65535

static unsigned char batch_buf[BATCH_MAX][DGRAM_MAX];

static PyObject *recv_batch(PyObject *self, PyObject *args) {
    (void)self;
    int fd, max_count;
    if (!PyArg_ParseTuple(args, "ii", &fd, &max_count)) return NULL;
    if (max_count < 1) max_count = 1;
    if (max_count > BATCH_MAX) max_count = BATCH_MAX;
    struct mmsghdr msgs[BATCH_MAX];
    struct iovec iov[BATCH_MAX];
    struct sockaddr_storage addrs[BATCH_MAX];
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)max_count);
    for (int i = 0; i < max_count; i++) {
        iov[i].iov_base = batch_buf[i];
        iov[i].iov_len = DGRAM_MAX;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &addrs[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(addrs[i]);
    }
    /* non-blocking, so the GIL stays held: it also guards the static buffers */
    int n = recvmmsg(fd, msgs, (unsigned int)max_count, MSG_DONTWAIT, NULL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return PyList_New(0);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (int i = 0; i < n; i++) {
        char host[INET6_ADDRSTRLEN] = "";
        struct sockaddr_storage *sa = &addrs[i];
        if (sa->ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
        else if (sa->ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof(host));
        PyObject *item = Py_BuildValue("(y#s)", (const char *)batch_buf[i],
                                       (Py_ssize_t)msgs[i].msg_len, host);
        if (item == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, item);
    }
    return out;
}

static PyMethodDef methods[] = {
    {"recv_batch", recv_batch, METH_VARARGS, "recvmmsg(): queued datagrams and their sources."},
    {"scan", scan, METH_O, "Check a datagram's framing; count native flows; list the rest."},
    {"apply", apply, METH_VARARGS, "Add a scanned datagram's native flows to a raw-key table."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_flowscan", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__flowscan(void) { return PyModule_Create(&module); }
