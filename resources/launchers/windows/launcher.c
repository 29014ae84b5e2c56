/*
 * Kiln's Windows launcher: <App>.exe at the root of an installed bundle.
 *
 *   <dir>\App.exe            this program (console or GUI variant)
 *   <dir>\kiln_boot.py       sets sys.path and runs the app's entry point
 *   <dir>\runtime\python3XX.dll + python3XX._pth + Lib\ + DLLs\
 *
 * It finds runtime\python3XX.dll (no version is compiled in, so one binary serves every app and Python
 * version), checks that the matching ._pth file is there (it pins sys.path and the home directory, so
 * neither the registry nor PYTHON* variables can leak in), loads the DLL and runs
 *   Py_Main({<this exe>, "-I", "<dir>\kiln_boot.py", <user's arguments>...})
 * returning its exit code. Build with build.py beside this file; see README.md.
 */
#include <windows.h>
#include <shellapi.h>

#define BIG 32768 /* longest path Windows allows, in UTF-16 units */

typedef int (*py_main_fn)(int argc, wchar_t **argv);

static wchar_t exe_path[BIG];
static wchar_t base_dir[BIG];
static wchar_t dll_path[BIG];
static wchar_t pth_path[BIG];
static wchar_t boot_path[BIG];
static wchar_t message[4 * BIG];

static void append(wchar_t *buf, size_t cap, const wchar_t *text)
{
    size_t used = lstrlenW(buf);
    size_t add = lstrlenW(text);
    if (used + add + 1 > cap) {
        add = cap - used - 1;
    }
    CopyMemory(buf + used, text, add * sizeof(wchar_t));
    buf[used + add] = L'\0';
}

static void write_stderr(const wchar_t *text)
{
    HANDLE err = GetStdHandle(STD_ERROR_HANDLE);
    DWORD mode, done;
    if (err == NULL || err == INVALID_HANDLE_VALUE) {
        return;
    }
    if (GetConsoleMode(err, &mode)) {
        WriteConsoleW(err, text, (DWORD)lstrlenW(text), &done, NULL);
        return;
    }
    /* A pipe or file: UTF-8, so tests and log collectors read it back exactly. */
    int need = WideCharToMultiByte(CP_UTF8, 0, text, -1, NULL, 0, NULL, NULL);
    if (need <= 1) {
        return;
    }
    char *utf8 = HeapAlloc(GetProcessHeap(), 0, (SIZE_T)need);
    if (utf8 == NULL) {
        return;
    }
    WideCharToMultiByte(CP_UTF8, 0, text, -1, utf8, need, NULL, NULL);
    WriteFile(err, utf8, (DWORD)(need - 1), &done, NULL);
    HeapFree(GetProcessHeap(), 0, utf8);
}

/* Tell the user why the app cannot start, then give the exit code for failure. */
static int fail(const wchar_t *what, const wchar_t *path, DWORD error)
{
    wchar_t system_text[1024] = L"";
    message[0] = L'\0';
    append(message, 4 * BIG, L"This application cannot start: ");
    append(message, 4 * BIG, what);
    if (path != NULL) {
        append(message, 4 * BIG, L"\r\n  ");
        append(message, 4 * BIG, path);
    }
    if (error != 0 && FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, error, 0,
                                     system_text, 1024, NULL) > 0) {
        int end = lstrlenW(system_text);
        while (end > 0 && (system_text[end - 1] == L'\r' || system_text[end - 1] == L'\n' || system_text[end - 1] == L' ')) {
            system_text[--end] = L'\0';
        }
        append(message, 4 * BIG, L"\r\n  ");
        append(message, 4 * BIG, system_text);
    }
    append(message, 4 * BIG, L"\r\nReinstalling the application may fix this.\r\n");
#ifdef KILN_GUI
    /* GUI apps have no console; a dialog is the only visible channel. Tests (under Wine) turn it off. */
    if (GetEnvironmentVariableW(L"KILN_LAUNCHER_NO_DIALOG", NULL, 0) == 0) {
        MessageBoxW(NULL, message, exe_path, MB_OK | MB_ICONERROR);
        return 1;
    }
#endif
    write_stderr(message);
    return 1;
}

/* True for python3<digits>.dll but not the stable-ABI forwarder python3.dll. */
static int is_versioned_dll(const wchar_t *name)
{
    int digits = 0;
    if (CompareStringOrdinal(name, 7, L"python3", 7, TRUE) != CSTR_EQUAL) {
        return 0;
    }
    name += 7;
    while (*name >= L'0' && *name <= L'9') {
        name++;
        digits++;
    }
    return digits > 0 && CompareStringOrdinal(name, -1, L".dll", -1, TRUE) == CSTR_EQUAL;
}

static int find_runtime(void)
{
    WIN32_FIND_DATAW found;
    wchar_t pattern[BIG];
    int matches = 0;
    pattern[0] = L'\0';
    append(pattern, BIG, base_dir);
    append(pattern, BIG, L"runtime\\python3*.dll");
    HANDLE search = FindFirstFileW(pattern, &found);
    if (search == INVALID_HANDLE_VALUE) {
        return fail(L"the Python runtime is missing (no python3XX.dll in the runtime folder):", pattern, 0);
    }
    do {
        if (!(found.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) && is_versioned_dll(found.cFileName)) {
            matches++;
            dll_path[0] = L'\0';
            append(dll_path, BIG, base_dir);
            append(dll_path, BIG, L"runtime\\");
            append(dll_path, BIG, found.cFileName);
        }
    } while (FindNextFileW(search, &found));
    FindClose(search);
    if (matches == 0) {
        return fail(L"the Python runtime is missing (no python3XX.dll in the runtime folder):", pattern, 0);
    }
    if (matches > 1) {
        return fail(L"the runtime folder holds more than one python3XX.dll; keep only one:", pattern, 0);
    }
    /* python311.dll -> python311._pth */
    lstrcpyW(pth_path, dll_path);
    lstrcpyW(pth_path + lstrlenW(pth_path) - 4, L"._pth");
    if (GetFileAttributesW(pth_path) == INVALID_FILE_ATTRIBUTES) {
        return fail(L"the runtime's path file is missing:", pth_path, GetLastError());
    }
    return 0;
}

static int launch(void)
{
    DWORD length = GetModuleFileNameW(NULL, exe_path, BIG);
    if (length == 0 || length >= BIG) {
        return fail(L"cannot find the program's own location", NULL, GetLastError());
    }
    lstrcpyW(base_dir, exe_path);
    wchar_t *slash = base_dir + lstrlenW(base_dir);
    while (slash > base_dir && slash[-1] != L'\\' && slash[-1] != L'/') {
        slash--;
    }
    *slash = L'\0'; /* keeps the trailing backslash */

    if (find_runtime() != 0) {
        return 1;
    }
    boot_path[0] = L'\0';
    append(boot_path, BIG, base_dir);
    append(boot_path, BIG, L"kiln_boot.py");
    if (GetFileAttributesW(boot_path) == INVALID_FILE_ATTRIBUTES) {
        return fail(L"the start-up script is missing:", boot_path, GetLastError());
    }

    /* The altered search path makes Windows resolve the DLL's own dependencies (vcruntime140.dll)
       from the runtime folder rather than from beside this exe. */
    HMODULE python = LoadLibraryExW(dll_path, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
    if (python == NULL) {
        return fail(L"the Python runtime could not be loaded:", dll_path, GetLastError());
    }
    py_main_fn py_main = (py_main_fn)(void (*)(void))GetProcAddress(python, "Py_Main");
    if (py_main == NULL) {
        return fail(L"the Python runtime has no Py_Main function:", dll_path, GetLastError());
    }

    /* CommandLineToArgvW follows the rules every Windows program uses to split its command line. */
    int argc = 0;
    wchar_t **user_argv = CommandLineToArgvW(GetCommandLineW(), &argc);
    if (user_argv == NULL) {
        return fail(L"cannot read the command line", NULL, GetLastError());
    }
    int extra = argc > 1 ? argc - 1 : 0;
    wchar_t **argv = HeapAlloc(GetProcessHeap(), 0, sizeof(wchar_t *) * (size_t)(extra + 4));
    if (argv == NULL) {
        return fail(L"out of memory", NULL, 0);
    }
    argv[0] = exe_path;
    argv[1] = L"-I";
    argv[2] = boot_path;
    for (int i = 0; i < extra; i++) {
        argv[3 + i] = user_argv[1 + i];
    }
    argv[3 + extra] = NULL;
    return py_main(3 + extra, argv);
}

#ifdef KILN_GUI
int WINAPI wWinMain(HINSTANCE instance, HINSTANCE previous, LPWSTR command_line, int show)
{
    (void)instance;
    (void)previous;
    (void)command_line;
    (void)show;
    return launch();
}
#else
int wmain(int argc, wchar_t **argv)
{
    (void)argc; /* the CRT's split differs from CommandLineToArgvW in corner cases; use one rule for both */
    (void)argv;
    return launch();
}
#endif
