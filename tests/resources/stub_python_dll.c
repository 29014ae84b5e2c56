/*
 * A stand-in for python3XX.dll in launcher tests (built by the test with mingw-w64, run under Wine).
 * Py_Main writes what it received to the file named by KILN_STUB_OUT, as UTF-8 fields each ended by NUL:
 *   <path of this DLL> NUL <argc> NUL <argv[0]> NUL <argv[1]> NUL ...
 * and returns N when the last argument is "--stub-exit=N" (else 0).
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
    if (argc > 0 && CompareStringOrdinal(argv[argc - 1], 12, L"--stub-exit=", 12, FALSE) == CSTR_EQUAL) {
        code = 0;
        for (const wchar_t *p = argv[argc - 1] + 12; *p >= L'0' && *p <= L'9'; p++) {
            code = code * 10 + (*p - L'0');
        }
    }
    return code;
}
