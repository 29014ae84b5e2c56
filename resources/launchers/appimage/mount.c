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
 *  - READDIRPLUS: a folder's listing carries each entry's attributes, so the files Python's importer
 *    opens after listing a sys.path folder need no LOOKUP (hello: 258 lookups became 91).
 *  - Heap, not mmap, for block buffers: squashfuse mallocs a block-sized buffer per read and per
 *    decompressed block; above glibc's mmap threshold each was a fresh zeroed mapping (page faults
 *    on every request).
 *  - One zstd context per thread instead of a new one per block (squashfuse's ZSTD_decompress).
 *  - Pushing large files ahead (with two or more CPUs): the loader faults a library in one window
 *    at a time, each a round trip that waits for a block to be decompressed. When the app first
 *    reads a library-sized file, a second thread, with its own view of the image and a lower
 *    priority, decompresses the whole file and stores it in the kernel's page cache
 *    (fuse_lowlevel_notify_store), so most of the app's later faults on it never reach us.
 *    Memory stays with the kernel (reclaimable page cache), not with this process.
 */
#define _GNU_SOURCE
#include <squashfuse/ll.h> /* first: its config.h sets FUSE_USE_VERSION */

#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zstd.h>

#define CACHE_BUDGET (16u << 20) /* decompressed bytes the data block cache may hold */

enum { PUSH_QUEUE = 64, PUSH_SEEN = 512 };
#define PUSH_MIN_FILE (256u << 10) /* smaller files are read in one or two requests anyway */
#define PUSH_MAX_FILE (16u << 20)  /* larger ones (ICU's data) are mostly read sparsely */

struct push_job {
	fuse_ino_t ino;
	sqfs_inode inode;
};

/* The push-ahead thread and what it shares with the serving loop (queue under `lock`). */
struct pusher {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct push_job queue[PUSH_QUEUE];
	size_t head, tail;
	atomic_bool stop;
	sqfs fs; /* the thread's own view of the image: squashfuse's caches are not thread-safe */
	bool fs_ready;
	bool tried;     /* started lazily, at the first file worth pushing: after the app was forked */
	int image_fd;   /* the AppImage, and where its squashfs starts */
	size_t offset;
	struct fuse_session *se;
	fuse_ino_t seen[PUSH_SEEN]; /* files already queued; the serving loop's alone */
	size_t seen_count;
};

struct kmount {
	sqfs_ll ll; /* first: the callbacks get it back as the session's userdata */
	struct fuse_session *se;
	struct fuse_buf buf;
	bool fs_ready;
	struct pusher push;
};

static _Thread_local ZSTD_DCtx *t_zstd;

static sqfs_err zstd_reusing_context(void *in, size_t insz, void *out, size_t *outsz)
{
	if (t_zstd == NULL && (t_zstd = ZSTD_createDCtx()) == NULL)
		return SQFS_ERR;
	size_t n = ZSTD_decompressDCtx(t_zstd, out, *outsz, in, insz);
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

/* Decompress each queued file and store it in the kernel's page cache, block by block. */
static void *push_ahead(void *arg)
{
	struct pusher *p = arg;
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10); /* the serving loop comes first */
	size_t block = p->fs.sb.block_size;
	char *buf = malloc(block);
	while (buf != NULL) {
		pthread_mutex_lock(&p->lock);
		while (p->head == p->tail && !atomic_load(&p->stop))
			pthread_cond_wait(&p->wake, &p->lock);
		if (atomic_load(&p->stop)) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		struct push_job job = p->queue[p->head++ % PUSH_QUEUE];
		pthread_mutex_unlock(&p->lock);
		sqfs_off_t size = (sqfs_off_t)job.inode.xtra.reg.file_size;
		for (sqfs_off_t off = 0; off < size && !atomic_load(&p->stop); off += (sqfs_off_t)block) {
			sqfs_off_t got = (sqfs_off_t)block;
			if (sqfs_read_range(&p->fs, &job.inode, off, &got, buf) != SQFS_OK || got <= 0)
				break;
			struct fuse_bufvec data = FUSE_BUFVEC_INIT((size_t)got);
			data.buf[0].mem = buf;
			if (fuse_lowlevel_notify_store(p->se, job.ino, (off_t)off, &data, 0) != 0)
				break; /* the kernel forgot the inode, or the mount is going away */
		}
	}
	free(buf);
	if (t_zstd != NULL)
		ZSTD_freeDCtx(t_zstd);
	return NULL;
}

/* With two or more CPUs: a second view of the image and the thread that pushes files ahead. */
static void push_start(struct kmount *m)
{
	struct pusher *p = &m->push;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	int fd = fcntl(p->image_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return;
	if (sqfs_init(&p->fs, fd, p->offset) != SQFS_OK) {
		close(fd);
		return;
	}
	p->fs_ready = true;
	if (p->fs.sb.compression == ZSTD_COMPRESSION)
		p->fs.decompressor = zstd_reusing_context;
	p->se = m->se;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	atomic_init(&p->stop, false);
	p->started = pthread_create(&p->thread, NULL, push_ahead, p) == 0;
}

/* Stop the thread; false when it did not end within a second. It can only be stuck storing a page that a
 * process still using the mount (the app's left-over child) is waiting to read from us: closing the session
 * then fails that read and frees the thread, which must still find its state (the caller keeps it). */
static bool push_stop(struct pusher *p)
{
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		atomic_store(&p->stop, true);
		pthread_cond_signal(&p->wake);
		pthread_mutex_unlock(&p->lock);
		struct timespec deadline;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 1;
		if (pthread_timedjoin_np(p->thread, NULL, &deadline) != 0)
			return false;
		p->started = false;
	}
	if (p->fs_ready)
		sqfs_destroy(&p->fs);
	p->fs_ready = false;
	return true;
}

/* Queue a library-sized regular file the app started reading, once. */
static void push_file(struct kmount *m, fuse_ino_t ino, const sqfs_inode *inode)
{
	struct pusher *p = &m->push;
	uint64_t size = inode->xtra.reg.file_size;
	bool regular = inode->base.inode_type == SQUASHFS_REG_TYPE || inode->base.inode_type == SQUASHFS_LREG_TYPE;
	if (!regular || size < PUSH_MIN_FILE || size > PUSH_MAX_FILE || p->seen_count == PUSH_SEEN)
		return;
	if (!p->tried) {
		p->tried = true;
		push_start(m);
	}
	if (!p->started)
		return;
	for (size_t i = 0; i < p->seen_count; i++)
		if (p->seen[i] == ino)
			return;
	p->seen[p->seen_count++] = ino;
	pthread_mutex_lock(&p->lock);
	if (p->tail - p->head < PUSH_QUEUE) {
		p->queue[p->tail++ % PUSH_QUEUE] = (struct push_job){.ino = ino, .inode = *inode};
		pthread_cond_signal(&p->wake);
	}
	pthread_mutex_unlock(&p->lock);
}

/* squashfuse's read expects the inode its open stored in fi->fh; without opens, look it up by number
 * (its metadata block is in the cache after the lookup that preceded the read). */
static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct kmount *m = fuse_req_userdata(req);
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
	if (sqfs_read_range(&m->ll.fs, &inode, off, &got, buf) != SQFS_OK) {
		fuse_reply_err(req, EIO);
	} else {
		fuse_reply_buf(req, buf, (size_t)got);
		push_file(m, ino, &inode);
	}
	free(buf);
}

/* Not in squashfuse's installed headers, exported by its library (stat.c). */
sqfs_err sqfs_stat(sqfs *fs, sqfs_inode *inode, struct stat *st);

/* readdir with each entry's attributes: the kernel caches the entries as looked up, so a program that lists a
 * folder and then opens files in it (Python's importer does exactly that for every folder on sys.path) needs
 * no LOOKUP round trip per file. The image never changes, so the entries never expire. */
static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	sqfs_ll_i *lli = (sqfs_ll_i *)(intptr_t)fi->fh;
	sqfs *fs = &lli->ll->fs;
	sqfs_dir dir;
	if (sqfs_dir_open(fs, &lli->inode, &dir, off) != SQFS_OK) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	char *buf = malloc(size);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	sqfs_name name;
	sqfs_dir_entry entry;
	sqfs_err err = SQFS_OK;
	size_t used = 0;
	sqfs_dentry_init(&entry, name);
	while (sqfs_dir_next(fs, &dir, &entry, &err)) {
		struct fuse_entry_param param;
		sqfs_inode inode;
		memset(&param, 0, sizeof param);
		if (sqfs_inode_get(fs, &inode, sqfs_dentry_inode(&entry)) != SQFS_OK ||
		    sqfs_stat(fs, &inode, &param.attr) != SQFS_OK) {
			err = SQFS_ERR;
			break;
		}
		param.ino = lli->ll->ino_register(lli->ll, &entry);
		param.attr.st_ino = param.ino;
		param.attr_timeout = param.entry_timeout = DBL_MAX;
		size_t want = fuse_add_direntry_plus(req, buf + used, size - used, sqfs_dentry_name(&entry), &param,
		                                     sqfs_dentry_next_offset(&entry));
		if (want > size - used) {
			lli->ll->ino_forget(lli->ll, param.ino, 1); /* not sent: the kernel never counted it */
			break;
		}
		used += want;
	}
	if (err != SQFS_OK)
		fuse_reply_err(req, EIO);
	else
		fuse_reply_buf(req, buf, used);
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
		.readdirplus = op_readdirplus,
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
	m->push.image_fd = p->fd;
	m->push.offset = (size_t)p->offset;
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
	if (m->ll.fs.sb.compression == ZSTD_COMPRESSION)
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
	bool stopped = push_stop(&m->push); /* before the session: the thread writes to it */
	if (m->se) {
		fuse_session_unmount(m->se);
		fuse_session_destroy(m->se);
	}
	if (m->fs_ready)
		sqfs_ll_destroy(&m->ll);
	free(m->buf.mem);
	if (t_zstd != NULL) {
		ZSTD_freeDCtx(t_zstd);
		t_zstd = NULL;
	}
	if (stopped)
		free(m); /* else the thread may still wake up in it; the runtime exits next anyway */
}
