/* Where the runtime's ELF image ends: the squashfs payload is appended exactly there.
 *
 * Rule (the same as app/appimage_format.py and upstream AppImage tools): the largest of
 * the section header table end, the program header table end, every non-NOBITS section
 * end and every segment's file end.
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_exact(int fd, void *buf, size_t len, uint64_t pos)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(pos + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* end = max(end, start + count * size), failing on overflow or past the end of the file. */
static int extend(uint64_t *end, uint64_t start, uint64_t count, uint64_t size, uint64_t file_size)
{
	if (count && size > (UINT64_MAX - start) / count)
		return -1;
	uint64_t stop = start + count * size;
	if (stop > file_size)
		return -1;
	if (stop > *end)
		*end = stop;
	return 0;
}

int elf_end_offset(int fd, uint64_t file_size, uint64_t *end, const char **why)
{
	Elf64_Ehdr eh;

	*end = 0;
	if (read_exact(fd, &eh, sizeof eh, 0) != 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
		*why = "not an ELF file";
		return -1;
	}
	/* The runtime only ever reads itself, an x86_64 (64-bit little-endian) executable. */
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		*why = "not a 64-bit little-endian ELF file";
		return -1;
	}
	if ((eh.e_phnum && eh.e_phentsize != sizeof(Elf64_Phdr)) ||
	    (eh.e_shnum && eh.e_shentsize != sizeof(Elf64_Shdr))) {
		*why = "unexpected ELF header sizes";
		return -1;
	}
	*why = "ELF headers point past the end of the file (truncated?)";
	if (extend(end, 0, 1, sizeof eh, file_size) != 0 ||
	    extend(end, eh.e_phoff, eh.e_phnum, sizeof(Elf64_Phdr), file_size) != 0 ||
	    extend(end, eh.e_shoff, eh.e_shnum, sizeof(Elf64_Shdr), file_size) != 0)
		return -1;

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (read_exact(fd, &ph, sizeof ph, eh.e_phoff + (uint64_t)i * sizeof ph) != 0 ||
		    extend(end, ph.p_offset, 1, ph.p_filesz, file_size) != 0)
			return -1;
	}
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr sh;
		if (read_exact(fd, &sh, sizeof sh, eh.e_shoff + (uint64_t)i * sizeof sh) != 0)
			return -1;
		if (sh.sh_type != SHT_NOBITS && extend(end, sh.sh_offset, 1, sh.sh_size, file_size) != 0)
			return -1;
	}
	*why = NULL;
	return 0;
}
