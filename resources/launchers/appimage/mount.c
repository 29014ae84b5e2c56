/* Serving the payload over FUSE: libsquashfuse_ll's low-level operations on a libfuse3 session.
 *
 * We use squashfuse's exported sqfs_ll_op_* callbacks (the same ones its squashfuse_ll binary
 * uses) but drive the session ourselves, one request at a time, so main.c can wait for the
 * app and serve requests in a single poll() loop without threads.
 *
 * Start-up speed (measured with bench/run.py and a request counter): every start mounts with an
 * empty page cache, so what Python loads is read and decompressed through this loop each time.
 *  - Larger block caches: squashfuse's single-threaded build keeps 1 data block, 3 fragment blocks
 *    and 8 metadata blocks, so interleaved reads of two files (libpython and a module, a module
 *    and its neighbour in the same fragment) decompressed the same blocks again: 2.6x the bytes
 *    Python asked for, against 1.3x with the caches below (a few MB of memory).
 *  - No OPEN/RELEASE requests (FUSE_CAP_NO_OPEN_SUPPORT): answering open with ENOSYS tells the
 *    kernel that opens need no round trip; reads then find the inode by number. A third fewer
 *    requests for a console app.
 *  - Heap, not mmap, for block buffers: squashfuse mallocs a block-sized buffer per read and per
 *    decompressed block; above glibc's mmap threshold each was a fresh zeroed mapping (page faults
 *    on every request).
 *  - One zstd context for all blocks instead of a new one per block (squashfuse's ZSTD_decompress).
 */
#define _GNU_SOURCE
#include <squashfuse/ll.h> /* first: its config.h sets FUSE_USE_VERSION */

#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define CACHE_BUDGET (16u << 20) /* decompressed bytes the data block cache may hold */

struct kmount {
	sqfs_ll ll; /* first: the callbacks get it back as the session's userdata */
	struct fuse_session *se;
	struct fuse_buf buf;
	bool fs_ready;
};

static ZSTD_DCtx *g_zstd;

static sqfs_err zstd_reusing_context(void *in, size_t insz, void *out, size_t *outsz)
{
	size_t n = ZSTD_decompressDCtx(g_zstd, out, *outsz, in, insz);
	if (ZSTD_isError(n))
		return SQFS_ERR;
	*outsz = n;
	return SQFS_OK;
}

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

/* Cache sizes in blocks (fragment blocks are up to the image's block size, 128 KiB by default;
 * metadata blocks 8 KiB): enough for what an app touches while starting (data blocks: CACHE_BUDGET).
 * Memory is taken only as blocks are filled. */
enum { FRAGMENT_BLOCKS = 128, METADATA_BLOCKS = 256 };

static bool resize_caches(sqfs *fs)
{
	size_t block = fs->sb.block_size ? fs->sb.block_size : 131072;
	size_t data_blocks = CACHE_BUDGET / block < 16 ? 16 : CACHE_BUDGET / block;
	sqfs_cache_destroy(&fs->data_cache);
	sqfs_cache_destroy(&fs->frag_cache);
	sqfs_cache_destroy(&fs->md_cache);
	memset(&fs->data_cache, 0, sizeof fs->data_cache);
	memset(&fs->frag_cache, 0, sizeof fs->frag_cache);
	memset(&fs->md_cache, 0, sizeof fs->md_cache);
	return sqfs_block_cache_init(&fs->data_cache, data_blocks) == SQFS_OK &&
	       sqfs_block_cache_init(&fs->frag_cache, FRAGMENT_BLOCKS) == SQFS_OK &&
	       sqfs_block_cache_init(&fs->md_cache, METADATA_BLOCKS) == SQFS_OK;
}

static bool g_no_open; /* the kernel takes ENOSYS from open as "no opens needed" (Linux 4.19+) */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	g_no_open = (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) != 0;
}

/* Opens need no state: the kernel stops sending OPEN and RELEASE after the first ENOSYS. Older
 * kernels would fail the open with ENOSYS, so they get squashfuse's own open. */
static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (g_no_open)
		fuse_reply_err(req, ENOSYS);
	else
		sqfs_ll_op_open(req, ino, fi);
}

/* squashfuse's read expects the inode its open stored in fi->fh; without opens, look it up by number
 * (its metadata block is in the cache after the lookup that preceded the read). */
static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	sqfs_ll *ll = fuse_req_userdata(req);
	sqfs_inode inode;
	if (fi->fh != 0) {
		inode = *(sqfs_inode *)(intptr_t)fi->fh;
	} else {
		sqfs_ll_i lli;
		if (sqfs_ll_iget(req, &lli, ino) != SQFS_OK)
			return; /* it replied with the error */
		inode = lli.inode;
	}
	char *buf = malloc(size);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	sqfs_off_t got = (sqfs_off_t)size;
	if (sqfs_read_range(&ll->fs, &inode, off, &got, buf) != SQFS_OK)
		fuse_reply_err(req, EIO);
	else
		fuse_reply_buf(req, buf, (size_t)got);
	free(buf);
}

static struct fuse_session *try_mount(struct kmount *m, const char *mountpoint, const char *fsname, bool auto_unmount)
{
	static struct fuse_lowlevel_ops ops = {
		.init = op_init,
		.lookup = sqfs_ll_op_lookup,
		.forget = sqfs_ll_op_forget,
		.getattr = sqfs_ll_op_getattr,
		.readlink = sqfs_ll_op_readlink,
		.open = op_open,
		.read = op_read,
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
	mallopt(M_MMAP_THRESHOLD, 4 << 20); /* block buffers from the heap, reused (see the top) */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	if (!resize_caches(&m->ll.fs)) {
		kmount_close(m);
		return NULL;
	}
	if (m->ll.fs.sb.compression == ZSTD_COMPRESSION && (g_zstd = ZSTD_createDCtx()) != NULL)
		m->ll.fs.decompressor = zstd_reusing_context;
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
	if (g_zstd != NULL) {
		ZSTD_freeDCtx(g_zstd);
		g_zstd = NULL;
	}
	free(m);
}
