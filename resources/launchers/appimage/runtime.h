/* Kiln AppImage type-2 runtime: declarations shared by the source files.
 *
 * elf.c      where the runtime's own ELF image ends (= where the squashfs payload starts)
 * payload.c  squashfs checks and extraction (libsquashfs)
 * mount.c    serving the payload over FUSE (squashfuse low-level ops + libfuse3)
 * main.c     command line, environment, cache folder, process handling
 */
#ifndef KILN_RUNTIME_H
#define KILN_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#define KILN_RUNTIME_VERSION "1.3.0"

/* Print "<image name>: <message>" as one line on stderr. */
void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* elf.c: end of the ELF file open on fd (max of header table, section and segment ends).
 * Returns 0, or -1 with *why set to a short reason. */
int elf_end_offset(int fd, uint64_t file_size, uint64_t *end, const char **why);

/* elf.c: the highest N of the "GLIBC_2.N" versions a 64-bit ELF file requires (defs = false: its verneed
 * section) or defines (defs = true: a libc's verdef section); 0 when it has none or is not readable. */
unsigned elf_glibc_minor(const char *path, bool defs);

/* payload.c */
struct payload {
	int fd;             /* the AppImage, opened O_RDONLY */
	uint64_t offset;    /* where the squashfs starts */
	uint64_t size;      /* bytes from offset to end of file */
	uint64_t bytes_used; /* squashfs size according to its superblock */
};

/* Validate the superblock and that the whole squashfs is present. 0, or -1 after report(). */
int payload_check(struct payload *p);

enum {
	EXTRACT_READ_ONLY = 1,   /* no write bits on extracted files (a cached copy, read-only like the mount) */
	EXTRACT_CHECK_SPACE = 2, /* fail before writing when dest's file system cannot hold everything */
};

/* Extract into the existing directory dest. pattern: fnmatch glob on paths relative to the
 * root, or NULL for everything. list_prefix: when non-NULL, print "<list_prefix>/<path>" per entry.
 * flags: EXTRACT_*. 0, or -1 after report(). */
int payload_extract(const struct payload *p, const char *dest, const char *pattern, const char *list_prefix,
                    unsigned flags);

/* mount.c */
struct kmount;

/* Mount the payload read-only at mountpoint. quiet: hide libfuse/fusermount3 messages.
 * NULL when FUSE is unusable (the caller falls back to extraction). */
struct kmount *kmount_open(const struct payload *p, const char *mountpoint, const char *fsname, bool quiet);

/* File descriptor to poll for requests. */
int kmount_fd(const struct kmount *m);

/* Serve one request. 0, or -1 when the filesystem is gone (unmounted from outside). */
int kmount_serve(struct kmount *m);

/* Unmount (lazily, so a crashed app never leaves it behind) and free. */
void kmount_close(struct kmount *m);

#endif
