"""du_tree.py - generated file trees for du1..du4's tests and benchmark,
and an independent total to check the tools against.

make_tree(top, nfiles) fills top with nfiles regular files (sizes from 0
bytes to a few MB, made by ftruncate so that they cost no disk: the files
are sparse, and du counts lstat sizes, not blocks) spread over nested
directories of varied depth (one chain 40 levels deep), plus a few of
everything du must get right: symlinks to files, to directories and
dangling ones, hard links, empty directories, and names with spaces,
newlines, a leading dash and bytes that are not UTF-8. Deterministic for
a given seed.

expected(top) walks top independently of the tools (os.walk without
following links, with bytes paths) and returns (files, bytes): every
entry below top that is not a directory, by its lstat size, once per path.
"""
import os
import random
import shutil
import stat
import tempfile


def workdir(prefix="goro-du-"):
    """A new temporary directory for a tree, preferably on a tmpfs
    (/dev/shm): making 50,000 files on a disk file system that other jobs
    keep busy took 25-40 s on the project's machines, against 1-2 s on a
    tmpfs, and sparse files cost a tmpfs no memory. $GORO_DU_TMPDIR
    chooses the place; else /dev/shm when it is writable, else $TMPDIR."""
    where = os.environ.get("GORO_DU_TMPDIR")
    if not where and os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK):
        where = "/dev/shm"
    try:
        return tempfile.mkdtemp(prefix=prefix, dir=where)
    except OSError:
        return tempfile.mkdtemp(prefix=prefix)


def make_tree_anywhere(work, nfiles, **kw):
    """make_tree in work/tree; if the file system of work runs out of
    room or inodes (a small /dev/shm), in a new directory of $TMPDIR
    instead. Returns (work, top, made): the directory to remove at the end
    and the tree's top."""
    top = os.path.join(work, "tree")
    try:
        os.mkdir(top)
        return work, top, make_tree(top, nfiles, **kw)
    except OSError as e:
        print("making the tree in %s failed (%s): trying $TMPDIR" % (work, e))
        shutil.rmtree(work, ignore_errors=True)
        work = tempfile.mkdtemp(prefix="goro-du-")
        top = os.path.join(work, "tree")
        os.mkdir(top)
        return work, top, make_tree(top, nfiles, **kw)


def make_tree(top, nfiles, seed=8, files_per_dir=20):
    """Creates the tree under top (an existing empty directory).
    Returns the number of entries made (regular files and links)."""
    rnd = random.Random(seed)
    topb = os.fsencode(top)
    dirs = [topb]
    ndirs = max(1, nfiles // files_per_dir)
    # Directories: each new one under a random earlier one, so depths vary;
    # then a chain 40 deep.
    odd = [b"with space", b"new\nline", b"-dash", b"caf\xe9", b"tab\there"]
    for i in range(ndirs):
        parent = dirs[rnd.randrange(len(dirs))]
        name = b"d%d" % i if i % 97 else odd[(i // 97) % len(odd)] + b"%d" % i
        path = os.path.join(parent, name)
        os.mkdir(path)
        dirs.append(path)
    chain = topb
    for i in range(40):
        chain = os.path.join(chain, b"deep%d" % i)
        os.mkdir(chain)
        dirs.append(chain)
    # A few empty directories (they stay empty: no file goes in them).
    for i in range(20):
        os.mkdir(os.path.join(dirs[rnd.randrange(len(dirs))], b"empty%d" % i))

    # Regular files: mostly small, some large, all sparse.
    files = []
    made = 0
    for i in range(nfiles - nfiles // 50):
        d = dirs[rnd.randrange(len(dirs))]
        name = b"f%d" % i if i % 211 else odd[(i // 211) % len(odd)] + b"f%d" % i
        path = os.path.join(d, name)
        r = rnd.random()
        if r < 0.05:
            size = 0
        elif r < 0.90:
            size = rnd.randrange(1, 16384)
        elif r < 0.99:
            size = rnd.randrange(16384, 1 << 20)
        else:
            size = rnd.randrange(1 << 20, 8 << 20)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        if size:
            os.ftruncate(fd, size)
        os.close(fd)
        files.append(path)
        made += 1
    # The last 2%: links of every kind, each counted as a path.
    rest = nfiles - made
    for i in range(rest):
        d = dirs[rnd.randrange(len(dirs))]
        kind = i % 4
        if kind == 0:    # hard link to a file: counted again, at this path
            os.link(files[rnd.randrange(len(files))], os.path.join(d, b"hard%d" % i))
        elif kind == 1:  # symlink to a file: its own (lstat) size
            os.symlink(files[rnd.randrange(len(files))], os.path.join(d, b"lf%d" % i))
        elif kind == 2:  # symlink to a directory: counted, never walked into
            os.symlink(dirs[rnd.randrange(len(dirs))], os.path.join(d, b"ld%d" % i))
        else:            # dangling symlink
            os.symlink(b"/nonexistent/target/%d" % i, os.path.join(d, b"dangling%d" % i))
        made += 1
    return made


def expected(top):
    """(files, bytes) below top: non-directories by lstat size, per path."""
    nfiles = nbytes = 0
    for dirpath, dirnames, filenames in os.walk(os.fsencode(top), followlinks=False):
        # os.walk lists a symlink to a directory among dirnames (it does
        # not descend into it): lstat decides for every name.
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if not stat.S_ISDIR(st.st_mode):
                nfiles += 1
                nbytes += st.st_size
    return nfiles, nbytes
