/*
 * A stand-in for python3XX.dll in launcher tests (built by the test with mingw-w64, run under Wine).
 * Py_Main writes what it received to the file named by KILN_STUB_OUT, as UTF-8 fields each ended by NUL:
 *   <path of this DLL> NUL <argc> NUL <argv[0]> NUL <argv[1]> NUL ...
 * and returns N when the last argument is "--stub-exit=N" (else 0). An argument "--stub-error-log=TEXT" writes
 * TEXT and a newline to the file named by KILN_ERROR_LOG (creating its folders), as kiln_boot.py does with the
 * traceback of an uncaught exception.
 */
#include <windows.h>

static HMODULE self;

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) {
        self = instance;
    }
    return TRUE;
}

static void put(HANDLE out, const wchar_t *text)
{
    char buffer[8192];
    DWORD done;
    int n = WideCharToMultiByte(CP_UTF8, 0, text, -1, buffer, sizeof buffer, NULL, NULL);
    if (n > 0) {
        WriteFile(out, buffer, (DWORD)n, &done, NULL); /* n includes the NUL terminator */
    }
}

static void write_error_log(const wchar_t *text)
{
    wchar_t path[32768];
    DWORD done;
    if (GetEnvironmentVariableW(L"KILN_ERROR_LOG", path, 32768) == 0) {
        return;
    }
    for (wchar_t *p = path + 3; *p; p++) { /* create every parent folder, like os.makedirs */
        if (*p == L'\\') {
            *p = L'\0';
            CreateDirectoryW(path, NULL);
            *p = L'\\';
        }
    }
    HANDLE out = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (out == INVALID_HANDLE_VALUE) {
        return;
    }
    char buffer[4096];
    int n = WideCharToMultiByte(CP_UTF8, 0, text, -1, buffer, sizeof buffer - 1, NULL, NULL);
    if (n > 0) {
        buffer[n - 1] = '\n';
        WriteFile(out, buffer, (DWORD)n, &done, NULL);
    }
    CloseHandle(out);
}

__declspec(dllexport) int Py_Main(int argc, wchar_t **argv)
{
    wchar_t name[MAX_PATH];
    wchar_t path[32768];
    wchar_t count[16];
    int code = 0;
    if (GetEnvironmentVariableW(L"KILN_STUB_OUT", path, 32768) == 0) {
        return 99;
    }
    HANDLE out = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (out == INVALID_HANDLE_VALUE) {
        return 98;
    }
    GetModuleFileNameW(self, name, MAX_PATH);
    put(out, name);
    wsprintfW(count, L"%d", argc);
    put(out, count);
    for (int i = 0; i < argc; i++) {
        put(out, argv[i]);
    }
    CloseHandle(out);
    for (int i = 0; i < argc; i++) {
        if (CompareStringOrdinal(argv[i], 17, L"--stub-error-log=", 17, FALSE) == CSTR_EQUAL) {
            write_error_log(argv[i] + 17);
        }
    }
    if (argc > 0 && CompareStringOrdinal(argv[argc - 1], 12, L"--stub-exit=", 12, FALSE) == CSTR_EQUAL) {
        code = 0;
        for (const wchar_t *p = argv[argc - 1] + 12; *p >= L'0' && *p <= L'9'; p++) {
            code = code * 10 + (*p - L'0');
        }
    }
    return code;
}
