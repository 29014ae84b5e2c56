/*
 * A stand-in libpython3.X for the macOS launcher's tests (built for Linux as runtime/lib/libpython3.X.so.1.0).
 *
 * Py_BytesMain writes what it received to the file named by KILN_STUB_OUT, as NUL-terminated fields:
 *   <KILN_ARGV0 or "-">, <argc>, <argv[0]>, ..., <argv[argc-1]>
 * and returns N for an argument --stub-exit=N (0 without one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int Py_BytesMain(int argc, char **argv)
{
    const char *out = getenv("KILN_STUB_OUT");
    const char *argv0 = getenv("KILN_ARGV0");
    int code = 0;
    FILE *f = out != NULL ? fopen(out, "wb") : NULL;
    if (f != NULL) {
        fprintf(f, "%s%c%d%c", argv0 != NULL ? argv0 : "-", 0, argc, 0);
        for (int i = 0; i < argc; i++) {
            fwrite(argv[i], 1, strlen(argv[i]) + 1, f);
        }
        fclose(f);
    }
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--stub-exit=", 12) == 0) {
            code = atoi(argv[i] + 12);
        }
    }
    return code;
}
