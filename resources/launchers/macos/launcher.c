/*
 * Kiln's macOS launcher: the main executable of an .app bundle, Contents/MacOS/<name>.
 *
 *   <App>.app/Contents/MacOS/<name>                        this program
 *   <App>.app/Contents/Resources/app-bundle/kiln_boot.py   sets sys.path and runs the app's entry point
 *   <App>.app/Contents/Resources/app-bundle/runtime/       bin/python3.X, lib/libpython3.X.dylib, lib/python3.X/
 *
 * It finds its own real path (following symlinks, e.g. /usr/local/bin/<name> -> the bundle), then the runtime's
 * one lib/libpython3.X.dylib (no version is compiled in, so one binary serves every app and Python version),
 * loads it and calls, in this process,
 *   Py_BytesMain({<runtime>/bin/python3.X, "-I", "<bundle>/kiln_boot.py", <arguments>...})
 * and returns its exit code. Running Python inside the bundle's main executable keeps the process the app's
 * own (Dock name and icon, NSBundle.mainBundle, privacy prompts); argv[0] names the bundled interpreter, from
 * which Python finds its home, so sys.executable can start child interpreters (multiprocessing). A runtime
 * without libpython (a static build) is exec'd instead: <runtime>/bin/python3.X -I kiln_boot.py ARGS.
 *
 * The same logic compiles for Linux (with libpython3.X.so.1.0 and /proc/self/exe) so the tests run it there;
 * for macOS it is built without an SDK: the few libSystem functions it calls are declared below and listed in
 * libSystem.tbd. Build with build.py beside this file; see README.md.
 */

#ifdef __APPLE__
typedef __SIZE_TYPE__ size_t;
typedef long ssize_t;
typedef unsigned int uint32_t;
extern int _NSGetExecutablePath(char *buf, uint32_t *bufsize);
/* What the SDK's <stdlib.h> binds realpath to on arm64 and x86_64: the variant that allocates when asked. */
extern char *realpath(const char *path, char *resolved) __asm("_realpath$DARWIN_EXTSN");
extern void *dlopen(const char *path, int mode);
extern void *dlsym(void *handle, const char *name);
extern char *dlerror(void);
extern int access(const char *path, int mode);
extern int execv(const char *path, char *const argv[]);
extern int setenv(const char *name, const char *value, int overwrite);
extern int unsetenv(const char *name);
extern ssize_t write(int fd, const void *buf, size_t count);
extern void *malloc(size_t size);
extern char *strerror(int errnum);
extern int *__error(void);
#define errno (*__error())
#define RTLD_NOW 0x2
#define RTLD_GLOBAL 0x8
#define LIBPYTHON_SUFFIX ".dylib"
#else
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define LIBPYTHON_SUFFIX ".so.1.0"
#endif

#define F_EXISTS 0
#define X_EXECUTABLE 1
#define BIG 4096 /* longest path handled; macOS allows 1024, Linux 4096 */
#define MAX_MINOR 99 /* python3.0 ... python3.99 */
#define BUNDLE_FROM_MACOS "/../Resources/app-bundle"

typedef int (*py_bytes_main_fn)(int argc, char **argv);

static char self_path[BIG];
static char bundle_dir[BIG];
static char lib_path[BIG];
static char python_path[BIG];
static char boot_path[BIG];

static size_t length(const char *text)
{
    size_t n = 0;
    while (text[n] != '\0') {
        n++;
    }
    return n;
}

/* buf = a + b + c (NULs allowed for b and c), or 0 when it would not fit in BIG bytes. */
static int join(char *buf, const char *a, const char *b, const char *c)
{
    const char *parts[3] = {a, b, c};
    size_t used = 0;
    for (int i = 0; i < 3; i++) {
        if (parts[i] == 0) {
            continue;
        }
        size_t n = length(parts[i]);
        if (used + n + 1 > BIG) {
            return 0;
        }
        for (size_t k = 0; k < n; k++) {
            buf[used + k] = parts[i][k];
        }
        used += n;
    }
    buf[used] = '\0';
    return 1;
}

static void say(const char *text)
{
    size_t left = length(text);
    while (left > 0) {
        ssize_t done = write(2, text, left);
        if (done <= 0) {
            return;
        }
        text += done;
        left -= (size_t)done;
    }
}

/* Tell the user why the app cannot start (on stderr, which macOS keeps in the log for apps opened from
 * Finder), then give the exit code for failure. */
static int fail(const char *what, const char *path, const char *detail)
{
    say("This application cannot start: ");
    say(what);
    if (path != 0) {
        say("\n  ");
        say(path);
    }
    if (detail != 0) {
        say("\n  ");
        say(detail);
    }
    say("\nReinstalling the application may fix this.\n");
    return 1;
}

/* The real path of this executable, every symlink resolved. */
static int find_self(void)
{
#ifdef __APPLE__
    char given[BIG];
    uint32_t size = sizeof given;
    if (_NSGetExecutablePath(given, &size) != 0) {
        return 0;
    }
#else
    const char *given = "/proc/self/exe";
#endif
    return realpath(given, self_path) != 0;
}

static int is_prefix(const char *prefix, const char *text)
{
    while (*prefix != '\0') {
        if (*prefix++ != *text++) {
            return 0;
        }
    }
    return 1;
}

/* "3.<minor>" for 0 <= minor <= 99. */
static void version_text(char *out, int minor)
{
    out[0] = '3';
    out[1] = '.';
    if (minor >= 10) {
        out[2] = (char)('0' + minor / 10);
        out[3] = (char)('0' + minor % 10);
        out[4] = '\0';
    } else {
        out[2] = (char)('0' + minor);
        out[3] = '\0';
    }
}

/* Finds runtime/lib/libpython3.X<suffix> (or, without any, runtime/bin/python3.X) and fills lib_path (empty
 * when there is no libpython) and python_path. Returns 0, having reported it, when there is not exactly one. */
static int find_runtime(void)
{
    char version[8], lib_name[64], bin_name[64];
    int libs = 0, pythons = 0;
    lib_path[0] = python_path[0] = '\0';
    for (int minor = 0; minor <= MAX_MINOR; minor++) {
        version_text(version, minor);
        join(lib_name, "/runtime/lib/libpython", version, LIBPYTHON_SUFFIX);
        join(bin_name, "/runtime/bin/python", version, 0);
        char candidate[BIG];
        if (join(candidate, bundle_dir, lib_name, 0) && access(candidate, F_EXISTS) == 0) {
            if (++libs == 1) {
                join(lib_path, candidate, 0, 0);
                join(python_path, bundle_dir, bin_name, 0);
            }
        } else if (libs == 0 && join(candidate, bundle_dir, bin_name, 0) && access(candidate, X_EXECUTABLE) == 0) {
            if (++pythons == 1) {
                join(python_path, candidate, 0, 0);
            }
        }
    }
    if (libs > 1 || (libs == 0 && pythons > 1)) {
        fail("the app holds more than one Python runtime, in", bundle_dir, 0);
        return 0;
    }
    if (libs == 0 && pythons == 0) {
        fail("no Python runtime (runtime/lib/libpython3.X" LIBPYTHON_SUFFIX " or runtime/bin/python3.X) in",
             bundle_dir, 0);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    if (!find_self()) {
        return fail("cannot find where it is installed", argc > 0 ? argv[0] : 0, strerror(errno));
    }
    size_t end = length(self_path);
    while (end > 0 && self_path[end - 1] != '/') {
        end--;
    }
    self_path[end > 0 ? end - 1 : 0] = '\0'; /* now the folder: <App>.app/Contents/MacOS */
    char joined[BIG];
    if (!join(joined, self_path, BUNDLE_FROM_MACOS, 0) || realpath(joined, bundle_dir) == 0) {
        return fail("the app's files are missing:", joined, strerror(errno));
    }
    if (!find_runtime()) {
        return 1;
    }
    if (!join(boot_path, bundle_dir, "/kiln_boot.py", 0) || access(boot_path, F_EXISTS) != 0) {
        return fail("kiln_boot.py is missing:", boot_path, 0);
    }

    /* Finder on old macOS passes a process serial number first; the app never wants it. */
    int first = (argc > 1 && is_prefix("-psn_", argv[1])) ? 2 : 1;
    int count = 3 + (argc > first ? argc - first : 0);
    char **args = malloc(sizeof(char *) * (size_t)(count + 1));
    if (args == 0) {
        return fail("out of memory", 0, 0);
    }
    args[0] = python_path;
    args[1] = "-I";
    args[2] = boot_path;
    for (int i = first; i < argc; i++) {
        args[3 + i - first] = argv[i];
    }
    args[count] = 0;

    /* kiln_boot.py makes this sys.argv[0]: the name the user started, as the sh launcher did. */
    setenv("KILN_ARGV0", argc > 0 ? argv[0] : python_path, 1);
    /* Set by framework Pythons' stubs; they would make the runtime take another program for its executable. */
    unsetenv("__PYVENV_LAUNCHER__");
    unsetenv("PYTHONEXECUTABLE");

    if (lib_path[0] == '\0') {
        execv(python_path, args);
        return fail("the Python runtime could not be started:", python_path, strerror(errno));
    }
    /* RTLD_GLOBAL: extension modules find the C API in libpython. */
    void *python = dlopen(lib_path, RTLD_NOW | RTLD_GLOBAL);
    if (python == 0) {
        return fail("the Python runtime could not be loaded:", lib_path, dlerror());
    }
    py_bytes_main_fn py_bytes_main = (py_bytes_main_fn)dlsym(python, "Py_BytesMain");
    if (py_bytes_main == 0) {
        return fail("the Python runtime has no Py_BytesMain function (Python 3.8 or later is needed):", lib_path,
                    dlerror());
    }
    return py_bytes_main(count, args);
}
