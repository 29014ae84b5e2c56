/* Serving the payload over FUSE: libsquashfuse_ll's low-level operations on a libfuse3 session.
 *
 * We use squashfuse's exported sqfs_ll_op_* callbacks (the same ones its squashfuse_ll binary
 * uses) but drive the session ourselves, one request at a time, so main.c can wait for the
 * app and serve requests in a single poll() loop without threads.
 */
#define _GNU_SOURCE
#include <squashfuse/ll.h> /* first: its config.h sets FUSE_USE_VERSION */

#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct kmount {
	sqfs_ll ll; /* first: the callbacks get it back as the session's userdata */
	struct fuse_session *se;
	struct fuse_buf buf;
	bool fs_ready;
};

static void silent_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
}

enum { FD_SCAN = 1024 };

/* Mark descriptors opened since `before` close-on-exec: libfuse leaves the auto_unmount
 * socket inheritable, and the app must not keep fusermount3 or /dev/fuse alive. */
static void cloexec_new_fds(const bool before[FD_SCAN])
{
	for (int fd = 3; fd < FD_SCAN; fd++) {
		int flags = fcntl(fd, F_GETFD);
		if (!before[fd] && flags >= 0)
			fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
	}
}

static struct fuse_session *try_mount(struct kmount *m, const char *mountpoint, const char *fsname, bool auto_unmount)
{
	static struct fuse_lowlevel_ops ops = {
		.lookup = sqfs_ll_op_lookup,
		.forget = sqfs_ll_op_forget,
		.getattr = sqfs_ll_op_getattr,
		.readlink = sqfs_ll_op_readlink,
		.open = sqfs_ll_op_open,
		.read = sqfs_ll_op_read,
		.release = sqfs_ll_op_release,
		.opendir = sqfs_ll_op_opendir,
		.readdir = sqfs_ll_op_readdir,
		.releasedir = sqfs_ll_op_releasedir,
		.statfs = stfs_ll_op_statfs,
		.getxattr = sqfs_ll_op_getxattr,
		.listxattr = sqfs_ll_op_listxattr,
		.create = sqfs_ll_op_create,
	};
	char opts[512];
	snprintf(opts, sizeof opts, "ro,nodev,nosuid,subtype=kiln-appimage,fsname=%s%s", fsname,
	         auto_unmount ? ",auto_unmount" : "");
	char *argv[] = {"kiln-appimage", "-o", opts, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);

	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, &m->ll);
	if (se && fuse_session_mount(se, mountpoint) != 0) {
		fuse_session_destroy(se);
		se = NULL;
	}
	fuse_opt_free_args(&args);
	return se;
}

struct kmount *kmount_open(const struct payload *p, const char *mountpoint, const char *fsname, bool quiet)
{
	struct kmount *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	/* squashfuse closes its descriptor when done, so give it its own. */
	int fd = fcntl(p->fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || sqfs_init(&m->ll.fs, fd, (size_t)p->offset) != SQFS_OK) {
		if (fd >= 0)
			close(fd);
		free(m);
		return NULL;
	}
	m->fs_ready = true;
	if (sqfs_ll_init(&m->ll) != SQFS_OK) {
		kmount_close(m);
		return NULL;
	}

	bool before[FD_SCAN];
	for (int i = 0; i < FD_SCAN; i++)
		before[i] = fcntl(i, F_GETFD) >= 0;

	/* libfuse and fusermount3 print their own errors; a failed mount just means "extract". */
	int saved_stderr = -1;
	if (quiet) {
		fuse_set_log_func(silent_log);
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		if (devnull >= 0 && saved_stderr >= 0)
			dup2(devnull, STDERR_FILENO);
		if (devnull >= 0)
			close(devnull);
	}
	/* auto_unmount: fusermount3 removes the mount even if this process is SIGKILLed.
	 * It needs fusermount3, so retry without it when that is missing. */
	m->se = try_mount(m, mountpoint, fsname, true);
	if (!m->se)
		m->se = try_mount(m, mountpoint, fsname, false);
	if (saved_stderr >= 0) {
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
	}
	cloexec_new_fds(before);
	if (!m->se) {
		kmount_close(m);
		return NULL;
	}
	return m;
}

int kmount_fd(const struct kmount *m)
{
	return fuse_session_fd(m->se);
}

int kmount_serve(struct kmount *m)
{
	int res = fuse_session_receive_buf(m->se, &m->buf);
	if (res == -EINTR || res == -EAGAIN)
		return 0;
	if (res <= 0 || fuse_session_exited(m->se))
		return -1;
	fuse_session_process_buf(m->se, &m->buf);
	return 0;
}

void kmount_close(struct kmount *m)
{
	if (m->se) {
		fuse_session_unmount(m->se);
		fuse_session_destroy(m->se);
	}
	if (m->fs_ready)
		sqfs_ll_destroy(&m->ll);
	free(m->buf.mem);
	free(m);
}
