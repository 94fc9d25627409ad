/* An audit hook that calls Python only for the events it is told to watch.
 *
 * A Python audit hook is called for every audit event of the process, and most of them are
 * `builtins.id` (55 000 while scikit-learn is imported, against 1 400 `open`): calling even a
 * function that returns at once costs about a microsecond each, which made imports 9% and
 * id()-heavy code (copy.deepcopy) up to 60% slower in the elastic kernel. Here the event name
 * is compared in C and the Python callback runs only for watched events.
 *
 * Built by hatch_build.py when a C compiler is there; elastic_kernel.lineage.effects falls back
 * to a Python hook without it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_WATCHED 64
#define MAX_EVENT_LENGTH 64

static PyObject *callback = NULL;
static char watched[MAX_WATCHED][MAX_EVENT_LENGTH];
static Py_ssize_t watched_count = 0;

static int
is_watched(const char *event)
{
    for (Py_ssize_t i = 0; i < watched_count; i++) {
        /* Most events differ in their first byte: no call to strcmp for them. */
        if (watched[i][0] == event[0] && strcmp(watched[i], event) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
hook(const char *event, PyObject *args, void *user_data)
{
    (void)user_data;
    if (callback == NULL || !is_watched(event)) {
        return 0;
    }
    PyObject *result = PyObject_CallFunction(callback, "sO", event, args);
    if (result == NULL) {
        /* A hook that fails aborts the operation that raised the event: the callback never
         * means to, so whatever it raised is dropped, as the Python hook does. */
        PyErr_Clear();
        return 0;
    }
    Py_DECREF(result);
    return 0;
}

static PyObject *
install(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "install(callback, events) takes two arguments");
        return NULL;
    }
    if (callback != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the audit hook is already installed");
        return NULL;
    }
    if (!PyCallable_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "callback must be callable");
        return NULL;
    }
    if (PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "events must be a sequence of str, not a str");
        return NULL;
    }
    PyObject *events = PySequence_Fast(args[1], "events must be a sequence of str");
    if (events == NULL) {
        return NULL;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(events);
    if (count > MAX_WATCHED) {
        Py_DECREF(events);
        PyErr_SetString(PyExc_ValueError, "too many events to watch");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t length = 0;
        const char *name = PyUnicode_AsUTF8AndSize(PySequence_Fast_GET_ITEM(events, i), &length);
        if (name == NULL || length == 0 || length >= MAX_EVENT_LENGTH) {
            Py_DECREF(events);
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "an event name is empty or too long");
            }
            return NULL;
        }
        memcpy(watched[i], name, (size_t)length + 1);
    }
    Py_DECREF(events);
    watched_count = count;
    Py_INCREF(args[0]);
    callback = args[0];
    if (PySys_AddAuditHook(hook, NULL) < 0) {
        Py_CLEAR(callback);
        watched_count = 0;
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"install", (PyCFunction)(void (*)(void))install, METH_FASTCALL,
     "install(callback, events): call callback(event, args) for these audit events only. "
     "Once per process; audit hooks cannot be removed."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_audit_hook", "An audit hook filtered in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__audit_hook(void)
{
    return PyModule_Create(&module_def);
}
