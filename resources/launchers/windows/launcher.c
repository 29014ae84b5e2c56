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
#ifdef KILN_GUI
static wchar_t error_log[BIG];
#endif

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


/* ---- standard handles a Python cannot use -----------------------------------------------------------
 * Wine 8 hands a program started with a redirected regular file a handle that GetFileInformationByHandle
 * refuses (ERROR_INVALID_HANDLE); CPython calls it for every disk-file std handle and aborts in
 * init_sys_streams. Such a handle still reads and writes, so Python gets a pipe instead and a thread
 * copies between the pipe and the original handle. On Windows the call succeeds and nothing changes. */

typedef struct {
    HANDLE from;
    HANDLE to;
    HANDLE thread;
    HANDLE python_end; /* the pipe end Python uses */
} relay_t;

typedef intptr_t (*open_osfhandle_fn)(intptr_t handle, int flags);
typedef int (*fd_fn)(int fd);
typedef int (*dup2_fn)(int from, int to);

static relay_t relays[3];

static DWORD WINAPI copy_loop(LPVOID param)
{
    relay_t *relay = (relay_t *)param;
    char buffer[65536];
    DWORD got, put;
    while (ReadFile(relay->from, buffer, sizeof buffer, &got, NULL) && got > 0) {
        DWORD at = 0;
        while (at < got && WriteFile(relay->to, buffer + at, got - at, &put, NULL) && put > 0) {
            at += put;
        }
        if (at < got) {
            break;
        }
    }
    if (relay == &relays[0]) {
        CloseHandle(relay->to); /* the end of the input file: Python's reads see end-of-file */
    }
    return 0;
}

static int needs_relay(HANDLE handle)
{
    BY_HANDLE_FILE_INFORMATION info;
    if (handle == NULL || handle == INVALID_HANDLE_VALUE || GetFileType(handle) != FILE_TYPE_DISK) {
        return 0;
    }
    return !GetFileInformationByHandle(handle, &info) && GetLastError() == ERROR_INVALID_HANDLE;
}

static void relay_std_handles(void)
{
    static const DWORD ids[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE};
    for (int i = 0; i < 3; i++) {
        HANDLE original = GetStdHandle(ids[i]);
        HANDLE read_end, write_end;
        if (!needs_relay(original)) {
            continue;
        }
        /* Our own copy: the C runtime closes its handle for the descriptor when it is pointed at the pipe. */
        if (!DuplicateHandle(GetCurrentProcess(), original, GetCurrentProcess(), &original, 0, FALSE,
                             DUPLICATE_SAME_ACCESS)) {
            continue;
        }
        if (!CreatePipe(&read_end, &write_end, NULL, 0)) {
            CloseHandle(original);
            continue;
        }
        relay_t *relay = &relays[i];
        relay->from = i == 0 ? original : read_end;
        relay->to = i == 0 ? write_end : original;
        relay->thread = CreateThread(NULL, 0, copy_loop, relay, 0, NULL);
        if (relay->thread == NULL) {
            CloseHandle(read_end);
            CloseHandle(write_end);
            continue;
        }
        relay->python_end = i == 0 ? read_end : write_end;
        SetStdHandle(ids[i], relay->python_end);
    }
}

/* Under Wine the C runtime Python uses (ucrtbase) is already running and took the standard handles when it
   started, so SetStdHandle alone does not reach Python's file descriptors 0-2: point them at the pipes too.
   Called once the Python DLL (and with it ucrtbase) is loaded. */
static void relay_crt_descriptors(void)
{
    HMODULE crt = GetModuleHandleW(L"ucrtbase.dll");
    if (crt == NULL) {
        return;
    }
    open_osfhandle_fn open_osfhandle = (open_osfhandle_fn)(void (*)(void))GetProcAddress(crt, "_open_osfhandle");
    dup2_fn dup2 = (dup2_fn)(void (*)(void))GetProcAddress(crt, "_dup2");
    fd_fn close_fd = (fd_fn)(void (*)(void))GetProcAddress(crt, "_close");
    if (open_osfhandle == NULL || dup2 == NULL || close_fd == NULL) {
        return;
    }
    for (int i = 0; i < 3; i++) {
        HANDLE copy;
        if (relays[i].thread == NULL || !DuplicateHandle(GetCurrentProcess(), relays[i].python_end,
                                                         GetCurrentProcess(), &copy, 0, FALSE,
                                                         DUPLICATE_SAME_ACCESS)) {
            continue;
        }
        int fd = (int)open_osfhandle((intptr_t)copy, (i == 0 ? 0x0000 : 0x0001) | 0x8000); /* _O_BINARY */
        if (fd < 0) {
            CloseHandle(copy);
            continue;
        }
        if (fd != i) {
            dup2(fd, i);
            close_fd(fd);
        }
    }
}

/* After Python has finished: close the output pipes so the copying threads see their end, and let them
   drain (bounded, so a child process still holding a pipe cannot keep the app from exiting). */
static void finish_relays(void)
{
    HMODULE crt = GetModuleHandleW(L"ucrtbase.dll");
    fd_fn close_fd = crt != NULL ? (fd_fn)(void (*)(void))GetProcAddress(crt, "_close") : NULL;
    for (int i = 1; i < 3; i++) {
        if (relays[i].thread != NULL) {
            if (close_fd != NULL) {
                close_fd(i);
            }
            CloseHandle(relays[i].python_end);
            WaitForSingleObject(relays[i].thread, 10000);
        }
    }
}

#ifdef KILN_GUI
/* ---- a GUI app that fails at start --------------------------------------------------------------------
 * A GUI app has no console: a traceback printed by Python is lost. The launcher names a log file
 * (%LOCALAPPDATA%\<exe name>\logs\<exe name>-error.log) in KILN_ERROR_LOG; kiln_boot.py writes the traceback
 * of an uncaught exception there; if the app then exits with an error and the file exists, the launcher
 * shows its path and last line. */
static void prepare_error_log(void)
{
    wchar_t name[BIG];
    DWORD length = GetEnvironmentVariableW(L"LOCALAPPDATA", error_log, BIG);
    if (length == 0 || length >= BIG - 600) {
        error_log[0] = L'\0';
        return;
    }
    lstrcpyW(name, exe_path + lstrlenW(base_dir));
    int end = lstrlenW(name);
    if (end > 4 && CompareStringOrdinal(name + end - 4, 4, L".exe", 4, TRUE) == CSTR_EQUAL) {
        name[end - 4] = L'\0';
    }
    append(error_log, BIG, L"\\");
    append(error_log, BIG, name);
    append(error_log, BIG, L"\\logs\\");
    append(error_log, BIG, name);
    append(error_log, BIG, L"-error.log");
    DeleteFileW(error_log); /* only this run's error counts */
    SetEnvironmentVariableW(L"KILN_ERROR_LOG", error_log);
}

static void report_error_log(void)
{
    char tail[2048];
    wchar_t wide[2048];
    DWORD got = 0;
    HANDLE file = CreateFileW(error_log, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                              FILE_ATTRIBUTE_NORMAL, NULL);
    if (file == INVALID_HANDLE_VALUE) {
        return;
    }
    LARGE_INTEGER size;
    if (GetFileSizeEx(file, &size) && size.QuadPart > (LONGLONG)sizeof tail - 1) {
        LARGE_INTEGER back;
        back.QuadPart = size.QuadPart - ((LONGLONG)sizeof tail - 1);
        SetFilePointerEx(file, back, NULL, FILE_BEGIN);
    }
    ReadFile(file, tail, sizeof tail - 1, &got, NULL);
    CloseHandle(file);
    while (got > 0 && (tail[got - 1] == '\n' || tail[got - 1] == '\r' || tail[got - 1] == ' ')) {
        got--;
    }
    tail[got] = '\0';
    char *last = tail + got;
    while (last > tail && last[-1] != '\n') {
        last--;
    }
    if (MultiByteToWideChar(CP_UTF8, 0, last, -1, wide, 2048) == 0) {
        wide[0] = L'\0';
    }
    message[0] = L'\0';
    append(message, 4 * BIG, L"This application stopped because of an error:\r\n  ");
    append(message, 4 * BIG, wide);
    append(message, 4 * BIG, L"\r\nThe details were written to:\r\n  ");
    append(message, 4 * BIG, error_log);
    append(message, 4 * BIG, L"\r\n");
    if (GetEnvironmentVariableW(L"KILN_LAUNCHER_NO_DIALOG", NULL, 0) == 0) {
        MessageBoxW(NULL, message, exe_path, MB_OK | MB_ICONERROR);
    } else {
        write_stderr(message);
    }
}
#endif

/* The -X value for UTF-8 mode: "utf8", or "utf8=0" when the branded launcher carries RCDATA 1 = "utf8=0"
   (the project turned UTF-8 mode off: msi option utf8_mode = false). Any other content is ignored. */
static const wchar_t *utf8_mode(void)
{
    static const char off[] = "utf8=0";
    HRSRC found = FindResourceW(NULL, MAKEINTRESOURCEW(1), RT_RCDATA);
    HGLOBAL loaded = found != NULL ? LoadResource(NULL, found) : NULL;
    const char *data = loaded != NULL ? (const char *)LockResource(loaded) : NULL;
    if (data == NULL || SizeofResource(NULL, found) != sizeof off - 1) {
        return L"utf8";
    }
    for (unsigned i = 0; i < sizeof off - 1; i++) {
        if (data[i] != off[i]) {
            return L"utf8";
        }
    }
    return L"utf8=0";
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

    /* Before the DLL loads: its C runtime takes the standard handles when it starts. */
    relay_std_handles();
#ifdef KILN_GUI
    prepare_error_log();
#endif

    /* The altered search path makes Windows resolve the DLL's own dependencies (vcruntime140.dll)
       from the runtime folder rather than from beside this exe. */
    HMODULE python = LoadLibraryExW(dll_path, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
    if (python == NULL) {
        return fail(L"the Python runtime could not be loaded:", dll_path, GetLastError());
    }
    relay_crt_descriptors();
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
    /* -I: no PYTHON* variables, no user site-packages. -B: the app is precompiled, and an installed app
       must not write __pycache__ into its install folder (uninstall would leave it behind). -X utf8: text
       written to pipes and files is UTF-8 whatever the ANSI code page (cp1252 cannot print most text). */
    wchar_t *options[] = {L"-I", L"-B", L"-X", (wchar_t *)utf8_mode()};
    int count = (int)(sizeof options / sizeof options[0]);
    wchar_t **argv = HeapAlloc(GetProcessHeap(), 0, sizeof(wchar_t *) * (size_t)(extra + count + 3));
    if (argv == NULL) {
        return fail(L"out of memory", NULL, 0);
    }
    int at = 0;
    argv[at++] = exe_path;
    for (int i = 0; i < count; i++) {
        argv[at++] = options[i];
    }
    argv[at++] = boot_path;
    for (int i = 0; i < extra; i++) {
        argv[at++] = user_argv[1 + i];
    }
    argv[at] = NULL;
    int code = py_main(at, argv);
    finish_relays();
#ifdef KILN_GUI
    if (code != 0 && error_log[0] != L'\0') {
        report_error_log();
    }
#endif
    return code;
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
