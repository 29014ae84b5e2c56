/* The squashfs payload through libsquashfs: validity checks and safe extraction.
 *
 * Extraction works relative to directory file descriptors and never follows a symlink
 * (O_NOFOLLOW everywhere), and every name is checked, so a hostile image cannot write
 * outside the target directory even with "..", "/" or symlink tricks.
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/super.h>

/* A read-only sqfs_file_t window onto the AppImage, starting at the payload offset. */
struct window {
	sqfs_file_t base;
	int fd;
	uint64_t start, size;
};

static int window_read_at(sqfs_file_t *file, sqfs_u64 off, void *buf, size_t len)
{
	struct window *w = (struct window *)file;
	if (off > w->size || len > w->size - off)
		return SQFS_ERROR_OUT_OF_BOUNDS;
	while (len > 0) {
		ssize_t n = pread(w->fd, buf, len, (off_t)(w->start + off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return SQFS_ERROR_IO;
		if (n == 0)
			return SQFS_ERROR_OUT_OF_BOUNDS;
		buf = (char *)buf + n;
		off += (sqfs_u64)n;
		len -= (size_t)n;
	}
	return 0;
}

static int window_write_at(sqfs_file_t *file, sqfs_u64 off, const void *buf, size_t len)
{
	(void)file, (void)off, (void)buf, (void)len;
	return SQFS_ERROR_UNSUPPORTED;
}

static sqfs_u64 window_get_size(const sqfs_file_t *file)
{
	return ((const struct window *)file)->size;
}

static int window_truncate(sqfs_file_t *file, sqfs_u64 size)
{
	(void)file, (void)size;
	return SQFS_ERROR_UNSUPPORTED;
}

static void window_destroy(sqfs_object_t *obj)
{
	(void)obj; /* lives on the stack */
}

static sqfs_object_t *window_copy(const sqfs_object_t *obj)
{
	(void)obj;
	return NULL;
}

static void window_init(struct window *w, const struct payload *p)
{
	memset(w, 0, sizeof *w);
	w->base.base.destroy = window_destroy;
	w->base.base.copy = window_copy;
	w->base.read_at = window_read_at;
	w->base.write_at = window_write_at;
	w->base.get_size = window_get_size;
	w->base.truncate = window_truncate;
	w->fd = p->fd;
	w->start = p->offset;
	w->size = p->size;
}

static const char *sqfs_strerror(int err)
{
	switch (err) {
	case SQFS_ERROR_ALLOC: return "out of memory";
	case SQFS_ERROR_IO: return "read error";
	case SQFS_ERROR_COMPRESSOR: return "decompression failed (corrupt data)";
	case SQFS_ERROR_CORRUPTED: return "corrupt filesystem";
	case SQFS_ERROR_UNSUPPORTED: return "unsupported squashfs feature or compressor";
	case SQFS_ERROR_OVERFLOW: return "numeric overflow (corrupt filesystem)";
	case SQFS_ERROR_OUT_OF_BOUNDS: return "data past the end of the file (truncated?)";
	case -9: /* bad superblock magic (the enum name is misspelled in some versions) */
		return "no squashfs found at the payload offset";
	case -10: /* unsupported version */
		return "unsupported squashfs version";
	case SQFS_ERROR_SUPER_BLOCK_SIZE: return "invalid block size in the superblock";
	case SQFS_ERROR_LINK_LOOP: return "directory loop (corrupt filesystem)";
	default: return "corrupt filesystem";
	}
}

int payload_check(struct payload *p)
{
	struct window w;
	sqfs_super_t super;

	window_init(&w, p);
	int err = sqfs_super_read(&super, &w.base);
	if (err == 0 && super.bytes_used > p->size)
		err = SQFS_ERROR_OUT_OF_BOUNDS;
	if (err != 0) {
		report("the AppImage is damaged or incomplete: %s; download or build it again", sqfs_strerror(err));
		return -1;
	}
	p->bytes_used = super.bytes_used;
	return 0;
}

struct extractor {
	sqfs_data_reader_t *data;
	const char *pattern;
	const char *list_prefix;
	size_t block_size;
	unsigned char *buf;
	mode_t drop; /* permission bits taken away from files (EXTRACT_READ_ONLY: the write bits) */
	char path[PATH_MAX]; /* relative path of the current node */
};

/* A squashfs name is one path component: not empty, not "." or "..", without '/'. */
static bool name_is_safe(const char *name)
{
	return name[0] != '\0' && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 && strchr(name, '/') == NULL;
}

static bool is_dir(const sqfs_tree_node_t *n)
{
	return S_ISDIR(n->inode->base.mode);
}

/* Append "/name" (or just "name" at the root) to x->path, which is len long. */
static bool push_name(struct extractor *x, size_t len, const char *name)
{
	size_t name_len = strlen(name);
	if (len + 1 + name_len >= sizeof x->path)
		return false;
	char *dst = x->path + len;
	if (len)
		*dst++ = '/';
	memcpy(dst, name, name_len + 1);
	return true;
}

static bool matches(const struct extractor *x)
{
	return x->pattern == NULL || fnmatch(x->pattern, x->path, 0) == 0;
}

/* True when this node or anything below it matches the pattern (x->path is this node's path). */
static bool wanted(struct extractor *x, const sqfs_tree_node_t *n)
{
	if (matches(x))
		return true;
	if (!is_dir(n))
		return false;
	size_t len = strlen(x->path);
	bool found = false;
	for (const sqfs_tree_node_t *c = n->children; c && !found; c = c->next)
		found = push_name(x, len, (const char *)c->name) && wanted(x, c);
	x->path[len] = '\0';
	return found;
}

/* Permission bits to restore; set-id bits are dropped so extracting as root never creates them. */
static mode_t restored_mode(const struct extractor *x, const sqfs_tree_node_t *n)
{
	/* Folders keep their write bit, so `rm -rf` of a cache folder works for its owner. */
	return n->inode->base.mode & 01777 & (is_dir(n) ? (mode_t)01777 : ~x->drop);
}

static void set_times(int dirfd, const char *name, int fd, const sqfs_tree_node_t *n)
{
	struct timespec ts[2] = {{.tv_sec = n->inode->base.mod_time}, {.tv_sec = n->inode->base.mod_time}};
	/* Same mtimes as the mounted image, so bundled .pyc files stay valid. */
	if (fd >= 0)
		futimens(fd, ts);
	else
		utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW);
}

/* Remove whatever non-directory sits at name (from an earlier extraction). */
static int clear_slot(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	return -1;
}

static int open_dir(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0755) != 0 && errno == EEXIST) {
		struct stat st;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) &&
		    clear_slot(dirfd, name) == 0)
			mkdirat(dirfd, name, 0755);
	}
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int write_file(struct extractor *x, int dirfd, const char *name, const sqfs_tree_node_t *n)
{
	sqfs_u64 size = 0, off = 0;
	if (sqfs_inode_get_file_size(n->inode, &size) != 0 || clear_slot(dirfd, name) != 0)
		return SQFS_ERROR_IO;
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return SQFS_ERROR_IO;
	int err = 0;
	while (err == 0 && off < size) {
		sqfs_u32 want = (size - off) < x->block_size ? (sqfs_u32)(size - off) : (sqfs_u32)x->block_size;
		sqfs_s32 got = sqfs_data_reader_read(x->data, n->inode, off, x->buf, want);
		if (got <= 0) {
			err = got < 0 ? got : SQFS_ERROR_CORRUPTED;
			break;
		}
		for (sqfs_s32 done = 0; done < got;) {
			ssize_t w = write(fd, x->buf + done, (size_t)(got - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				err = SQFS_ERROR_IO;
				break;
			}
			done += (sqfs_s32)w;
		}
		off += (sqfs_u64)got;
	}
	if (err == 0 && (fchmod(fd, restored_mode(x, n)) != 0))
		err = SQFS_ERROR_IO;
	if (err == 0)
		set_times(dirfd, name, fd, n);
	if (close(fd) != 0 && err == 0)
		err = SQFS_ERROR_IO;
	return err;
}

static int make_symlink(int dirfd, const char *name, const sqfs_tree_node_t *n)
{
	size_t len = n->inode->data.slink.target_size;
	if (len == 0 || len >= PATH_MAX)
		return SQFS_ERROR_CORRUPTED;
	char target[PATH_MAX];
	memcpy(target, n->inode->extra, len);
	target[len] = '\0';
	if (clear_slot(dirfd, name) != 0 || symlinkat(target, dirfd, name) != 0)
		return SQFS_ERROR_IO;
	set_times(dirfd, name, -1, n);
	return 0;
}

/* Extract the children of dir into dirfd. Returns 0 or -1 (already reported). */
static int extract_children(struct extractor *x, const sqfs_tree_node_t *dir, int dirfd)
{
	size_t len = strlen(x->path);
	for (const sqfs_tree_node_t *n = dir->children; n; n = n->next) {
		const char *name = (const char *)n->name;
		if (!name_is_safe(name)) {
			report("refusing to extract unsafe path '%s%s%s' (corrupt or malicious AppImage)", x->path,
			       len ? "/" : "", name);
			return -1;
		}
		if (!push_name(x, len, name)) {
			report("path too long in AppImage: %s/%s", x->path, name);
			return -1;
		}

		int err = 0;
		bool match = matches(x);
		if (x->list_prefix && match)
			printf("%s/%s\n", x->list_prefix, x->path);
		if (is_dir(n)) {
			if (match || wanted(x, n)) {
				int fd = open_dir(dirfd, name);
				if (fd < 0)
					err = SQFS_ERROR_IO;
				else if (extract_children(x, n, fd) != 0) {
					close(fd);
					return -1;
				}
				/* Mode last: a read-only directory must still take its children. */
				if (fd >= 0 && match && fchmod(fd, restored_mode(x, n)) == 0)
					set_times(dirfd, name, fd, n);
				if (fd >= 0)
					close(fd);
			}
		} else if (match && S_ISREG(n->inode->base.mode)) {
			err = write_file(x, dirfd, name, n);
		} else if (match && S_ISLNK(n->inode->base.mode)) {
			err = make_symlink(dirfd, name, n);
		}
		if (err != 0) {
			if (err == SQFS_ERROR_IO)
				report("cannot extract %s: %s", x->path, strerror(errno));
			else
				report("cannot extract %s: %s", x->path, sqfs_strerror(err));
			return -1;
		}
		x->path[len] = '\0';
	}
	return 0;
}

/* Bytes the regular files below n take, in whole blocks of `block`. */
static uint64_t tree_bytes(const sqfs_tree_node_t *n, uint64_t block)
{
	uint64_t total = 0;
	sqfs_u64 size = 0;
	if (S_ISREG(n->inode->base.mode) && sqfs_inode_get_file_size(n->inode, &size) == 0)
		total += (size + block - 1) / block * block;
	for (const sqfs_tree_node_t *c = n->children; c; c = c->next)
		total += tree_bytes(c, block);
	return total + block; /* the entry itself */
}

/* 0 when the file system of dest has room for the whole payload and an eighth to spare, else -1 (reported). */
static int check_space(const char *dest, const sqfs_tree_node_t *root)
{
	struct statvfs fs;
	if (statvfs(dest, &fs) != 0 || fs.f_frsize == 0)
		return 0; /* cannot tell: let the writes decide */
	uint64_t need = tree_bytes(root, fs.f_frsize), have = (uint64_t)fs.f_bavail * fs.f_frsize;
	if (have - have / 8 >= need)
		return 0;
	report("not enough free space for the app's files in %s (%llu MB needed, %llu MB free)", dest,
	       (unsigned long long)(need >> 20), (unsigned long long)(have >> 20));
	return -1;
}

int payload_extract(const struct payload *p, const char *dest, const char *pattern, const char *list_prefix,
                    unsigned flags)
{
	struct window w;
	sqfs_super_t super;
	sqfs_compressor_config_t cfg;
	sqfs_compressor_t *cmp = NULL;
	sqfs_id_table_t *ids = NULL;
	sqfs_dir_reader_t *dr = NULL;
	struct extractor x = {.pattern = pattern, .list_prefix = list_prefix,
	                      .drop = (flags & EXTRACT_READ_ONLY) ? 0222 : 0};
	sqfs_tree_node_t *root = NULL;
	int rootfd = -1, ret = -1, err;

	window_init(&w, p);
	if ((err = sqfs_super_read(&super, &w.base)) != 0 ||
	    (err = sqfs_compressor_config_init(&cfg, (SQFS_COMPRESSOR)super.compression_id, super.block_size,
	                                       SQFS_COMP_FLAG_UNCOMPRESS)) != 0 ||
	    (err = sqfs_compressor_create(&cfg, &cmp)) != 0)
		goto fail;
	err = SQFS_ERROR_ALLOC;
	if (!(ids = sqfs_id_table_create(0)) || !(dr = sqfs_dir_reader_create(&super, cmp, &w.base, 0)) ||
	    !(x.data = sqfs_data_reader_create(&w.base, super.block_size, cmp, 0)) ||
	    !(x.buf = malloc(super.block_size)))
		goto fail;
	x.block_size = super.block_size;
	if ((err = sqfs_id_table_read(ids, &w.base, &super, cmp)) != 0 ||
	    (err = sqfs_data_reader_load_fragment_table(x.data, &super)) != 0 ||
	    (err = sqfs_dir_reader_get_full_hierarchy(dr, ids, NULL, SQFS_TREE_NO_DEVICES | SQFS_TREE_NO_SOCKETS |
	                                                                 SQFS_TREE_NO_FIFO, &root)) != 0)
		goto fail;

	rootfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		report("cannot open %s: %s", dest, strerror(errno));
		goto out;
	}
	if ((flags & EXTRACT_CHECK_SPACE) && check_space(dest, root) != 0)
		goto out;
	if (extract_children(&x, root, rootfd) != 0)
		goto out;
	if (pattern == NULL)
		fchmod(rootfd, restored_mode(&x, root));
	ret = 0;
	goto out;
fail:
	report("cannot read the AppImage payload: %s", sqfs_strerror(err));
out:
	if (rootfd >= 0)
		close(rootfd);
	sqfs_dir_tree_destroy(root);
	free(x.buf);
	sqfs_destroy(x.data);
	sqfs_destroy(dr);
	sqfs_destroy(ids);
	sqfs_destroy(cmp);
	return ret;
}
