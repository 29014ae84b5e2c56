/* Kiln AppImage type-2 runtime: command line, environment, FUSE run, start cache, extract-and-run.
 *
 * Normal start: mount the payload with FUSE in a private temporary folder, fork, run AppRun
 * from it in the child, serve the filesystem in the parent until the child ends, unmount and
 * return the child's exit status (128 + signal number when it was killed).
 * Start cache (when Kiln recorded the payload's digest with "cache"): after a mounted run, a
 * background process extracts the payload into a per-user cache folder named by that digest;
 * later starts exec AppRun from there, with no mount and nothing to decompress.
 * Without usable FUSE, or when asked to: extract once into that cache folder (keyed by the image
 * when no digest is recorded), then exec AppRun from there.
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *g_name = "AppImage"; /* image file name, prefix of every message */

/* Update information as the AppImage specification places it: a fixed-size .upd_info section that Kiln
 * fills in each AppImage it builds ("zsync|URL" or "gh-releases-zsync|..."); updaters such as
 * AppImageUpdate read it from the file's section table. volatile: read at run time, never folded to "". */
__attribute__((section(".upd_info"), used, aligned(1)))
static volatile const char g_update_info[1024] = "";
/* The glibc the payload needs ("2.36"), written by Kiln when it builds the AppImage: reading the version
 * needs of every library through the mount took about as long as starting Python. Empty: scan at start. */
__attribute__((section(".kiln_glibc"), used, aligned(1)))
static volatile const char g_glibc_needed[16] = "";
/* The payload's identity, written by Kiln when it builds the AppImage: 32 hex digits (the first 128 bits of the
 * squashfs's sha256), followed by " cache" when the app may start from a per-user extracted copy. Empty: no
 * start cache, and extract-and-run keys its folder by hashing parts of the image at each start. */
__attribute__((section(".kiln_payload"), used, aligned(1)))
static volatile const char g_payload_id[48] = "";
static bool g_debug;                    /* APPIMAGE_DEBUG set: explain fallbacks */

void report(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", g_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void debug(const char *fmt, ...)
{
	if (!g_debug)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: [debug] ", g_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void usage(void)
{
	printf("Kiln AppImage runtime %s\n\n"
	       "Options (only as the first argument; all other arguments go to the application):\n"
	       "  --appimage-extract [PATTERN]  extract the contents to ./squashfs-root (PATTERN: glob on paths)\n"
	       "  --appimage-extract-and-run    run from a cached extraction instead of a FUSE mount\n"
	       "  --appimage-offset             print where the squashfs payload starts\n"
	       "  --appimage-updateinformation  print the update information (empty when there is none)\n"
	       "  --appimage-version            print the runtime version\n"
	       "  --appimage-help               show this help\n\n"
	       "Environment: APPIMAGE_EXTRACT_AND_RUN=1 forces extract-and-run, APPIMAGE_KILN_CACHE=0 always\n"
	       "mounts (no start cache), APPIMAGE_DEBUG=1 explains why FUSE or the cache was not used.\n"
	       "Extractions are cached in ${XDG_CACHE_HOME:-$HOME/.cache}/kiln-appimage.\n",
	       KILN_RUNTIME_VERSION);
}

/* name with everything but [A-Za-z0-9._+-] replaced, so it is safe in paths and mount options. */
static void safe_name(char *out, size_t cap, const char *name, bool strip_ext)
{
	size_t len = strlen(name);
	if (strip_ext && len > 9 && strcasecmp(name + len - 9, ".AppImage") == 0)
		len -= 9;
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          c == '.' || c == '_' || c == '+' || c == '-';
		out[n++] = ok ? c : '_';
	}
	if (n == 0 && cap > 3)
		n = (size_t)snprintf(out, cap, "app");
	out[n] = '\0';
	if (out[0] == '.')
		out[0] = '_'; /* never hidden, never confused with our ".partial" folders */
}

/* ---- glibc: say where the app runs instead of the loader's "version `GLIBC_2.N' not found" ---------- */

/* Where x86_64 distributions keep libc.so.6 (Debian/Ubuntu multiarch; Fedora, RHEL, SUSE; Arch). */
static const char *const host_libcs[] = {
	"/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6",
	"/usr/lib64/libc.so.6", "/usr/lib/libc.so.6", "/lib/libc.so.6",
};

/* Releases named in the message, oldest glibc first. */
static const struct {
	unsigned minor;
	const char *name;
} releases[] = {
	{28, "RHEL 8"}, {31, "Debian 11"}, {31, "Ubuntu 20.04"}, {34, "RHEL 9"}, {35, "Ubuntu 22.04"},
	{36, "Debian 12"}, {39, "Ubuntu 24.04"}, {40, "Fedora 40"},
};

/* The highest GLIBC_2.N needed by the ELF files directly in dir (names containing `must`, if given). */
static unsigned needs_in(const char *dir, const char *must)
{
	unsigned best = 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX];
		struct stat st;
		if (e->d_name[0] == '.' || (must != NULL && strstr(e->d_name, must) == NULL) ||
		    snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
		    stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		unsigned m = elf_glibc_minor(path, false);
		best = m > best ? m : best;
	}
	closedir(d);
	return best;
}

/* The glibc the bundled Python needs: its interpreter, libraries and extension modules (usr/runtime). */
static unsigned payload_glibc(const char *appdir)
{
	char path[PATH_MAX];
	unsigned best = 0, m;
	const char *parts[][2] = {{"usr/runtime/bin", NULL}, {"usr/runtime/lib", ".so"}};
	for (unsigned i = 0; i < 2; i++) {
		if (snprintf(path, sizeof path, "%s/%s", appdir, parts[i][0]) < (int)sizeof path &&
		    (m = needs_in(path, parts[i][1])) > best)
			best = m;
	}
	if (snprintf(path, sizeof path, "%s/usr/runtime/lib", appdir) >= (int)sizeof path)
		return best;
	DIR *d = opendir(path);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		char dynload[PATH_MAX];
		if (strncmp(e->d_name, "python3", 7) == 0 &&
		    snprintf(dynload, sizeof dynload, "%s/%s/lib-dynload", path, e->d_name) < (int)sizeof dynload &&
		    (m = needs_in(dynload, ".so")) > best)
			best = m;
	}
	if (d != NULL)
		closedir(d);
	return best;
}

/* N of the "2.N" Kiln recorded in .kiln_glibc; 0 when it is empty or not of that form. */
static unsigned recorded_glibc(void)
{
	char text[sizeof g_glibc_needed + 1];
	for (size_t i = 0; i < sizeof g_glibc_needed; i++)
		text[i] = g_glibc_needed[i];
	text[sizeof g_glibc_needed] = '\0';
	if (strncmp(text, "2.", 2) != 0)
		return 0;
	unsigned minor = 0;
	const char *c = text + 2;
	for (; *c >= '0' && *c <= '9' && minor < 1000; c++)
		minor = minor * 10 + (unsigned)(*c - '0');
	return *c == '\0' && c > text + 2 ? minor : 0;
}

/* The release in libc's banner ("... release version 2.31."): glibc releases that add no symbols (2.31)
 * define no version node of their own, so the banner is what users know their glibc as. 0 if not found. */
static unsigned libc_release(const char *path)
{
	static const char key[] = "release version 2.";
	char buf[65536 + sizeof key];
	size_t keep = 0;
	unsigned minor = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	for (;;) {
		ssize_t n = read(fd, buf + keep, sizeof buf - keep - 1);
		if (n <= 0)
			break;
		size_t len = keep + (size_t)n;
		buf[len] = '\0';
		char *hit = memmem(buf, len, key, sizeof key - 1);
		if (hit != NULL && hit + sizeof key - 1 < buf + len) {
			for (char *c = hit + sizeof key - 1; c < buf + len && *c >= '0' && *c <= '9'; c++)
				minor = minor * 10 + (unsigned)(*c - '0');
			break;
		}
		keep = len < sizeof key ? len : sizeof key; /* a key cut by the block boundary is found next time */
		memmove(buf, buf + len - keep, keep);
	}
	close(fd);
	return minor;
}

/* 0 when this system's glibc is new enough for the payload (or cannot be told); else one line and -1. */
static int check_glibc(const char *appdir)
{
	unsigned have = 0;
	const char *libc = NULL;
	for (unsigned i = 0; i < sizeof host_libcs / sizeof host_libcs[0] && have == 0; i++)
		if ((have = elf_glibc_minor(host_libcs[i], true)) != 0)
			libc = host_libcs[i];
	if (have == 0)
		return 0; /* no glibc found where distributions keep it: let the loader decide */
	unsigned need = recorded_glibc();
	if (need == 0)
		need = payload_glibc(appdir);
	debug("glibc: the app needs 2.%u, this system has 2.%u", need, have);
	if (need <= have)
		return 0;
	char examples[128] = "";
	unsigned named = 0;
	for (unsigned i = 0; i < sizeof releases / sizeof releases[0] && named < 2; i++) {
		if (releases[i].minor >= need) {
			size_t used = strlen(examples);
			snprintf(examples + used, sizeof examples - used, "%s%s", named ? ", " : ", e.g. ", releases[i].name);
			named++;
		}
	}
	unsigned release = libc_release(libc);
	report("this app needs a Linux with glibc 2.%u or newer%s; this system has 2.%u", need, examples,
	       release > have ? release : have);
	return -1;
}

/* Set the AppImage variables and exec dir/AppRun with args (args[0] is replaced). Returns 127. */
static int exec_app(const char *dir, const char *image, const char *argv0, char **args)
{
	char apprun[PATH_MAX], cwd[PATH_MAX];
	if (check_glibc(dir) != 0)
		return 127;
	if (snprintf(apprun, sizeof apprun, "%s/AppRun", dir) >= (int)sizeof apprun) {
		report("path too long: %s/AppRun", dir);
		return 127;
	}
	setenv("APPIMAGE", image, 1);
	setenv("APPDIR", dir, 1);
	setenv("ARGV0", argv0, 1);
	if (getcwd(cwd, sizeof cwd))
		setenv("OWD", cwd, 1);
	else
		unsetenv("OWD");
	args[0] = apprun;
	execv(apprun, args);
	report("cannot run AppRun from the AppImage: %s", strerror(errno));
	return 127;
}

static int exit_code(int status)
{
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* ---- FUSE mode --------------------------------------------------------------------------- */

static volatile pid_t g_child;
static int g_wake[2] = {-1, -1}; /* self-pipe: SIGCHLD wakes the poll loop */

static void on_sigchld(int sig)
{
	(void)sig;
	int saved = errno;
	if (write(g_wake[1], "x", 1) < 0) {
		/* pipe full: the loop is awake anyway */
	}
	errno = saved;
}

/* Pass signals sent to us with kill() on to the app. Terminal signals (Ctrl-C, hangup) already
 * reach the app through its process group, so forwarding those would deliver them twice. */
static void on_forward(int sig, siginfo_t *info, void *ctx)
{
	(void)ctx;
	if (g_child > 0 && info->si_code <= 0)
		kill(g_child, sig);
}

static const int forwarded[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};

static void setup_parent_signals(void)
{
	struct sigaction sa = {0};
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_forward;
	sa.sa_flags = SA_RESTART | SA_SIGINFO;
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaction(forwarded[i], &sa, NULL);
}

static const char *temp_dir(void)
{
	const char *t = getenv("TMPDIR");
	struct stat st;
	if (t && t[0] == '/' && stat(t, &st) == 0 && S_ISDIR(st.st_mode) && access(t, W_OK | X_OK) == 0)
		return t;
	return "/tmp";
}

/* Returns the app's exit code, or -1 when FUSE cannot be used (nothing was run). */
static int run_mounted(const struct payload *p, const char *image, const char *argv0, char **args)
{
	if (access("/dev/fuse", R_OK | W_OK) != 0) {
		debug("FUSE not usable (/dev/fuse: %s), extracting instead", strerror(errno));
		return -1;
	}
	char name[64], mountpoint[PATH_MAX];
	safe_name(name, sizeof name, g_name, false);
	snprintf(mountpoint, sizeof mountpoint, "%s/.mount_%.8sXXXXXX", temp_dir(), name);
	if (!mkdtemp(mountpoint)) {
		debug("cannot create a mount point: %s, extracting instead", strerror(errno));
		return -1;
	}
	struct kmount *m = kmount_open(p, mountpoint, name, !g_debug);
	if (!m) {
		debug("FUSE mount failed, extracting instead");
		rmdir(mountpoint);
		return -1;
	}
	if (pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		report("cannot create a pipe: %s", strerror(errno));
		kmount_close(m);
		rmdir(mountpoint);
		return 1;
	}
	setup_parent_signals();

	/* Hold signals until g_child is known, so none is lost or handled in the child. */
	sigset_t held, saved_mask;
	sigemptyset(&held);
	sigaddset(&held, SIGCHLD);
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(&held, forwarded[i]);
	sigprocmask(SIG_BLOCK, &held, &saved_mask);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
			signal(forwarded[i], SIG_DFL);
		sigprocmask(SIG_SETMASK, &saved_mask, NULL);
		_exit(exec_app(mountpoint, image, argv0, args));
	}
	g_child = pid;
	sigprocmask(SIG_SETMASK, &saved_mask, NULL);
	if (pid < 0) {
		report("cannot start the application: %s", strerror(errno));
		kmount_close(m);
		rmdir(mountpoint);
		return 1;
	}

	int status = 0;
	bool serving = true, check_child = true;
	for (;;) {
		if (check_child) { /* at first and after a signal (SIGCHLD wakes us), not per request */
			pid_t done = waitpid(pid, &status, WNOHANG);
			if (done == pid)
				break;
			if (done < 0 && errno != EINTR) {
				status = 1 << 8; /* should not happen: report as exit code 1 */
				break;
			}
			check_child = false;
		}
		struct pollfd fds[2] = {{.fd = serving ? kmount_fd(m) : -1, .events = POLLIN},
		                        {.fd = g_wake[0], .events = POLLIN}};
		if (poll(fds, 2, -1) < 0) {
			check_child = true; /* EINTR: re-check the child */
			continue;
		}
		if (fds[0].revents && kmount_serve(m) != 0)
			serving = false; /* unmounted from outside: just wait for the app */
		if (fds[1].revents) {
			char drain[64];
			while (read(g_wake[0], drain, sizeof drain) > 0) {
			}
			check_child = true;
		}
	}
	g_child = 0;
	kmount_close(m);
	rmdir(mountpoint);
	return exit_code(status);
}

/* ---- extract-and-run --------------------------------------------------------------------- */

static int mkdir_p(char *path, mode_t mode)
{
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		int r = mkdir(path, mode);
		*s = '/';
		if (r != 0 && errno != EEXIST)
			return -1;
	}
	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return -1;
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

/* ${XDG_CACHE_HOME:-$HOME/.cache}/kiln-appimage, or a private folder in /tmp without HOME. */
static int cache_root(char *out, size_t cap)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;
	if (xdg && xdg[0] == '/')
		n = snprintf(out, cap, "%s/kiln-appimage", xdg);
	else if (home && home[0] == '/')
		n = snprintf(out, cap, "%s/.cache/kiln-appimage", home);
	else {
		n = snprintf(out, cap, "/tmp/kiln-appimage-%u", (unsigned)getuid());
		struct stat st;
		if (n > 0 && (size_t)n < cap && mkdir(out, 0700) != 0 && errno != EEXIST)
			return -1;
		/* shared /tmp: only trust a real folder that is ours alone */
		if (lstat(out, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077)) {
			errno = EPERM;
			return -1;
		}
		return 0;
	}
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkdir_p(out, 0700);
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *b = data;
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t hash_range(uint64_t h, int fd, uint64_t start, uint64_t len)
{
	static unsigned char buf[1 << 16];
	while (len > 0) {
		ssize_t n = pread(fd, buf, len < sizeof buf ? (size_t)len : sizeof buf, (off_t)start);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		h = fnv1a(h, buf, (size_t)n);
		start += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return h;
}

/* Identity of the image: size, mtime, the squashfs superblock area and its tail, where the
 * inode/directory/fragment tables live (they change whenever any file does). */
static uint64_t image_hash(const struct payload *p, const struct stat *st)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	int64_t meta[3] = {(int64_t)st->st_size, (int64_t)st->st_mtim.tv_sec, (int64_t)st->st_mtim.tv_nsec};
	h = fnv1a(h, meta, sizeof meta);
	uint64_t head = p->bytes_used < 4096 ? p->bytes_used : 4096;
	uint64_t tail = p->bytes_used < (4u << 20) ? p->bytes_used : (4u << 20);
	h = hash_range(h, p->fd, p->offset, head);
	return hash_range(h, p->fd, p->offset + p->bytes_used - tail, tail);
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if (type == FTW_D) /* pre-order pass: make read-only folders removable */
		return chmod(path, 0700), 0;
	remove(path);
	return 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_PHYS);              /* chmod folders (pre-order) */
	nftw(path, rm_entry, 16, FTW_PHYS | FTW_DEPTH); /* remove (post-order: FTW_DP) */
}

/* Remove ".<key>.partial.<pid>" folders left by extractions that were killed; returns how many belong to
 * processes still running (an extraction of the same image under way). */
static int remove_stale_partials(const char *root, const char *key)
{
	char prefix[128], path[PATH_MAX];
	int live = 0;
	snprintf(prefix, sizeof prefix, ".%s.partial.", key);
	struct dirent **list = NULL;
	int n = scandir(root, &list, NULL, NULL);
	for (int i = 0; i < n; i++) {
		const char *d = list[i]->d_name;
		if (strncmp(d, prefix, strlen(prefix)) == 0) {
			long pid = strtol(d + strlen(prefix), NULL, 10);
			if (pid > 0 && pid != getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH &&
			    snprintf(path, sizeof path, "%s/%s", root, d) < (int)sizeof path)
				rm_rf(path);
			else if (pid > 0 && pid != getpid())
				live++;
		}
		free(list[i]);
	}
	free(list);
	return live;
}

/* The recorded payload digest (32 hex digits) into id; *cache: the start cache is on. false without one. */
static bool payload_id(char id[33], bool *cache)
{
	char text[sizeof g_payload_id + 1];
	for (size_t i = 0; i < sizeof g_payload_id; i++)
		text[i] = g_payload_id[i];
	text[sizeof g_payload_id] = '\0';
	for (size_t i = 0; i < 32; i++)
		if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
			return false;
	memcpy(id, text, 32);
	id[32] = '\0';
	*cache = strcmp(text + 32, " cache") == 0;
	return text[32] == '\0' || *cache;
}

/* The cache folder's name: the image's name and the recorded digest, or a hash of parts of the image. */
static void cache_key(char *key, size_t cap, const struct payload *p, const struct stat *st)
{
	char name[64], id[33];
	bool cache;
	safe_name(name, sizeof name, g_name, true);
	if (payload_id(id, &cache))
		snprintf(key, cap, "%.48s-%s", name, id);
	else
		snprintf(key, cap, "%.48s-%016llx", name, (unsigned long long)image_hash(p, st));
}

/* Extract the payload into root/key through a ".<key>.partial.<pid>" folder renamed when complete, so a
 * folder under the final name is always whole. Its files are read-only, like the mount's. 0 when root/key
 * exists afterwards (made by us or by a parallel start), else -1 (reported). */
static int populate(const struct payload *p, const char *root, const char *key, const char *final)
{
	char partial[PATH_MAX];
	if (snprintf(partial, sizeof partial, "%s/.%s.partial.%ld", root, key, (long)getpid()) >= (int)sizeof partial) {
		report("cache path too long: %s", root);
		return -1;
	}
	rm_rf(partial);
	if (mkdir(partial, 0700) != 0) {
		report("cannot create %s: %s", partial, strerror(errno));
		return -1;
	}
	debug("extracting to %s", final);
	if (payload_extract(p, partial, NULL, NULL, EXTRACT_READ_ONLY | EXTRACT_CHECK_SPACE) != 0) {
		rm_rf(partial);
		return -1;
	}
	if (rename(partial, final) != 0) {
		int err = errno;
		rm_rf(partial);
		if (err != EEXIST && err != ENOTEMPTY) { /* otherwise a parallel start won the race */
			report("cannot create %s: %s", final, strerror(err));
			return -1;
		}
	}
	return 0;
}

/* root and root/key of the cache folder; -1 (errno set) when there is no usable cache root. */
static int cache_paths(char *root, char *final, const struct payload *p, const struct stat *st, char *key)
{
	if (cache_root(root, PATH_MAX) != 0)
		return -1;
	cache_key(key, 96, p, st);
	if (snprintf(final, PATH_MAX, "%s/%s", root, key) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The cached copy's folder is its last-use stamp: cleaning goes by its modification time. A copy without
 * a runnable AppRun (damaged by hand) is removed, so this start extracts or mounts afresh. */
static bool use_cached(const char *final)
{
	struct stat fs;
	char apprun[PATH_MAX];
	if (stat(final, &fs) != 0 || !S_ISDIR(fs.st_mode))
		return false;
	if (snprintf(apprun, sizeof apprun, "%s/AppRun", final) >= (int)sizeof apprun || access(apprun, X_OK) != 0) {
		debug("removing the damaged copy %s", final);
		rm_rf(final);
		return false;
	}
	utimensat(AT_FDCWD, final, NULL, 0);
	return true;
}

enum { CACHE_KEEP_DAYS = 30 };

/* Remove cached copies of Kiln AppImages ("<name>-<32 hex digits>") that no start has used for
 * CACHE_KEEP_DAYS days: every AppImage version a user ever ran would otherwise stay on disk. */
static void remove_unused(const char *root, const char *keep)
{
	time_t cutoff = time(NULL) - (time_t)CACHE_KEEP_DAYS * 24 * 3600;
	struct dirent **list = NULL;
	int n = scandir(root, &list, NULL, NULL);
	for (int i = 0; i < n; i++) {
		const char *d = list[i]->d_name;
		size_t len = strlen(d);
		char path[PATH_MAX];
		struct stat st;
		bool digest = len > 33 && d[0] != '.' && d[len - 33] == '-' && strcmp(d, keep) != 0 &&
		              strspn(d + len - 32, "0123456789abcdef") == 32;
		if (digest && snprintf(path, sizeof path, "%s/%s", root, d) < (int)sizeof path &&
		    lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_mtime < cutoff)
			rm_rf(path);
		free(list[i]);
	}
	free(list);
}

/* After a mounted run: fill the start cache in a detached, low-priority process, so this start takes no
 * longer than without the cache and the next one runs from the extracted copy. */
static void fill_cache_later(const struct payload *p, const struct stat *st)
{
	char root[PATH_MAX], final[PATH_MAX], key[96];
	if (cache_paths(root, final, p, st, key) != 0) {
		debug("no start cache: no usable cache folder (%s)", strerror(errno));
		return;
	}
	if (access(final, F_OK) == 0)
		return;
	struct statvfs fs;
	if (statvfs(root, &fs) == 0 && (fs.f_flag & ST_NOEXEC)) {
		debug("no start cache: %s is on a file system mounted noexec", root);
		return; /* the copy's AppRun could not run */
	}
	pid_t pid = fork();
	if (pid != 0)
		return; /* the caller exits with the app's status; a failed fork only means no cache yet */
	setsid();
	signal(SIGCHLD, SIG_DFL); /* the serving loop's handlers: a logout's SIGTERM must end this process */
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		signal(forwarded[i], SIG_DFL);
	int null = open("/dev/null", O_RDWR);
	for (int fd = 0; fd < 3 && null >= 0; fd++)
		dup2(null, fd);
	for (int fd = 3; fd < 1024; fd++) /* pipes the caller waits on (a test's, a terminal's) must close */
		if (fd != p->fd)
			close(fd);
	setpriority(PRIO_PROCESS, 0, 19);
	syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, 3 << 13 /* IOPRIO_CLASS_IDLE */);
	if (remove_stale_partials(root, key) > 0)
		_exit(0); /* another start is filling it */
	int rc = populate(p, root, key, final);
	remove_unused(root, key);
	_exit(rc == 0 ? 0 : 1);
}

static int extract_and_run(const struct payload *p, const struct stat *st, const char *image, const char *argv0,
                           char **args)
{
	char root[PATH_MAX], final[PATH_MAX], key[96];
	if (cache_paths(root, final, p, st, key) != 0) {
		report("cannot create the cache folder %s: %s", root, strerror(errno));
		return 1;
	}
	if (use_cached(final)) {
		debug("reusing %s", final);
		return exec_app(final, image, argv0, args);
	}
	remove_stale_partials(root, key);
	if (populate(p, root, key, final) != 0)
		return 1;
	return exec_app(final, image, argv0, args);
}

/* The start cache is on: Kiln recorded the payload's digest with "cache" and APPIMAGE_KILN_CACHE is not 0. */
static bool start_cache_on(void)
{
	char id[33];
	bool cache = false;
	const char *env = getenv("APPIMAGE_KILN_CACHE");
	if (!payload_id(id, &cache) || !cache)
		return false;
	if (env != NULL && strcmp(env, "0") == 0) {
		debug("start cache off (APPIMAGE_KILN_CACHE=0)");
		return false;
	}
	return true;
}

/* ---- main -------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	char image[PATH_MAX];
	if (argc < 1) { /* argv[1] would be the environment */
		report("started without arguments; run it through a shell or exec with argv[0]");
		return 1;
	}
	const char *argv0 = argv[0];

	g_debug = getenv("APPIMAGE_DEBUG") && *getenv("APPIMAGE_DEBUG");
	ssize_t n = readlink("/proc/self/exe", image, sizeof image - 1);
	if (n > 0)
		image[n] = '\0';
	else if (!realpath(argv0, image)) { /* no /proc: fall back to the path we were started by */
		report("cannot find the AppImage file (is /proc mounted?)");
		return 1;
	}
	g_name = strrchr(image, '/') ? strrchr(image, '/') + 1 : image;

	struct stat st;
	struct payload p = {.fd = open(image, O_RDONLY | O_CLOEXEC)};
	if (p.fd < 0 || fstat(p.fd, &st) != 0) {
		report("cannot read %s: %s", image, strerror(errno));
		return 1;
	}
	const char *why;
	if (elf_end_offset(p.fd, (uint64_t)st.st_size, &p.offset, &why) != 0) {
		report("the AppImage is damaged: %s", why);
		return 1;
	}
	p.size = (uint64_t)st.st_size - p.offset;

	const char *opt = argc > 1 && strncmp(argv[1], "--appimage-", 11) == 0 ? argv[1] : NULL;
	if (opt && strcmp(opt, "--appimage-offset") == 0) {
		printf("%llu\n", (unsigned long long)p.offset);
		return 0;
	}
	if (opt && strcmp(opt, "--appimage-updateinformation") == 0) {
		char text[sizeof g_update_info];
		for (size_t i = 0; i < sizeof text; i++)
			text[i] = g_update_info[i];
		text[sizeof text - 1] = '\0';
		printf("%s\n", text);
		return 0;
	}
	if (opt && strcmp(opt, "--appimage-version") == 0) {
		printf("Kiln AppImage runtime %s\n", KILN_RUNTIME_VERSION);
		return 0;
	}
	if (opt && strcmp(opt, "--appimage-help") == 0) {
		usage();
		return 0;
	}
	if (opt && strcmp(opt, "--appimage-extract") != 0 && strcmp(opt, "--appimage-extract-and-run") != 0) {
		report("unknown option %s (see --appimage-help)", opt);
		return 1;
	}

	if (p.size == 0) {
		report("this is the bare Kiln AppImage runtime: no application is appended to it");
		return 1;
	}
	if (payload_check(&p) != 0)
		return 1;

	if (opt && strcmp(opt, "--appimage-extract") == 0) {
		if (mkdir("squashfs-root", 0755) != 0 && errno != EEXIST) {
			report("cannot create squashfs-root: %s", strerror(errno));
			return 1;
		}
		return payload_extract(&p, "squashfs-root", argc > 2 ? argv[2] : NULL, "squashfs-root", 0) == 0 ? 0 : 1;
	}
	/* args[0] is a placeholder for AppRun's path; the rest are passed through untouched. */
	char **args = opt ? argv + 1 : argv;
	const char *force = getenv("APPIMAGE_EXTRACT_AND_RUN");
	if (!opt && !(force && strcmp(force, "1") == 0)) {
		bool cache = start_cache_on();
		char root[PATH_MAX], final[PATH_MAX], key[96];
		if (cache && cache_paths(root, final, &p, &st, key) == 0 && use_cached(final)) {
			debug("starting from the start cache %s", final);
			return exec_app(final, image, argv0, args);
		}
		int rc = run_mounted(&p, image, argv0, args);
		if (rc >= 0) {
			if (cache)
				fill_cache_later(&p, &st);
			return rc;
		}
	}
	return extract_and_run(&p, &st, image, argv0, args);
}
